//! `stsgate simulate`: evaluate policy files against actions, resources and context keys, like
//! `aws iam simulate-custom-policy`, and explain each decision.

use serde_json::{Value, json};

use super::context::RequestContext;
use super::document::{PolicyKind, PrincipalArn, parse_principal_arn};
use super::evaluate::{CompiledPolicy, Evaluation, Principal, PrincipalKind, decide};

/// Policy files by role in the evaluation, plus what to evaluate.
#[derive(Debug, Default, Clone)]
pub struct SimulateInput {
    /// (name, text) of identity policies.
    pub policies: Vec<(String, String)>,
    pub session_policies: Vec<(String, String)>,
    pub boundary: Option<(String, String)>,
    pub resource_policy: Option<(String, String)>,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// `key=type:value[,value]` entries.
    pub context: Vec<String>,
    /// The caller's ARN (user, role session or root), for `Principal` matching.
    pub caller: Option<String>,
}

fn compile(list: &[(String, String)], kind: PolicyKind) -> Result<Vec<CompiledPolicy>, String> {
    list.iter()
        .map(|(name, text)| {
            CompiledPolicy::parse(name.clone(), text, kind)
                .map_err(|e| format!("{name}: MalformedPolicyDocument: {e}"))
        })
        .collect()
}

/// Parses `key=type:value[,value]`. List types (`stringList`, …) are multi-valued.
pub fn parse_context_entry(entry: &str, ctx: &mut RequestContext) -> Result<(), String> {
    let (key, typed) = entry
        .split_once('=')
        .ok_or_else(|| format!("--context {entry}: expected key=type:value"))?;
    let (ty, value) = typed.split_once(':').unwrap_or(("string", typed));
    let scalar = ["string", "numeric", "boolean", "date", "ip", "binary"];
    let list = [
        "stringList",
        "numericList",
        "booleanList",
        "dateList",
        "ipList",
        "binaryList",
    ];
    if key.is_empty() {
        return Err(format!("--context {entry}: the key is empty"));
    }
    if scalar.contains(&ty) {
        ctx.set(key.to_string(), value);
    } else if list.contains(&ty) {
        ctx.set_multi(
            key.to_string(),
            if value.is_empty() {
                vec![]
            } else {
                value.split(',').map(str::to_string).collect()
            },
        );
    } else {
        return Err(format!(
            "--context {entry}: unknown type '{ty}' (string, numeric, boolean, date, ip, binary, or their …List forms)"
        ));
    }
    Ok(())
}

fn caller_principal(arn: &str) -> Result<Principal, String> {
    if arn == "anonymous" {
        return Ok(Principal::anonymous());
    }
    let parsed = parse_principal_arn(arn)
        .ok_or_else(|| format!("--caller {arn}: not a user, role session or root ARN"))?;
    let (account, kind) = match parsed {
        PrincipalArn::Root { account } => (account, PrincipalKind::Root),
        PrincipalArn::User { account, .. } => (account, PrincipalKind::User),
        PrincipalArn::AssumedRole { account, role, .. } => (
            account,
            PrincipalKind::AssumedRole {
                role_arn: format!("arn:aws:iam::{account}:role/{role}"),
            },
        ),
        PrincipalArn::FederatedUser { account, .. } => (account, PrincipalKind::FederatedUser),
        PrincipalArn::Role { .. } => {
            return Err(format!(
                "--caller {arn}: a role cannot call; give a session ARN (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION)"
            ));
        }
    };
    Ok(Principal {
        arn: arn.to_string(),
        account: account.to_string(),
        unique_id: String::new(),
        kind,
    })
}

/// Evaluates every (action, resource) pair. `Err` for malformed input (exit 64).
pub fn simulate(input: &SimulateInput) -> Result<Vec<Value>, String> {
    let identity = compile(&input.policies, PolicyKind::Identity)?;
    let session = compile(&input.session_policies, PolicyKind::Session)?;
    let boundary = input
        .boundary
        .as_ref()
        .map(|b| compile(std::slice::from_ref(b), PolicyKind::Boundary))
        .transpose()?;
    let resource = input
        .resource_policy
        .as_ref()
        .map(|r| compile(std::slice::from_ref(r), PolicyKind::Resource))
        .transpose()?;
    let caller = input.caller.as_deref().map(caller_principal).transpose()?;
    if input.actions.is_empty() {
        return Err("give at least one --action".into());
    }
    let identity_refs: Vec<&CompiledPolicy> = identity.iter().collect();
    let session_refs: Vec<&CompiledPolicy> = session.iter().collect();
    let eval = Evaluation {
        identity: &identity_refs,
        boundary: boundary.as_ref().and_then(|b| b.first()),
        session: (!session_refs.is_empty()).then_some(&session_refs[..]),
        resource: resource.as_ref().and_then(|r| r.first()),
        principal: caller.as_ref(),
    };
    let resources = if input.resources.is_empty() {
        vec!["*".to_string()]
    } else {
        input.resources.clone()
    };
    let mut out = Vec::new();
    for action in &input.actions {
        for res in &resources {
            let mut ctx = RequestContext::new(action.clone(), res.clone());
            for entry in &input.context {
                parse_context_entry(entry, &mut ctx)?;
            }
            let outcome = decide(&eval, &ctx);
            let matched: Vec<Value> = outcome
                .matched
                .iter()
                .map(|m| json!({"policy": &*m.policy, "type": m.kind.label(), "sid": m.sid, "statementIndex": m.index, "effect": if m.effect == super::Effect::Allow { "Allow" } else { "Deny" }}))
                .collect();
            let mut line = json!({"action": action, "resource": res, "decision": outcome.decision.as_str(), "matchedStatements": matched});
            if !outcome.is_allowed() {
                line["reason"] = json!(outcome.reason(action));
            }
            out.push(line);
        }
    }
    Ok(out)
}

//! The IAM policy document model and its parser.
//!
//! Parsing is strict in the ways IAM is strict (unknown or duplicate fields, bad `Effect`,
//! `Principal` where it is not allowed, partial wildcards in principals) and every error names the
//! statement and field so an operator can act on it. Evaluation lives elsewhere; this module only
//! turns text into a checked document.

use std::fmt;

use super::json::Json;

/// Where a policy document is used; the grammar differs slightly between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a user or role (inline or managed).
    Identity,
    /// Attached to a resource (a bucket policy, for example); needs `Principal`.
    Resource,
    /// A role's trust policy: needs `Principal`, has no `Resource`.
    Trust,
    /// Passed with `AssumeRole` (`Policy` / `PolicyArns`); can only narrow a session.
    Session,
    /// A permissions boundary on a user or role.
    Boundary,
}

impl PolicyKind {
    /// The name AWS uses in "because no <type> policy allows …" messages.
    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity-based",
            PolicyKind::Resource => "resource-based",
            PolicyKind::Trust => "role trust",
            PolicyKind::Session => "session",
            PolicyKind::Boundary => "permissions boundary",
        }
    }

    fn needs_principal(self) -> bool {
        matches!(self, PolicyKind::Resource | PolicyKind::Trust)
    }
}

/// The policy language version. Policy variables are only substituted under `2012-10-17`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: patterns plus whether the list is negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternList {
    pub negated: bool,
    pub patterns: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    Aws,
    Service,
    Federated,
    CanonicalUser,
}

impl PrincipalType {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::Aws => "AWS",
            PrincipalType::Service => "Service",
            PrincipalType::Federated => "Federated",
            PrincipalType::CanonicalUser => "CanonicalUser",
        }
    }
}

/// `Principal`/`NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principals {
    pub negated: bool,
    /// `None` for the bare `"*"` form.
    pub entries: Option<Vec<(PrincipalType, Vec<String>)>>,
}

/// `ForAllValues:` / `ForAnyValue:` in front of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    ForAllValues,
    ForAnyValue,
}

/// Every base condition operator IAM defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const BASE_OPERATORS: &[(&str, BaseOperator)] = &[
    ("StringEquals", BaseOperator::StringEquals),
    ("StringNotEquals", BaseOperator::StringNotEquals),
    (
        "StringEqualsIgnoreCase",
        BaseOperator::StringEqualsIgnoreCase,
    ),
    (
        "StringNotEqualsIgnoreCase",
        BaseOperator::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", BaseOperator::StringLike),
    ("StringNotLike", BaseOperator::StringNotLike),
    ("NumericEquals", BaseOperator::NumericEquals),
    ("NumericNotEquals", BaseOperator::NumericNotEquals),
    ("NumericLessThan", BaseOperator::NumericLessThan),
    ("NumericLessThanEquals", BaseOperator::NumericLessThanEquals),
    ("NumericGreaterThan", BaseOperator::NumericGreaterThan),
    (
        "NumericGreaterThanEquals",
        BaseOperator::NumericGreaterThanEquals,
    ),
    ("DateEquals", BaseOperator::DateEquals),
    ("DateNotEquals", BaseOperator::DateNotEquals),
    ("DateLessThan", BaseOperator::DateLessThan),
    ("DateLessThanEquals", BaseOperator::DateLessThanEquals),
    ("DateGreaterThan", BaseOperator::DateGreaterThan),
    ("DateGreaterThanEquals", BaseOperator::DateGreaterThanEquals),
    ("Bool", BaseOperator::Bool),
    ("BinaryEquals", BaseOperator::BinaryEquals),
    ("IpAddress", BaseOperator::IpAddress),
    ("NotIpAddress", BaseOperator::NotIpAddress),
    ("ArnEquals", BaseOperator::ArnEquals),
    ("ArnLike", BaseOperator::ArnLike),
    ("ArnNotEquals", BaseOperator::ArnNotEquals),
    ("ArnNotLike", BaseOperator::ArnNotLike),
    ("Null", BaseOperator::Null),
];

impl BaseOperator {
    pub fn name(self) -> &'static str {
        BASE_OPERATORS
            .iter()
            .find(|(_, op)| *op == self)
            .map(|(name, _)| *name)
            .unwrap_or("?")
    }
}

/// A parsed operator name such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionOperator {
    pub set: Option<SetQualifier>,
    pub base: BaseOperator,
    pub if_exists: bool,
}

impl ConditionOperator {
    /// Parses an operator name. Operator names are case-sensitive in IAM.
    pub fn parse(name: &str) -> Option<ConditionOperator> {
        let (set, rest) = if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else {
            (None, name)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let base = BASE_OPERATORS
            .iter()
            .find(|(n, _)| *n == rest)
            .map(|(_, op)| *op)?;
        if base == BaseOperator::Null && if_exists {
            return None;
        }
        Some(ConditionOperator {
            set,
            base,
            if_exists,
        })
    }
}

impl fmt::Display for ConditionOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.set {
            Some(SetQualifier::ForAllValues) => f.write_str("ForAllValues:")?,
            Some(SetQualifier::ForAnyValue) => f.write_str("ForAnyValue:")?,
            None => {}
        }
        f.write_str(self.base.name())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

/// One `operator: { key: values }` entry of a `Condition` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: ConditionOperator,
    /// The context key as written (key names compare case-insensitively).
    pub key: String,
    /// Values in their string form (`true` → `"true"`, `10` → `"10"`).
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<Principals>,
    pub action: PatternList,
    /// Absent only in trust policies.
    pub resource: Option<PatternList>,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    pub version: Version,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// Why a document was refused: which statement (1-based) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// 1-based statement number, when the problem is inside a statement.
    pub statement: Option<usize>,
    pub sid: Option<String>,
    pub message: String,
    /// 1-based line and column in the document text, for JSON syntax errors.
    pub position: Option<(usize, usize)>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((line, column)) = self.position {
            write!(f, "line {line} column {column}: ")?;
        }
        match (self.statement, &self.sid) {
            (Some(n), Some(sid)) => write!(f, "Statement {n} (Sid \"{sid}\"): ")?,
            (Some(n), None) => write!(f, "Statement {n}: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

/// Counts the characters IAM counts against a policy size quota (whitespace is not counted).
pub fn policy_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

impl PolicyDocument {
    /// Parses and checks a policy document used as `kind`.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<PolicyDocument, PolicyError> {
        let json = Json::parse(text).map_err(|e| PolicyError {
            statement: None,
            sid: None,
            message: format!(
                "This policy contains invalid Json: {}",
                strip_position(&e.message)
            ),
            position: Some((e.line, e.column)),
        })?;
        Self::from_json(&json, kind)
    }

    /// Checks an already parsed JSON tree.
    pub fn from_json(json: &Json, kind: PolicyKind) -> Result<PolicyDocument, PolicyError> {
        let top = |message: String| PolicyError {
            statement: None,
            sid: None,
            message,
            position: None,
        };
        let Json::Object(members) = json else {
            return Err(top(format!(
                "the policy must be a JSON object, not {}",
                json.type_name()
            )));
        };
        let mut version = None;
        let mut id = None;
        let mut statement_json = None;
        for (key, value) in members {
            match key.as_str() {
                "Version" => {
                    version = Some(match value {
                        Json::String(v) if v == "2012-10-17" => Version::V2012_10_17,
                        Json::String(v) if v == "2008-10-17" => Version::V2008_10_17,
                        other => {
                            return Err(top(format!(
                                "Version must be \"2012-10-17\" or \"2008-10-17\", not {}",
                                describe(other)
                            )));
                        }
                    })
                }
                "Id" => {
                    if !matches!(kind, PolicyKind::Resource | PolicyKind::Trust) {
                        return Err(top(format!(
                            "Id is not allowed in {} policies",
                            kind.label()
                        )));
                    }
                    match value {
                        Json::String(v) => id = Some(v.clone()),
                        other => {
                            return Err(top(format!(
                                "Id must be a string, not {}",
                                other.type_name()
                            )));
                        }
                    }
                }
                "Statement" => statement_json = Some(value),
                other => {
                    return Err(top(format!(
                        "unknown field \"{other}\" at the top level (expected Version, Id, Statement)"
                    )));
                }
            }
        }
        let statement_json =
            statement_json.ok_or_else(|| top("the policy has no Statement".into()))?;
        let items: Vec<&Json> = match statement_json {
            Json::Object(_) => vec![statement_json],
            Json::Array(items) if !items.is_empty() => items.iter().collect(),
            Json::Array(_) => return Err(top("Statement must not be empty".into())),
            other => {
                return Err(top(format!(
                    "Statement must be an object or an array of objects, not {}",
                    other.type_name()
                )));
            }
        };
        let mut statements = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            statements.push(parse_statement(item, index + 1, kind)?);
        }
        Ok(PolicyDocument {
            version: version.unwrap_or(Version::V2008_10_17),
            id,
            statements,
        })
    }
}

fn strip_position(message: &str) -> &str {
    // serde_json appends " at line L column C"; the position is reported separately.
    match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    }
}

fn describe(value: &Json) -> String {
    match value {
        Json::String(s) => format!("\"{s}\""),
        other => other.type_name().to_string(),
    }
}

struct StatementContext {
    number: usize,
    sid: Option<String>,
}

impl StatementContext {
    fn error(&self, message: String) -> PolicyError {
        PolicyError {
            statement: Some(self.number),
            sid: self.sid.clone(),
            message,
            position: None,
        }
    }
}

fn parse_statement(json: &Json, number: usize, kind: PolicyKind) -> Result<Statement, PolicyError> {
    let mut ctx = StatementContext { number, sid: None };
    let Json::Object(members) = json else {
        return Err(ctx.error(format!(
            "a statement must be an object, not {}",
            json.type_name()
        )));
    };
    ctx.sid = statement_sid(members, kind, &ctx)?;
    let mut effect = None;
    let mut principal: Option<Principals> = None;
    let mut action: Option<PatternList> = None;
    let mut resource: Option<PatternList> = None;
    let mut conditions = Vec::new();
    for (key, value) in members {
        match key.as_str() {
            "Sid" => {}
            "Effect" => effect = Some(parse_effect(value, &ctx)?),
            "Principal" | "NotPrincipal" => {
                if principal.is_some() {
                    return Err(ctx
                        .error("a statement may have Principal or NotPrincipal, not both".into()));
                }
                principal = Some(principal_field(key, value, kind, &ctx)?);
            }
            "Action" | "NotAction" => {
                if action.is_some() {
                    return Err(
                        ctx.error("a statement may have Action or NotAction, not both".into())
                    );
                }
                action = Some(action_field(key, value, &ctx)?);
            }
            "Resource" | "NotResource" => {
                if resource.is_some() {
                    return Err(
                        ctx.error("a statement may have Resource or NotResource, not both".into())
                    );
                }
                resource = Some(resource_field(key, value, kind, &ctx)?);
            }
            "Condition" => conditions = parse_conditions(value, &ctx)?,
            other => {
                return Err(ctx.error(format!(
                    "unknown field \"{other}\" (expected Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition)"
                )));
            }
        }
    }
    let effect = effect.ok_or_else(|| ctx.error("Effect is missing".into()))?;
    let action = action.ok_or_else(|| ctx.error("Action or NotAction is missing".into()))?;
    if kind.needs_principal() && principal.is_none() {
        return Err(ctx.error(format!(
            "Principal is missing; {} policies must name who they apply to",
            kind.label()
        )));
    }
    if kind != PolicyKind::Trust && resource.is_none() {
        return Err(ctx.error("Resource or NotResource is missing".into()));
    }
    Ok(Statement {
        sid: ctx.sid.clone(),
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

/// `Sid`: a string; in IAM (not resource) policies, ASCII letters and digits only.
fn statement_sid(
    members: &[(String, Json)],
    kind: PolicyKind,
    ctx: &StatementContext,
) -> Result<Option<String>, PolicyError> {
    let sid = match members.iter().find(|(k, _)| k == "Sid") {
        None => return Ok(None),
        Some((_, Json::String(s))) => s.clone(),
        Some((_, other)) => {
            return Err(ctx.error(format!("Sid must be a string, not {}", other.type_name())));
        }
    };
    if kind != PolicyKind::Resource && !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
        let named = StatementContext {
            number: ctx.number,
            sid: Some(sid),
        };
        return Err(
            named.error("Sid may only contain ASCII letters and digits in IAM policies".into())
        );
    }
    Ok(Some(sid))
}

fn parse_effect(value: &Json, ctx: &StatementContext) -> Result<Effect, PolicyError> {
    match value {
        Json::String(s) if s == "Allow" => Ok(Effect::Allow),
        Json::String(s) if s == "Deny" => Ok(Effect::Deny),
        other => Err(ctx.error(format!(
            "Effect must be \"Allow\" or \"Deny\", not {}",
            describe(other)
        ))),
    }
}

/// `Principal` / `NotPrincipal`, where the policy kind allows one.
fn principal_field(
    key: &str,
    value: &Json,
    kind: PolicyKind,
    ctx: &StatementContext,
) -> Result<Principals, PolicyError> {
    let negated = key == "NotPrincipal";
    if !kind.needs_principal() {
        return Err(ctx.error(format!("{key} is not allowed in {} policies", kind.label())));
    }
    if negated && kind == PolicyKind::Trust {
        return Err(ctx.error("NotPrincipal is not allowed in role trust policies".into()));
    }
    parse_principal(value, negated, ctx)
}

/// `Action` / `NotAction`: a string or a list of `service:pattern`.
fn action_field(
    key: &str,
    value: &Json,
    ctx: &StatementContext,
) -> Result<PatternList, PolicyError> {
    let patterns = string_list(value, key, ctx)?;
    for p in &patterns {
        check_action_pattern(p, ctx)?;
    }
    Ok(PatternList {
        negated: key == "NotAction",
        patterns,
    })
}

/// `Resource` / `NotResource`: ARN patterns; not in trust policies (the resource is the role).
fn resource_field(
    key: &str,
    value: &Json,
    kind: PolicyKind,
    ctx: &StatementContext,
) -> Result<PatternList, PolicyError> {
    if kind == PolicyKind::Trust {
        return Err(ctx.error(format!(
            "{key} is not allowed in role trust policies (the resource is the role itself)"
        )));
    }
    let patterns = string_list(value, key, ctx)?;
    for p in &patterns {
        check_resource_pattern(p, key, ctx)?;
    }
    Ok(PatternList {
        negated: key == "NotResource",
        patterns,
    })
}

fn string_list(
    value: &Json,
    field: &str,
    ctx: &StatementContext,
) -> Result<Vec<String>, PolicyError> {
    match value {
        Json::String(s) => Ok(vec![s.clone()]),
        Json::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Json::String(s) => Ok(s.clone()),
                other => Err(ctx.error(format!(
                    "{field} entries must be strings, found {}",
                    other.type_name()
                ))),
            })
            .collect(),
        Json::Array(_) => Err(ctx.error(format!("{field} must not be an empty array"))),
        other => Err(ctx.error(format!(
            "{field} must be a string or an array of strings, not {}",
            other.type_name()
        ))),
    }
}

fn check_action_pattern(pattern: &str, ctx: &StatementContext) -> Result<(), PolicyError> {
    if pattern == "*" {
        return Ok(());
    }
    let valid = match pattern.split_once(':') {
        Some((service, action)) => {
            !service.is_empty()
                && service
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*' || c == '?')
                && !action.is_empty()
                && action.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '*' || c == '?' || c == '-' || c == '_'
                })
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(ctx.error(format!("Action \"{pattern}\" must be \"*\" or \"<service>:<action>\" (wildcards * and ? allowed)")))
    }
}

fn check_resource_pattern(
    pattern: &str,
    field: &str,
    ctx: &StatementContext,
) -> Result<(), PolicyError> {
    if pattern == "*" || (pattern.starts_with("arn:") && pattern.split(':').count() >= 6) {
        Ok(())
    } else {
        Err(ctx.error(format!("{field} \"{pattern}\" must be \"*\" or an ARN (arn:partition:service:region:account:resource)")))
    }
}

fn parse_principal(
    value: &Json,
    negated: bool,
    ctx: &StatementContext,
) -> Result<Principals, PolicyError> {
    let field = if negated { "NotPrincipal" } else { "Principal" };
    match value {
        Json::String(s) if s == "*" => Ok(Principals {
            negated,
            entries: None,
        }),
        Json::Object(members) if !members.is_empty() => {
            let mut entries = Vec::with_capacity(members.len());
            for (key, values) in members {
                let ptype = match key.as_str() {
                    "AWS" => PrincipalType::Aws,
                    "Service" => PrincipalType::Service,
                    "Federated" => PrincipalType::Federated,
                    "CanonicalUser" => PrincipalType::CanonicalUser,
                    other => {
                        return Err(ctx.error(format!(
                            "{field} type \"{other}\" is unknown (expected AWS, Service, Federated or CanonicalUser)"
                        )));
                    }
                };
                let list = string_list(values, &format!("{field}.{key}"), ctx)?;
                for v in &list {
                    check_principal_value(ptype, v, ctx)?;
                }
                entries.push((ptype, list));
            }
            Ok(Principals {
                negated,
                entries: Some(entries),
            })
        }
        other => Err(ctx.error(format!(
            "{field} must be \"*\" or an object such as {{\"AWS\": \"<arn>\"}}, not {}",
            describe(other)
        ))),
    }
}

fn check_principal_value(
    ptype: PrincipalType,
    value: &str,
    ctx: &StatementContext,
) -> Result<(), PolicyError> {
    let invalid = || {
        ctx.error(format!(
            "Invalid principal in policy: \"{}\":\"{value}\"",
            ptype.as_str()
        ))
    };
    if value == "*" {
        return if ptype == PrincipalType::Aws {
            Ok(())
        } else {
            Err(invalid())
        };
    }
    if value.contains('*') || value.contains('?') || value.is_empty() {
        // Only the whole value "*" may be a wildcard.
        return Err(invalid());
    }
    if ptype != PrincipalType::Aws {
        return Ok(());
    }
    let is_account = value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit());
    let is_unique_id = (value.starts_with("AIDA") || value.starts_with("AROA"))
        && value.len() >= 16
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let is_arn = parse_principal_arn(value).is_some();
    if is_account || is_unique_id || is_arn {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// The principal forms an `AWS` principal ARN can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalArn<'a> {
    Root {
        account: &'a str,
    },
    User {
        account: &'a str,
        path_and_name: &'a str,
    },
    Role {
        account: &'a str,
        path_and_name: &'a str,
    },
    AssumedRole {
        account: &'a str,
        role: &'a str,
        session: &'a str,
    },
    FederatedUser {
        account: &'a str,
        name: &'a str,
    },
}

/// Parses `arn:<partition>:iam::<acct>:root|user/…|role/…` and the `sts` session forms.
pub fn parse_principal_arn(arn: &str) -> Option<PrincipalArn<'_>> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, _partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if prefix != "arn"
        || !region.is_empty()
        || account.len() != 12
        || !account.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    match service {
        "iam" => {
            if resource == "root" {
                Some(PrincipalArn::Root { account })
            } else if let Some(rest) = resource
                .strip_prefix("user/")
                .filter(|r| valid_path_name(r))
            {
                Some(PrincipalArn::User {
                    account,
                    path_and_name: rest,
                })
            } else {
                resource
                    .strip_prefix("role/")
                    .filter(|r| valid_path_name(r))
                    .map(|rest| PrincipalArn::Role {
                        account,
                        path_and_name: rest,
                    })
            }
        }
        "sts" => {
            if let Some(rest) = resource.strip_prefix("assumed-role/") {
                let (role, session) = rest.split_once('/')?;
                (!role.is_empty() && !session.is_empty() && !session.contains('/')).then_some(
                    PrincipalArn::AssumedRole {
                        account,
                        role,
                        session,
                    },
                )
            } else {
                resource
                    .strip_prefix("federated-user/")
                    .filter(|n| !n.is_empty() && !n.contains('/'))
                    .map(|name| PrincipalArn::FederatedUser { account, name })
            }
        }
        _ => None,
    }
}

fn valid_path_name(s: &str) -> bool {
    !s.is_empty() && !s.ends_with('/') && !s.starts_with('/') && !s.contains("//")
}

fn parse_conditions(value: &Json, ctx: &StatementContext) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(operators) = value else {
        return Err(ctx.error(format!(
            "Condition must be an object, not {}",
            value.type_name()
        )));
    };
    let mut out = Vec::new();
    for (op_name, keys) in operators {
        let operator = ConditionOperator::parse(op_name)
            .ok_or_else(|| ctx.error(format!("Condition operator \"{op_name}\" is unknown")))?;
        let Json::Object(keys) = keys else {
            return Err(ctx.error(format!(
                "Condition operator {op_name} must map to an object of keys, not {}",
                keys.type_name()
            )));
        };
        if keys.is_empty() {
            return Err(ctx.error(format!("Condition operator {op_name} has no keys")));
        }
        for (key, values) in keys {
            if key.is_empty() {
                return Err(ctx.error(format!(
                    "Condition operator {op_name} has an empty key name"
                )));
            }
            let values = condition_values(values)
                .ok_or_else(|| ctx.error(format!("Condition {op_name} {key}: values must be strings, numbers or booleans (or an array of them)")))?;
            out.push(Condition {
                operator,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

fn condition_values(value: &Json) -> Option<Vec<String>> {
    fn scalar(v: &Json) -> Option<String> {
        match v {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.clone()),
            Json::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match value {
        Json::Array(items) if !items.is_empty() => items.iter().map(scalar).collect(),
        Json::Array(_) => None,
        other => scalar(other).map(|s| vec![s]),
    }
}

#[cfg(test)]
mod tests;

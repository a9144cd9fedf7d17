//! Predicates behind `stsgate check`'s warnings. Pure functions over checked documents; the
//! validator decides where in the file each warning points.

use crate::policy::{Effect, PolicyDocument, PrincipalArn, PrincipalType, parse_principal_arn};

/// True if an unconditional `Allow` grants every action on every resource (`*` on `*`).
pub fn allows_everything(doc: &PolicyDocument) -> bool {
    doc.statements.iter().any(|s| {
        s.effect == Effect::Allow
            && s.conditions.is_empty()
            && !s.action.negated
            && s.action.patterns.iter().any(|p| p == "*" || p == "*:*")
            && s.resource
                .as_ref()
                .is_some_and(|r| !r.negated && r.patterns.iter().any(|p| p == "*"))
    })
}

/// The principal through which an `Allow` in a trust policy lets the whole account (its root,
/// i.e. any principal the account's own policies allow) assume the role, if any.
pub fn trusts_account_root(trust: &PolicyDocument, account: &str) -> Option<String> {
    allowed_aws_principals(trust).find(|p| {
        *p == account || matches!(parse_principal_arn(p), Some(PrincipalArn::Root { account: a }) if a == account)
    })
}

/// True if an `Allow` in a trust policy names everyone (`"*"` or `{"AWS": "*"}`).
pub fn trusts_everyone(trust: &PolicyDocument) -> bool {
    trust.statements.iter().any(|s| {
        s.effect == Effect::Allow
            && s.principal.as_ref().is_some_and(|p| {
                !p.negated
                    && match &p.entries {
                        None => true,
                        Some(entries) => entries
                            .iter()
                            .any(|(t, v)| *t == PrincipalType::Aws && v.iter().any(|x| x == "*")),
                    }
            })
    })
}

/// Every `AWS` principal value named by an `Allow` statement.
pub fn allowed_aws_principals(doc: &PolicyDocument) -> impl Iterator<Item = String> + '_ {
    allowed_principals(doc, PrincipalType::Aws)
}

/// The values of `kind` principal entries that Allow statements name.
pub fn allowed_principals(
    doc: &PolicyDocument,
    kind: PrincipalType,
) -> impl Iterator<Item = String> + '_ {
    doc.statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
        .filter_map(|s| s.principal.as_ref())
        .filter(|p| !p.negated)
        .filter_map(|p| p.entries.as_ref())
        .flat_map(|entries| entries.iter())
        .filter(move |(t, _)| *t == kind)
        .flat_map(|(_, values)| values.iter().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyKind;

    fn doc(text: &str, kind: PolicyKind) -> PolicyDocument {
        PolicyDocument::parse(text, kind).unwrap()
    }

    #[test]
    fn star_on_star_is_detected_only_when_unconditional() {
        let admin = doc(
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            PolicyKind::Identity,
        );
        assert!(allows_everything(&admin));
        let star_star = doc(
            r#"{"Statement":{"Effect":"Allow","Action":["s3:Get*","*:*"],"Resource":["*"]}}"#,
            PolicyKind::Identity,
        );
        assert!(allows_everything(&star_star));
        let conditional = doc(
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}"#,
            PolicyKind::Identity,
        );
        assert!(!allows_everything(&conditional));
        let s3_only = doc(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
            PolicyKind::Identity,
        );
        assert!(!allows_everything(&s3_only));
        let deny = doc(
            r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#,
            PolicyKind::Identity,
        );
        assert!(!allows_everything(&deny));
    }

    #[test]
    fn root_trust_in_both_spellings() {
        for principal in [r#""111122223333""#, r#""arn:aws:iam::111122223333:root""#] {
            let t = doc(
                &format!(
                    r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":{principal}}},"Action":"sts:AssumeRole"}}}}"#
                ),
                PolicyKind::Trust,
            );
            assert!(
                trusts_account_root(&t, "111122223333").is_some(),
                "{principal}"
            );
            assert!(trusts_account_root(&t, "444455556666").is_none());
        }
        let user = doc(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:AssumeRole"}}"#,
            PolicyKind::Trust,
        );
        assert!(trusts_account_root(&user, "111122223333").is_none());
        assert!(!trusts_everyone(&user));
    }

    #[test]
    fn everyone_trust() {
        let star = doc(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}"#,
            PolicyKind::Trust,
        );
        assert!(trusts_everyone(&star));
        let aws_star = doc(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"sts:AssumeRole"}}"#,
            PolicyKind::Trust,
        );
        assert!(trusts_everyone(&aws_star));
    }
}

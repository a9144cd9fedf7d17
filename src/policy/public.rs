//! Whether a resource policy is public, as S3 Block Public Access judges it: an `Allow` that
//! names any principal (`"*"`, a wildcard ARN, or `NotPrincipal`) is public unless a condition
//! pins the caller or the source to fixed values (`aws:SourceIp` to a range narrower than the
//! whole internet, `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:PrincipalOrgID`,
//! `aws:SourceAccount`, `aws:SourceArn`, `aws:SourceVpc(e)`, `aws:userid`, …).

use super::document::{BaseOperator, Condition, Effect, PolicyDocument, PrincipalType, Statement};

/// Condition keys that, with fixed values, keep a grant to `"*"` from being public.
const LIMITING_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:userid",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
];

/// True if `doc` grants anything to anyone.
pub fn is_public(doc: &PolicyDocument) -> bool {
    doc.statements
        .iter()
        .any(|s| s.effect == Effect::Allow && names_anyone(s) && !s.conditions.iter().any(limits))
}

fn names_anyone(s: &Statement) -> bool {
    let Some(p) = &s.principal else {
        return false;
    };
    if p.negated {
        return true;
    }
    match &p.entries {
        None => true,
        Some(entries) => entries.iter().any(|(ty, values)| {
            *ty == PrincipalType::Aws && values.iter().any(|v| v.contains('*') || v.contains('?'))
        }),
    }
}

fn limits(c: &Condition) -> bool {
    let key = c.key.to_ascii_lowercase();
    if !LIMITING_KEYS.contains(&key.as_str()) || c.operator.if_exists || c.values.is_empty() {
        return false;
    }
    let fixed = |v: &String| !v.contains('*') && !v.contains('?');
    match c.operator.base {
        BaseOperator::StringEquals
        | BaseOperator::StringEqualsIgnoreCase
        | BaseOperator::ArnEquals
        | BaseOperator::StringLike
        | BaseOperator::ArnLike => c.values.iter().all(fixed),
        BaseOperator::IpAddress => c.values.iter().all(|v| {
            v.split('/')
                .nth(1)
                .and_then(|bits| bits.parse::<u8>().ok())
                .is_none_or(|bits| bits > 0)
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyKind;

    fn public(statement: &str) -> bool {
        let text = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        is_public(&PolicyDocument::parse(&text, PolicyKind::Resource).unwrap())
    }

    #[test]
    fn grants_to_anyone_are_public_unless_a_condition_pins_who() {
        let read = r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#;
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{read}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"*"}},{read}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","NotPrincipal":{{"AWS":"arn:aws:iam::111122223333:root"}},{read}}}"#
        )));
        // Not public: a named principal, a deny, a fixed source or account.
        assert!(!public(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},{read}}}"#
        )));
        assert!(!public(&format!(
            r#"{{"Effect":"Deny","Principal":"*",{read}}}"#
        )));
        assert!(!public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{read},"Condition":{{"IpAddress":{{"aws:SourceIp":"10.0.0.0/8"}}}}}}"#
        )));
        assert!(!public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{read},"Condition":{{"StringEquals":{{"aws:PrincipalAccount":"111122223333"}}}}}}"#
        )));
        // Conditions that do not pin who: the whole internet, a wildcard, a negation, other keys.
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{read},"Condition":{{"IpAddress":{{"aws:SourceIp":"0.0.0.0/0"}}}}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{read},"Condition":{{"StringLike":{{"aws:PrincipalArn":"arn:aws:iam::*:role/x"}}}}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{read},"Condition":{{"StringNotEquals":{{"aws:PrincipalAccount":"111122223333"}}}}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{read},"Condition":{{"Bool":{{"aws:SecureTransport":"true"}}}}}}"#
        )));
    }
}

//! Which method an HTTP API request performs, so that `execute-api:Invoke` is authorized for the
//! method the API will run.
//!
//! Methods are case-sensitive tokens (RFC 9110 §9.1) and API Gateway's are upper case; a
//! framework that upper-cases what it receives would run `delete` as `DELETE` although a Deny on
//! `…/DELETE/*` does not match `…/delete/…`. So only upper-case tokens are accepted. Method
//! overrides (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override` headers; a `_method`
//! query or form parameter, as Laravel, Symfony, Rails and Express's method-override read them)
//! turn an authorized POST into another method at the API: refused unless the route allows them,
//! and then the overridden method is the one authorized.

use http::HeaderMap;

/// Headers that frameworks read as the real method.
pub const OVERRIDE_HEADERS: &[&str] = &[
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The query or form parameter frameworks read as the real method.
pub const OVERRIDE_PARAM: &str = "_method";

/// Why a method was refused (`400 BadRequestException`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodError(pub String);

fn is_upper_token(m: &str) -> bool {
    !m.is_empty() && m.len() <= 32 && m.bytes().all(|b| b.is_ascii_uppercase())
}

/// Refuses a method that is not an upper-case token.
pub fn check_method(method: &str) -> Result<(), MethodError> {
    if is_upper_token(method) {
        return Ok(());
    }
    Err(MethodError(format!(
        "The method '{}' is not accepted: methods are case-sensitive and must be upper-case letters",
        method
            .chars()
            .take(32)
            .map(|c| if c.is_ascii_graphic() { c } else { '?' })
            .collect::<String>()
    )))
}

/// The method the API will perform: `method`, or the override the request carries in its headers,
/// its query or its form body (`form`: the decoded pairs of an urlencoded body the gateway read).
/// Overrides are refused unless `allowed`; allowed ones must agree and be letters (read as upper
/// case, as frameworks do).
pub fn effective_method(
    method: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
    form: Option<&[(String, String)]>,
    allowed: bool,
) -> Result<String, MethodError> {
    let mut overrides: Vec<&str> = Vec::new();
    for name in OVERRIDE_HEADERS {
        for value in headers.get_all(*name) {
            overrides.push(value.to_str().unwrap_or("\u{fffd}"));
        }
    }
    let params = query.iter().chain(form.unwrap_or_default());
    overrides.extend(
        params
            .filter(|(k, _)| k.eq_ignore_ascii_case(OVERRIDE_PARAM))
            .map(|(_, v)| v.as_str()),
    );
    let Some(first) = overrides.first() else {
        return Ok(method.to_string());
    };
    if !allowed {
        return Err(MethodError(
            "Method overrides (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, _method) are not accepted on this route".into(),
        ));
    }
    let wanted = first.trim().to_ascii_uppercase();
    if !is_upper_token(&wanted)
        || overrides
            .iter()
            .any(|o| !o.trim().eq_ignore_ascii_case(&wanted))
    {
        return Err(MethodError(
            "The request's method overrides are not one method made of letters".into(),
        ));
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_upper_case_tokens_are_methods() {
        for ok in ["GET", "DELETE", "PATCH", "PROPFIND"] {
            assert!(check_method(ok).is_ok(), "{ok}");
        }
        for bad in ["delete", "Delete", "GET1", "", "G-ET"] {
            assert!(check_method(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overrides_are_refused_unless_allowed_and_then_authorized() {
        let mut h = HeaderMap::new();
        assert_eq!(
            effective_method("POST", &h, &[], None, false).unwrap(),
            "POST"
        );
        let q = pairs(&[("_method", "delete")]);
        assert!(effective_method("POST", &h, &q, None, false).is_err());
        assert_eq!(
            effective_method("POST", &h, &q, None, true).unwrap(),
            "DELETE"
        );
        let form = pairs(&[("a", "1"), ("_METHOD", "PUT")]);
        assert!(effective_method("POST", &h, &[], Some(&form), false).is_err());
        assert_eq!(
            effective_method("POST", &h, &[], Some(&form), true).unwrap(),
            "PUT"
        );
        for name in OVERRIDE_HEADERS {
            let mut one = HeaderMap::new();
            one.insert(*name, "DELETE".parse().unwrap());
            assert!(
                effective_method("POST", &one, &[], None, false).is_err(),
                "{name}"
            );
            assert_eq!(
                effective_method("POST", &one, &[], None, true).unwrap(),
                "DELETE"
            );
        }
        // Two overrides that disagree: which one the API reads is not known.
        h.insert("x-http-method-override", "PUT".parse().unwrap());
        assert!(effective_method("POST", &h, &q, None, true).is_err());
        let odd = pairs(&[("_method", "DEL ETE")]);
        assert!(effective_method("POST", &HeaderMap::new(), &odd, None, true).is_err());
    }
}

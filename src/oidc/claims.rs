//! One token's checks, in order: its length and shape; the header's `alg` against the
//! provider's list; the signature with the provider's key for the header's `kid`; then the
//! verified claims: `iss`, `aud` (Google's `azp` rule), `sub`, and `exp`/`nbf`/`iat` as JSON
//! integers within the skew.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::{MAX_TOKEN_CHARS, TokenError};

/// What a token says before anything is verified: enough to find the provider and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    pub alg: Algorithm,
    pub kid: Option<String>,
    /// The unverified `iss`: only a lookup key, checked again once verified.
    pub iss: String,
}

/// Reads the header and the issuer, refusing a token of the wrong length or shape, and any
/// `alg` outside the web identity list (`none`, HS*, PS*, EdDSA) before a key is looked at.
pub fn peek(token: &str) -> Result<Unverified, TokenError> {
    let chars = token.chars().count();
    if !(4..=MAX_TOKEN_CHARS).contains(&chars) {
        return Err(TokenError::Length(chars));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("a JWT has three dot-separated parts"));
    };
    let header = decode_json(header).ok_or(TokenError::Malformed("the header is not JSON"))?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(TokenError::Malformed("the header has no alg"))?;
    let alg = super::algorithm(alg_name).ok_or_else(|| TokenError::Algorithm(alg_name.into()))?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(TokenError::WrongType("kid")),
    };
    let claims = decode_json(claims).ok_or(TokenError::Malformed("the claims are not JSON"))?;
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(TokenError::NoIssuer)?
        .to_string();
    Ok(Unverified { alg, kid, iss })
}

fn decode_json(part: &str) -> Option<Map<String, Value>> {
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(part.trim_end_matches('=').as_bytes())
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The provider's rules for a token.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    /// The provider URL: the verified `iss` must equal it.
    pub issuer: &'a str,
    pub audiences: &'a [String],
    pub algorithms: &'a [Algorithm],
    /// Seconds of leeway for `exp`, `nbf` and `iat`.
    pub skew: i64,
    /// Unix seconds.
    pub now: i64,
}

/// A verified token's claims.
#[derive(Debug, Clone)]
pub struct Verified {
    pub sub: String,
    /// The client id that matched (Google: `azp` when present).
    pub aud: String,
    /// Google's raw `aud`, when `azp` stood in for it.
    pub oaud: Option<String>,
    /// `amr`, when present (Cognito's authentication methods).
    pub amr: Vec<String>,
    pub exp: i64,
    /// Every claim, for session tags and source identity.
    pub claims: Map<String, Value>,
}

/// Verifies `token` (already [`peek`]ed as `seen`) with `key` under `rules`.
pub fn verify(
    token: &str,
    seen: &Unverified,
    key: &DecodingKey,
    rules: &Rules<'_>,
) -> Result<Verified, TokenError> {
    if !rules.algorithms.contains(&seen.alg) {
        return Err(TokenError::Algorithm(format!("{:?}", seen.alg)));
    }
    // The signature only: the claims are checked below with AWS's rules.
    let mut validation = Validation::new(seen.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            return Err(match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature
                | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_)
                | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey
                | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat => TokenError::Signature,
                _ => TokenError::Malformed("the token does not decode"),
            });
        }
    };
    if claims.get("iss").and_then(Value::as_str) != Some(rules.issuer) {
        return Err(TokenError::Issuer);
    }
    let (aud, oaud) = audience(&claims, rules)?;
    let sub = match claims.get("sub") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(TokenError::WrongType("sub")),
        None => return Err(TokenError::MissingClaim("sub")),
    };
    let exp = times(&claims, rules)?;
    let amr = match claims.get("amr") {
        None => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or(TokenError::WrongType("amr"))?,
        Some(_) => return Err(TokenError::WrongType("amr")),
    };
    Ok(Verified {
        sub,
        aud,
        oaud,
        amr,
        exp,
        claims,
    })
}

/// The audience that matched: one of `aud`'s values among the provider's client ids. For
/// Google, `azp` (when present) is the audience and `aud` becomes `oaud`.
fn audience(
    claims: &Map<String, Value>,
    rules: &Rules<'_>,
) -> Result<(String, Option<String>), TokenError> {
    let values: Vec<&str> = match claims.get("aud") {
        None => return Err(TokenError::MissingClaim("aud")),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a
            .iter()
            .map(Value::as_str)
            .collect::<Option<Vec<_>>>()
            .ok_or(TokenError::WrongType("aud"))?,
        Some(_) => return Err(TokenError::WrongType("aud")),
    };
    let google = rules.issuer == "https://accounts.google.com";
    if google && let Some(azp) = claims.get("azp") {
        let azp = azp.as_str().ok_or(TokenError::WrongType("azp"))?;
        return if rules.audiences.iter().any(|a| a == azp) {
            Ok((azp.to_string(), Some(values.join(","))))
        } else {
            Err(TokenError::Audience)
        };
    }
    values
        .iter()
        .find(|v| rules.audiences.iter().any(|a| a == *v))
        .map(|v| (v.to_string(), None))
        .ok_or(TokenError::Audience)
}

/// `exp` (required), `nbf` and `iat`: JSON integers, within the skew. Returns `exp`.
fn times(claims: &Map<String, Value>, rules: &Rules<'_>) -> Result<i64, TokenError> {
    let integer = |name: &'static str| -> Result<Option<i64>, TokenError> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or(TokenError::NotInteger(name)),
            Some(_) => Err(TokenError::NotInteger(name)),
        }
    };
    let now = rules.now;
    let exp = integer("exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    if exp + rules.skew <= now {
        return Err(TokenError::Expired { now, exp });
    }
    if let Some(nbf) = integer("nbf")?
        && nbf > now + rules.skew
    {
        return Err(TokenError::NotYetValid { now, nbf });
    }
    if let Some(iat) = integer("iat")?
        && iat > now + rules.skew
    {
        return Err(TokenError::IssuedInFuture { now, iat });
    }
    if let Some(at) = integer("auth_time")?
        && at > now + rules.skew
    {
        return Err(TokenError::IssuedInFuture { now, iat: at });
    }
    Ok(exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(v: serde_json::Value) -> String {
        data_encoding::BASE64URL_NOPAD.encode(v.to_string().as_bytes())
    }

    fn token(header: serde_json::Value, claims: serde_json::Value) -> String {
        format!("{}.{}.c2ln", part(header), part(claims))
    }

    #[test]
    fn peek_refuses_shapes_and_algorithms_before_any_key() {
        let claims = serde_json::json!({"iss": "https://i.example"});
        let seen = peek(&token(
            serde_json::json!({"alg": "RS256", "kid": "k"}),
            claims.clone(),
        ))
        .unwrap();
        assert_eq!(seen.iss, "https://i.example");
        assert_eq!(seen.kid.as_deref(), Some("k"));
        for (alg, expected) in [
            ("none", "none"),
            ("HS256", "HS256"),
            ("PS256", "PS256"),
            ("EdDSA", "EdDSA"),
            ("ES512", "ES512"),
        ] {
            assert_eq!(
                peek(&token(serde_json::json!({"alg": alg}), claims.clone())),
                Err(TokenError::Algorithm(expected.into()))
            );
        }
        assert_eq!(peek("abc"), Err(TokenError::Length(3)));
        assert_eq!(
            peek(&"a".repeat(MAX_TOKEN_CHARS + 1)),
            Err(TokenError::Length(MAX_TOKEN_CHARS + 1))
        );
        assert!(matches!(peek("aaaa.bbbb"), Err(TokenError::Malformed(_))));
        assert!(matches!(peek("a.b.c.d"), Err(TokenError::Malformed(_))));
        assert_eq!(
            peek(&token(
                serde_json::json!({"alg": "RS256", "kid": 7}),
                claims.clone()
            )),
            Err(TokenError::WrongType("kid"))
        );
        assert_eq!(
            peek(&token(
                serde_json::json!({"alg": "RS256"}),
                serde_json::json!({})
            )),
            Err(TokenError::NoIssuer)
        );
    }

    fn rules<'a>(audiences: &'a [String], issuer: &'a str) -> Rules<'a> {
        Rules {
            issuer,
            audiences,
            algorithms: &[Algorithm::RS256],
            skew: 30,
            now: 1_000_000,
        }
    }

    #[test]
    fn times_are_integers_within_the_skew() {
        let aud = ["a".to_string()];
        let r = rules(&aud, "https://i");
        let claims = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(
            times(&claims(serde_json::json!({"exp": 1_000_100})), &r),
            Ok(1_000_100)
        );
        assert_eq!(
            times(&claims(serde_json::json!({"exp": 999_980})), &r),
            Ok(999_980)
        );
        assert_eq!(
            times(&claims(serde_json::json!({"exp": 999_970})), &r),
            Err(TokenError::Expired {
                now: 1_000_000,
                exp: 999_970
            })
        );
        assert_eq!(
            times(&claims(serde_json::json!({"exp": 1_000_100.5})), &r),
            Err(TokenError::NotInteger("exp"))
        );
        assert_eq!(
            times(&claims(serde_json::json!({})), &r),
            Err(TokenError::MissingClaim("exp"))
        );
        assert_eq!(
            times(
                &claims(serde_json::json!({"exp": 1_000_100, "nbf": 1_000_031})),
                &r
            ),
            Err(TokenError::NotYetValid {
                now: 1_000_000,
                nbf: 1_000_031
            })
        );
        assert_eq!(
            times(
                &claims(serde_json::json!({"exp": 1_000_100, "iat": "1000000"})),
                &r
            ),
            Err(TokenError::NotInteger("iat"))
        );
    }

    #[test]
    fn the_audience_is_one_of_the_client_ids_and_google_uses_azp() {
        let aud = ["web".to_string(), "cli".to_string()];
        let claims = |v: serde_json::Value| v.as_object().unwrap().clone();
        let r = rules(&aud, "https://i");
        assert_eq!(
            audience(&claims(serde_json::json!({"aud": ["x", "cli"]})), &r),
            Ok(("cli".into(), None))
        );
        assert_eq!(
            audience(&claims(serde_json::json!({"aud": "x"})), &r),
            Err(TokenError::Audience)
        );
        assert_eq!(
            audience(&claims(serde_json::json!({"aud": 3})), &r),
            Err(TokenError::WrongType("aud"))
        );
        // azp is only Google's rule.
        assert_eq!(
            audience(&claims(serde_json::json!({"aud": "x", "azp": "web"})), &r),
            Err(TokenError::Audience)
        );
        let g = rules(&aud, "https://accounts.google.com");
        assert_eq!(
            audience(&claims(serde_json::json!({"aud": "raw", "azp": "web"})), &g),
            Ok(("web".into(), Some("raw".into())))
        );
    }
}

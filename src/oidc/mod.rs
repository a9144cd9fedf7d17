//! OpenID Connect tokens, as AssumeRoleWithWebIdentity reads them: a provider's key set
//! ([`KeySet`], from a JWKS document) and the checks of one token ([`peek`], then [`verify`]),
//! with AWS's rules. Pure: no I/O, no clock (the caller passes `now`); fetching and caching keys
//! is the `federation` module's. Signatures are checked by the `jsonwebtoken` crate; this module
//! decides which algorithm and which key may be used, never the token's header alone.

mod claims;
mod keys;

pub use claims::{Rules, Verified, peek, verify};
pub use keys::KeySet;

pub use jsonwebtoken::Algorithm;

/// Why a token was not accepted. Each names the one check that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not 4..=20,000 characters.
    Length(usize),
    /// Not three base64url parts with a JSON header and claims.
    Malformed(&'static str),
    /// The header's `alg` is not one the provider accepts (`none`, HS*, PS*, … never are).
    Algorithm(String),
    /// `iss` is missing or not a string.
    NoIssuer,
    /// No key of the provider's set has the token's `kid` (and the algorithm's key type).
    UnknownKey,
    /// The signature does not verify with the provider's key.
    Signature,
    /// A claim that must be present is not.
    MissingClaim(&'static str),
    /// A timestamp claim is not a JSON integer.
    NotInteger(&'static str),
    /// A claim has the wrong JSON type.
    WrongType(&'static str),
    /// The verified `iss` differs from the provider's URL.
    Issuer,
    /// No `aud` value is one of the provider's client ids.
    Audience,
    /// `exp` has passed (beyond the skew).
    Expired { now: i64, exp: i64 },
    /// `nbf` is in the future (beyond the skew).
    NotYetValid { now: i64, nbf: i64 },
    /// `iat` is in the future (beyond the skew).
    IssuedInFuture { now: i64, iat: i64 },
}

impl TokenError {
    /// The check failed after the signature verified: the provider's own key signed the token.
    pub fn was_signed(&self) -> bool {
        matches!(
            self,
            TokenError::Issuer
                | TokenError::Audience
                | TokenError::Expired { .. }
                | TokenError::NotYetValid { .. }
                | TokenError::IssuedInFuture { .. }
                | TokenError::NotInteger(_)
                | TokenError::MissingClaim(_)
                | TokenError::WrongType("aud" | "azp" | "sub" | "amr")
        )
    }
}

/// The algorithm named `name` (a JWT header's spelling), if it is one a web identity token may
/// use.
pub fn algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "RS256" => Some(Algorithm::RS256),
        "RS384" => Some(Algorithm::RS384),
        "RS512" => Some(Algorithm::RS512),
        "ES256" => Some(Algorithm::ES256),
        "ES384" => Some(Algorithm::ES384),
        _ => None,
    }
}

/// Longest token AWS takes (`clientTokenType`).
pub const MAX_TOKEN_CHARS: usize = 20_000;

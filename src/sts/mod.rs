//! The STS side: session tokens and their keyring, TOTP, XML envelopes, and the Query API
//! actions (AssumeRole, GetSessionToken, GetCallerIdentity, GetAccessKeyInfo,
//! DecodeAuthorizationMessage).

pub mod mfa;
pub mod service;
pub mod shared;
pub mod token;
pub mod xml;

pub use service::{RequestInfo, StsError, StsService, parse_form};
pub use token::{Keyring, OpenError, Purpose, SessionClaims};

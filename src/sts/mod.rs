//! The STS side: session tokens and their keyring (the Query API handlers build on this).

pub mod token;

pub use token::{Keyring, OpenError, Purpose, SessionClaims};

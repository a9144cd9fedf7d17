//! Principals and credentials: access-key-id formats, the store of users and roles with their
//! compiled policies, and resolution of a signing key to its caller.

pub mod access_key;
pub mod store;

pub use access_key::{
    KeyKind, decode_access_key_id, encode_access_key_id, format_account, new_access_key_id,
    new_secret_access_key,
};
pub use store::{Caller, CredentialError, IdentityStore, RoleEntry, UserEntry};

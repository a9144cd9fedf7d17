//! Principals and credentials: access-key-id formats (users, roles and sessions come next).

pub mod access_key;

pub use access_key::{
    KeyKind, decode_access_key_id, encode_access_key_id, format_account, new_access_key_id,
    new_secret_access_key,
};

//! S3 requests: addressing (path and virtual-hosted style) and classification into a typed,
//! canonical request (operation, bucket, key, the operation's own parameters and headers) with
//! the IAM checks it needs. The backend request is rebuilt from that typed request only.

pub mod classify;
pub mod copy_source;
pub mod delete_objects;
pub mod headers;
pub mod params;

pub use classify::{Check, Classified, ClassifyError, Target, address, check_key, classify};
pub use copy_source::CopySource;
pub use delete_objects::DeleteList;

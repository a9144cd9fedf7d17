//! S3 requests: addressing (path and virtual-hosted style) and classification into a typed,
//! canonical request (operation, bucket, key, the operation's own parameters and headers) with
//! the IAM checks it needs. The backend request is rebuilt from that typed request only.

pub mod address;
pub mod classify;
pub mod copy_source;
pub mod delete_objects;
pub mod error;
pub mod headers;
pub mod operations;
pub mod params;
pub mod post_policy;
pub mod subresources;

/// The bucket an S3 resource ARN (`arn:aws:s3:::bucket[/key]`) names; `None` for `arn:aws:s3:::*`
/// (ListBuckets) and for anything that is not an S3 ARN.
pub fn bucket_of_arn(arn: &str) -> Option<&str> {
    let rest = arn.splitn(6, ':').nth(5)?;
    if arn.split(':').nth(2).is_none_or(|s| s != "s3") {
        return None;
    }
    let bucket = rest.split('/').next()?;
    (!bucket.is_empty() && bucket != "*").then_some(bucket)
}

pub use address::{Target, address, check_key};
pub use classify::{Check, Classified, classify};
pub use copy_source::CopySource;
pub use delete_objects::DeleteList;
pub use error::ClassifyError;

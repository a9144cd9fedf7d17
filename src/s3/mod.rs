//! S3 requests: addressing (path and virtual-hosted style) and classification into IAM actions,
//! resources and condition keys. The authorize-and-forward pipeline builds on this.

pub mod classify;

pub use classify::{Check, Classified, ClassifyError, Target, address, classify};

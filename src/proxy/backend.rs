//! A configured backend as forwarding uses it: its pooled client, the signer for its
//! credentials, and the settings each protocol reads.

use std::sync::Arc;
use std::time::Duration;

/// A backend with its pooled client and the signer for its credentials.
pub struct BackendClient {
    pub name: String,
    pub kind: crate::config::BackendKind,
    pub url: http::Uri,
    /// The `Host` of upstream requests: the URL's authority.
    pub host: http::HeaderValue,
    pub signer: crate::sigv4::Signer,
    /// How long the backend may stay silent (see [`super::Progress`]).
    pub timeout: Duration,
    /// Pass the backend's identifying response headers to clients (`pass_fingerprints`).
    pub pass_fingerprints: bool,
    /// PutBucketWebsite is forwarded (`allow_bucket_website`).
    pub allow_bucket_website: bool,
    /// Its upstream connections (see [`super::pool`]).
    pub pool: Arc<super::pool::UpstreamPool>,
    /// Host names routed to it (lower case; empty: any).
    pub hosts: Vec<String>,
    /// Whether requests are re-signed with the backend's credentials (always for S3).
    pub signs: bool,
    /// `kind = "http"`: the route and its authorization settings.
    pub api: Option<ApiRoute>,
    /// `kind = "s3"`: bucket owners and policies.
    pub buckets: crate::config::Buckets,
}

/// An HTTP API backend's route.
pub struct ApiRoute {
    pub settings: crate::config::ApiSettings,
    /// The canonical `path_prefix` segments (stripped before forwarding).
    pub prefix: Vec<String>,
}

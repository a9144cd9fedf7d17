//! Pod identity: the container-credentials endpoint's action, EKS Pod Identity's way. A pod's
//! service-account token (verified by its cluster's OIDC provider, with the web identity
//! attempt limits) → the first association whose provider, subject and audience match → the
//! role, whose trust policy must consent for the service `pods.eks.amazonaws.com` (both
//! `sts:AssumeRole` and `sts:TagSession`) → a role session tagged with the cluster, namespace,
//! service account and pod (all transitive). Answers are cached per token until 20 minutes
//! before they expire, so a pod polling the endpoint costs one validation per token.

use std::net::IpAddr;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{SessionTags, StsError, StsService};
use crate::authz::RequestInfo;
use crate::config::{POD_IDENTITY_SERVICE, PodAssociation, PodIdentity};
use crate::federation::Identity;
use crate::policy::{Principal, PrincipalKind, authorize_by_trust};

/// What the endpoint answers (the container-credentials JSON).
#[derive(Debug, Clone)]
pub struct PodCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub token: String,
    pub account: String,
    /// Unix seconds.
    pub expiration: i64,
    /// Served from the cache (no validation).
    pub reused: bool,
}

/// A cached answer: served again until `reuse_until`, and only while the token is unexpired.
#[derive(Debug)]
pub struct CachedPod {
    credentials: PodCredentials,
    reuse_until: i64,
    token_exp: i64,
}

/// Answers are reused until this long before they expire (botocore refreshes below 15 min).
const REUSE_MARGIN: i64 = 20 * 60;

pub type PodCache = moka::sync::Cache<[u8; 32], Arc<CachedPod>>;

pub fn pod_cache() -> PodCache {
    moka::sync::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(std::time::Duration::from_secs(12 * 3600))
        .build()
}

impl StsService {
    /// Credentials for the pod whose token this is.
    pub async fn pod_credentials(
        &self,
        pod: &PodIdentity,
        token: &str,
        info: &RequestInfo,
    ) -> Result<PodCredentials, StsError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = self.pod_cache.get(&key)
            && hit.reuse_until > info.now
            && hit.token_exp > info.now
        {
            tracing::info!(account = %hit.credentials.account, "pod credentials reused from the cache");
            return Ok(PodCredentials {
                reused: true,
                ..hit.credentials.clone()
            });
        }
        let seen = crate::oidc::peek(token).ok();
        let account = seen
            .as_ref()
            .and_then(|s| pod.associations.iter().find(|a| a.provider == s.iss))
            .map_or("", |a| a.account.as_str());
        let address: Option<IpAddr> = info.source_ip.as_deref().and_then(|a| a.parse().ok());
        let identity = self.web_identity(account, token, address, info).await?;
        let association = association(pod, &identity)?;
        let credentials = self.pod_session(pod, association, &identity, info)?;
        tracing::info!(role = %association.role_arn, subject = %identity.token.sub, "pod credentials issued");
        let reuse_until = credentials.expiration - REUSE_MARGIN;
        if reuse_until > info.now {
            self.pod_cache.insert(
                key,
                Arc::new(CachedPod {
                    credentials: credentials.clone(),
                    reuse_until,
                    token_exp: identity.token.exp,
                }),
            );
        }
        Ok(credentials)
    }

    /// The role session: the trust must consent for the pod identity service, with the tags.
    fn pod_session(
        &self,
        pod: &PodIdentity,
        association: &PodAssociation,
        identity: &Identity,
        info: &RequestInfo,
    ) -> Result<PodCredentials, StsError> {
        let denied = || {
            StsError::access_denied(format!(
                "The role {} does not trust {POD_IDENTITY_SERVICE} for sts:AssumeRole and sts:TagSession",
                association.role_arn
            ))
        };
        let role = self
            .store
            .role(&association.role_arn)
            .ok_or_else(denied)?
            .clone();
        let k8s = Kubernetes::of(identity);
        let session_name = session_name(&pod.cluster_name, k8s.pod_name.as_deref());
        let tags = k8s.tags(pod);
        let keys = tags.iter().map(|(k, _)| k.clone()).collect();
        let tags = SessionTags::checked(tags, keys, vec![])?;
        let mut ctx = crate::authz::anonymous_context("sts:AssumeRole", &role.arn, info);
        ctx.set("sts:RoleSessionName", session_name.clone());
        tags.request_keys(&mut ctx);
        let service = Principal {
            arn: POD_IDENTITY_SERVICE.into(),
            account: String::new(),
            unique_id: POD_IDENTITY_SERVICE.into(),
            kind: PrincipalKind::Service {
                name: POD_IDENTITY_SERVICE.into(),
            },
        };
        for action in ["sts:AssumeRole", "sts:TagSession"] {
            let mut c = ctx.clone();
            c.action = action.into();
            if !authorize_by_trust(&role.trust, &role.arn, &service, &c).is_allowed() {
                return Err(denied());
            }
        }
        let duration = association.duration_seconds;
        let claims = self.mint_role_session(&role, &session_name, duration, info, |c| {
            (c.tags, c.transitive_tag_keys) = tags.claims();
        });
        crate::audit::note(|f| {
            f.web_identity = Some((
                identity.provider.config.arn.clone(),
                identity.token.aud.clone(),
                identity.token.sub.clone(),
            ));
            f.resource = Some(role.arn.clone());
        });
        let token = self.session_token(&claims);
        Ok(PodCredentials {
            access_key_id: claims.access_key_id.clone(),
            secret_access_key: claims.secret_access_key.clone(),
            token,
            account: role.account.clone(),
            expiration: claims.expires_at,
            reused: false,
        })
    }
}

/// The first association whose provider issued the token, whose subject pattern matches its
/// `sub`, and whose audience its `aud` holds.
fn association<'p>(
    pod: &'p PodIdentity,
    identity: &Identity,
) -> Result<&'p PodAssociation, StsError> {
    let token = &identity.token;
    let audiences: Vec<&str> = match token.claims.get("aud") {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str()).collect(),
        _ => vec![],
    };
    pod.associations
        .iter()
        .find(|a| {
            a.provider == identity.provider.config.url
                && a.subject_pattern.matches(&token.sub)
                && audiences.contains(&a.audience.as_str())
        })
        .ok_or_else(|| {
            StsError::access_denied(format!(
                "No pod identity association matches {} (audience {})",
                token.sub,
                audiences.join(", ")
            ))
        })
}

/// What a Kubernetes service-account token says of its pod.
struct Kubernetes {
    namespace: Option<String>,
    service_account: Option<String>,
    pod_name: Option<String>,
    pod_uid: Option<String>,
}

impl Kubernetes {
    /// From the `kubernetes.io` claim, or (namespace and service account) from a
    /// `system:serviceaccount:NS:NAME` subject.
    fn of(identity: &Identity) -> Kubernetes {
        let k = identity.token.claims.get("kubernetes.io");
        let at = |path: &[&str]| {
            let mut v = k?;
            for p in path {
                v = v.get(p)?;
            }
            v.as_str().map(str::to_string)
        };
        let mut sub = identity
            .token
            .sub
            .strip_prefix("system:serviceaccount:")
            .map(|rest| rest.splitn(2, ':'))
            .into_iter()
            .flatten();
        let (sub_ns, sub_sa) = (sub.next().map(String::from), sub.next().map(String::from));
        Kubernetes {
            namespace: at(&["namespace"]).or(sub_ns),
            service_account: at(&["serviceaccount", "name"]).or(sub_sa),
            pod_name: at(&["pod", "name"]),
            pod_uid: at(&["pod", "uid"]),
        }
    }

    /// EKS's session tags, those the token gives a value for.
    fn tags(&self, pod: &PodIdentity) -> Vec<(String, String)> {
        let mut tags = vec![
            ("eks-cluster-arn".to_string(), pod.cluster_arn.clone()),
            ("eks-cluster-name".to_string(), pod.cluster_name.clone()),
        ];
        for (key, value) in [
            ("kubernetes-namespace", &self.namespace),
            ("kubernetes-service-account", &self.service_account),
            ("kubernetes-pod-name", &self.pod_name),
            ("kubernetes-pod-uid", &self.pod_uid),
        ] {
            if let Some(v) = value {
                tags.push((key.to_string(), v.clone()));
            }
        }
        tags
    }
}

/// `eks-<cluster>-<pod>-<random>`, at most 64 characters of `[\w+=,.@-]`.
fn session_name(cluster: &str, pod: Option<&str>) -> String {
    let mut random = [0u8; 5];
    getrandom::fill(&mut random).expect("the OS random source works");
    let tail = hex::encode(random);
    let mut head = format!("eks-{cluster}-{}", pod.unwrap_or("pod"));
    head.retain(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c));
    head.truncate(64 - tail.len() - 1);
    format!("{head}-{tail}")
}

//! The container-credentials endpoint (`GET /v1/credentials`, `[pod_identity]`): the pod's
//! service-account token in `Authorization`, as every AWS SDK's container provider sends it
//! (`AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`), answered with the JSON those providers parse;
//! refusals are `{"code": …, "message": …}` with the status of the STS error behind them.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;

use super::State;
use super::authn::{self, Front};
use crate::sts::StsError;

pub async fn handle(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    front: &Front<'_>,
) -> Response<Full<Bytes>> {
    let request_id = crate::sts::xml::request_id();
    crate::audit::note(|f| {
        f.event_source = "eks-auth.amazonaws.com";
        f.event_name = "AssumeRoleForPodIdentity".into();
        f.request_id = request_id.clone();
        f.read_only = Some(false);
    });
    match serve(state, peer, parts, front).await {
        Ok(c) => {
            state
                .metrics
                .record_pod(if c.reused { "reused" } else { "issued" });
            let body = serde_json::json!({
                "AccessKeyId": c.access_key_id,
                "SecretAccessKey": c.secret_access_key,
                "Token": c.token,
                "AccountId": c.account,
                "Expiration": crate::sts::xml::timestamp(c.expiration),
            });
            json(StatusCode::OK, body.to_string(), &request_id)
        }
        Err(e) => {
            tracing::info!(code = e.code, "pod credentials refused");
            state.metrics.record_pod(e.code);
            crate::audit::note_error(e.code, &e.message);
            let body = serde_json::json!({"code": e.code, "message": e.message});
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::FORBIDDEN);
            let mut r = json(status, body.to_string(), &request_id);
            r.extensions_mut()
                .insert(super::metrics::Refusal(e.code.to_string()));
            r
        }
    }
}

async fn serve(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    front: &Front<'_>,
) -> Result<crate::sts::service::PodCredentials, StsError> {
    let Some(pod) = &state.config.pod_identity else {
        return Err(StsError {
            status: 404,
            code: "NotFound",
            message: "No [pod_identity] is configured".into(),
        });
    };
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| StsError {
            status: 400,
            code: "InvalidRequest",
            message: "The Authorization header must hold the pod's service-account token (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)".into(),
        })?;
    // Unsigned: no credential scope names a region; the first configured one stands in.
    let info = authn::request_info(state, parts, front, peer, state.default_region());
    state.sts.pod_credentials(pod, token, &info).await
}

fn json(status: StatusCode, body: String, request_id: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-amzn-RequestId", request_id)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

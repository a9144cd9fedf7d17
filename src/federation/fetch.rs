//! Fetching a provider's keys: its discovery document (`/.well-known/openid-configuration`),
//! then the `jwks_uri` it names, each one GET over https (rustls; the provider's `ca_file` or
//! the system's roots), bounded in size and time, redirects not followed. With thumbprints
//! configured, the top certificate of the chain each host presents must have one of them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use sha1::{Digest, Sha1};

use crate::config::OidcProvider;

/// Longest discovery document read.
const MAX_DISCOVERY_BYTES: usize = 64 * 1024;
/// Longest JWKS read.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// One GET, connect to last byte.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The provider's JWKS document, as fetched.
pub async fn jwks(
    provider: &OidcProvider,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Bytes, String> {
    let discovery_url = format!("{}/.well-known/openid-configuration", provider.url);
    let discovery = get(&discovery_url, tls, provider, MAX_DISCOVERY_BYTES).await?;
    let doc: serde_json::Value = serde_json::from_slice(&discovery)
        .map_err(|e| format!("{discovery_url}: the discovery document is not JSON: {e}"))?;
    // OpenID Connect Discovery 1.0 §4.3: the document's issuer is the URL it was fetched for.
    if doc.get("issuer").and_then(|v| v.as_str()) != Some(provider.url.as_str()) {
        return Err(format!(
            "{discovery_url}: the discovery document's issuer is not {}",
            provider.url
        ));
    }
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("{discovery_url}: the discovery document has no jwks_uri"))?;
    get(jwks_uri, tls, provider, MAX_JWKS_BYTES).await
}

/// One https GET answered 200, its body at most `max` bytes.
async fn get(
    url: &str,
    tls: &Arc<rustls::ClientConfig>,
    provider: &OidcProvider,
    max: usize,
) -> Result<Bytes, String> {
    tokio::time::timeout(FETCH_TIMEOUT, get_inner(url, tls, provider, max))
        .await
        .map_err(|_| format!("{url}: no answer within {} s", FETCH_TIMEOUT.as_secs()))?
}

async fn get_inner(
    url: &str,
    tls: &Arc<rustls::ClientConfig>,
    provider: &OidcProvider,
    max: usize,
) -> Result<Bytes, String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("{url}: not a URL"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("{url}: keys are fetched over https only"));
    }
    let host = uri
        .host()
        .ok_or_else(|| format!("{url}: no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(443);
    let name = ServerName::try_from(host.clone()).map_err(|_| format!("{url}: bad host"))?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("{url}: cannot connect: {e}"))?;
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("{url}: TLS: {e}"))?;
    if !provider.thumbprints.is_empty() {
        let top = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.last())
            .map(|c| hex::encode(Sha1::digest(c.as_ref())));
        if !top.is_some_and(|t| provider.thumbprints.contains(&t)) {
            return Err(format!(
                "{url}: the top certificate of the chain the host presents matches none of the provider's thumbprints"
            ));
        }
    }
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{url}: HTTP: {e}"))?;
    tokio::spawn(conn);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().map_or(host.as_str(), |a| a.as_str());
    let request = http::Request::get(path)
        .header(http::header::HOST, authority)
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, "stsgate")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{url}: HTTP: {e}"))?;
    if response.status() != http::StatusCode::OK {
        return Err(format!("{url}: answered {}", response.status()));
    }
    let body = http_body_util::Limited::new(response.into_body(), max)
        .collect()
        .await
        .map_err(|e| format!("{url}: the body is cut off or larger than {max} bytes: {e}"))?;
    Ok(body.to_bytes())
}

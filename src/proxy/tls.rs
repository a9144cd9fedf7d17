//! TLS to https backends (rustls, ring provider): the system's roots or a configured CA bundle,
//! an optional client certificate, SNI and certificate names from the backend URL's host. A
//! certificate that does not verify fails the connection; there is no switch that skips it.

use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::config::tls_material::{load_identity, load_roots};

/// What a pool needs to open TLS connections to one backend.
#[derive(Clone)]
pub struct BackendTls {
    pub connector: TlsConnector,
    pub server_name: ServerName<'static>,
}

/// The TLS settings of a backend, or `None` for an http:// backend.
pub fn for_backend(backend: &crate::config::Backend) -> Result<Option<BackendTls>, String> {
    if backend.url.scheme_str() != Some("https") {
        return Ok(None);
    }
    let host = backend
        .url
        .host()
        .ok_or_else(|| format!("backend \"{}\": the URL has no host", backend.name))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let server_name = ServerName::try_from(host.to_string()).map_err(|e| {
        format!(
            "backend \"{}\": {host} is not a TLS server name: {e}",
            backend.name
        )
    })?;
    let roots = load_roots(backend.ca_file.as_deref())?;
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS versions: {e}"))?
    .with_root_certificates(roots);
    let mut config = match &backend.client_identity {
        Some((cert, key)) => {
            let (chain, key) = load_identity(cert, key)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                format!(
                    "backend \"{}\": client_cert and client_key do not fit together: {e}",
                    backend.name
                )
            })?
        }
        None => builder.with_no_client_auth(),
    };
    // The pool speaks HTTP/1.1 upstream.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(BackendTls {
        connector: TlsConnector::from(Arc::new(config)),
        server_name,
    }))
}

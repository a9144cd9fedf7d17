//! TLS to https backends (rustls, ring provider): the system's roots or a configured CA bundle,
//! an optional client certificate, SNI and certificate names from the backend URL's host. A
//! certificate that does not verify fails the connection; there is no switch that skips it.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::TlsConnector;

/// The trust anchors: the PEM bundle `ca_file`, or the operating system's roots.
pub fn load_roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read CA bundle {}: {e}", path.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("bad certificate in CA bundle {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("CA bundle {} holds no certificate", path.display()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    format!("CA bundle {}: unusable certificate: {e}", path.display())
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(
                    "no system CA certificates found (install ca-certificates, or set ca_file)"
                        .into(),
                );
            }
        }
    }
    Ok(roots)
}

/// A client certificate chain and its key, checked to be readable.
pub fn load_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read client_cert {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad certificate in client_cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "client_cert {} holds no certificate",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "cannot read a private key from client_key {}: {e}",
            key.display()
        )
    })?;
    Ok((chain, key))
}

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

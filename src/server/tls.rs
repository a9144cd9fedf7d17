//! TLS for the gateway listener (rustls with the ring provider).

use std::io;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// Builds an acceptor from PEM files; offers HTTP/2 and HTTP/1.1 through ALPN.
pub fn acceptor(files: &TlsFiles) -> io::Result<TlsAcceptor> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}"))
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| invalid(&format!("cannot read {}", files.cert.display()), &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&format!("bad certificate in {}", files.cert.display()), &e))?;
    if certs.is_empty() {
        return Err(invalid("no certificate", &files.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        invalid(
            &format!("cannot read a private key from {}", files.key.display()),
            &e,
        )
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| invalid("TLS versions", &e))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| invalid("certificate and key do not fit together", &e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

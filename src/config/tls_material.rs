//! TLS material for https backends, read from the files the config names: trust anchors and a
//! client identity. `config` checks them at load time (a file that does not parse is a config
//! error); `proxy::tls` builds connectors from them.

use std::path::Path;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

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

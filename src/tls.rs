//! HTTPS with rustls: the certificate chain and key of `[tls]`, read at
//! start and read again on SIGHUP. New TLS connections get whichever pair
//! was read last; a pair that cannot be used is refused and the one in use
//! stays.

use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ConfigError, TlsConfig};

/// The certificate every new TLS connection is offered, swapped whole on a
/// reload.
#[derive(Debug)]
pub struct ReloadableCert {
    files: TlsConfig,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    /// Reads the pair of `files`; problems name the config key.
    pub fn load(files: &TlsConfig) -> Result<Arc<ReloadableCert>, ConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = read_pair(files, &provider)?;
        Ok(Arc::new(ReloadableCert {
            files: files.clone(),
            provider,
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Reads the files again: from now on new connections get the new pair.
    /// On any problem (unreadable, no certificate, a key that does not
    /// match) the pair in use stays and the problem is returned.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let key = read_pair(&self.files, &self.provider)?;
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(key),
            // A writer never panics while holding the lock; were one to,
            // the value inside is still a whole pair.
            Err(poisoned) => *poisoned.into_inner() = Arc::new(key),
        }
        Ok(())
    }

    /// The server configuration that asks this for each connection's
    /// certificate.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, ConfigError> {
        Ok(
            rustls::ServerConfig::builder_with_provider(self.provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| ConfigError {
                    key: "tls.cert_file".into(),
                    problem: e.to_string(),
                })?
                .with_no_client_auth()
                .with_cert_resolver(self.clone()),
        )
    }

    fn current(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Reads and checks a certificate chain and its private key.
fn read_pair(files: &TlsConfig, provider: &CryptoProvider) -> Result<CertifiedKey, ConfigError> {
    let bad = |key: &str, problem: String| ConfigError {
        key: key.to_owned(),
        problem,
    };
    let cert_path = files.cert_file.display();
    let certs = CertificateDer::pem_file_iter(&files.cert_file)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad("tls.cert_file", format!("{cert_path}: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            "tls.cert_file",
            format!("{cert_path}: no certificate found"),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key_file)
        .map_err(|e| bad("tls.key_file", format!("{}: {e}", files.key_file.display())))?;
    CertifiedKey::from_der(certs, key, provider).map_err(|e| {
        bad(
            "tls.key_file",
            format!(
                "{}: does not fit the certificate: {e}",
                files.key_file.display()
            ),
        )
    })
}

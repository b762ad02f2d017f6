//! The certificate an HTTPS endpoint of the operator presents, swapped in
//! place when it changes. For `/metrics`: from a directory (`tls.crt` and
//! `tls.key`, as a `kubernetes.io/tls` Secret mounts them, e.g. one
//! cert-manager renews), re-read when the files change, or else self-signed
//! at start-up, as Kubernetes' own components do when given none. The
//! admission webhook installs the certificates its keeper issues or reads.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

pub const CERT_FILE: &str = "tls.crt";
pub const KEY_FILE: &str = "tls.key";

/// How often a mounted certificate is compared with the one in use.
const RELOAD_CHECK: Duration = Duration::from_secs(30);

/// The certificate in use, swapped whole; handshakes fail while there is none.
#[derive(Default)]
pub struct ServingCert {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl fmt::Debug for ServingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServingCert")
    }
}

impl ResolvesServerCert for ServingCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ServingCert {
    fn new(key: CertifiedKey) -> Arc<Self> {
        let cert = Arc::new(ServingCert::default());
        cert.install(key);
        cert
    }

    /// Takes `key` for every handshake from now on.
    pub fn install(&self, key: CertifiedKey) {
        // A poisoned lock only means a panic elsewhere mid-swap; the value is whole.
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(key));
    }

    pub fn installed(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// A self-signed certificate for `names` (DNS names or IP addresses).
    pub fn self_signed(names: Vec<String>) -> anyhow::Result<Arc<Self>> {
        let made = rcgen::generate_simple_self_signed(names)
            .context("making a self-signed certificate")?;
        let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
            .map_err(|e| anyhow::anyhow!("the generated key: {e}"))?;
        Ok(Self::new(certified(vec![made.cert.der().clone()], &key)?))
    }

    /// The certificate chain and key in `dir`.
    pub fn from_dir(dir: &Path) -> anyhow::Result<Arc<Self>> {
        Ok(Self::new(read_dir(dir)?))
    }

    /// Server settings that present this certificate, HTTP/1.1 only.
    pub fn acceptor(self: &Arc<Self>) -> anyhow::Result<TlsAcceptor> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Re-reads `dir` now and then and takes the files when they changed and
    /// form a valid pair; a broken pair is logged and the old one kept.
    pub async fn follow_dir(self: Arc<Self>, dir: PathBuf) {
        let mut seen = read_files(&dir).await.ok();
        loop {
            tokio::time::sleep(RELOAD_CHECK).await;
            let Ok(files) = read_files(&dir).await else {
                continue;
            };
            if seen.as_ref() == Some(&files) {
                continue;
            }
            match certified_from_pem(&files.0, &files.1) {
                Ok(key) => {
                    self.install(key);
                    tracing::info!(dir = %dir.display(), "serving certificate reloaded");
                    seen = Some(files);
                }
                Err(error) => {
                    tracing::warn!(dir = %dir.display(), %error, "new serving certificate not taken")
                }
            }
        }
    }
}

async fn read_files(dir: &Path) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    Ok((
        tokio::fs::read(dir.join(CERT_FILE)).await?,
        tokio::fs::read(dir.join(KEY_FILE)).await?,
    ))
}

fn read_dir(dir: &Path) -> anyhow::Result<CertifiedKey> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    certified_from_pem(&read(CERT_FILE)?, &read(KEY_FILE)?)
        .with_context(|| format!("the certificate in {}", dir.display()))
}

/// A serving certificate (a chain may follow it) and its key, from PEM.
pub fn certified_from_pem(chain: &[u8], key: &[u8]) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_slice_iter(chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{CERT_FILE}: {e}"))?;
    if chain.is_empty() {
        anyhow::bail!("{CERT_FILE} holds no certificate");
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| anyhow::anyhow!("{KEY_FILE}: {e}"))?;
    certified(chain, &key)
}

fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'_>,
) -> anyhow::Result<CertifiedKey> {
    let signing = rustls::crypto::ring::sign::any_supported_type(key).context("the private key")?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .context("the certificate does not match the key")?;
    Ok(certified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_pair(name: &str) -> (String, String) {
        let made = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        (made.cert.pem(), made.signing_key.serialize_pem())
    }

    #[test]
    fn a_pair_from_a_directory_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pem_pair("a.example");
        std::fs::write(dir.path().join(CERT_FILE), cert).unwrap();
        std::fs::write(dir.path().join(KEY_FILE), key).unwrap();
        assert!(ServingCert::from_dir(dir.path()).is_ok());
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (cert, _) = pem_pair("a.example");
        let (_, other_key) = pem_pair("b.example");
        let error = certified_from_pem(cert.as_bytes(), other_key.as_bytes()).unwrap_err();
        assert!(format!("{error:#}").contains("does not match"), "{error:#}");
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let error = ServingCert::from_dir(dir.path()).unwrap_err();
        assert!(format!("{error:#}").contains(CERT_FILE), "{error:#}");
    }

    #[test]
    fn a_file_without_a_certificate_is_refused() {
        let (_, key) = pem_pair("a.example");
        let error = certified_from_pem(b"not PEM", key.as_bytes()).unwrap_err();
        assert!(format!("{error:#}").contains("no certificate"), "{error:#}");
    }
}

//! Mutual TLS for the internal gRPC services (Ledger, Consensus, P2pGateway, CryptoCore).
//!
//! The internal port is trusted: whoever reaches it can apply blocks, publish gossip as the
//! node and read its mempool. Off loopback it must therefore authenticate both ends. One CA
//! per validator signs the certificates of that validator's services and tools; a server
//! admits only clients presenting a certificate that CA signed ([`server_config`]), and a
//! client checks the server's certificate against the same CA and presents its own
//! ([`client_config`]). The files are PEM (what `coinjectured tls gen` writes).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The PEM files of one end of an internal connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA that signs this validator's certificates (the only one trusted).
    pub ca: PathBuf,
    /// This end's certificate (signed by `ca`).
    pub cert: PathBuf,
    /// This end's private key.
    pub key: PathBuf,
}

/// A TLS file that cannot be used; `field` is `ca`, `cert` or `key`.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("{field}: cannot read {path}: {source}")]
    Read { field: &'static str, path: PathBuf, source: std::io::Error },
    /// The file is not PEM of the expected kind.
    #[error("{field}: {path} is not a PEM {expected}")]
    NotPem { field: &'static str, path: PathBuf, expected: &'static str },
}

/// How long a TLS handshake may take before the connection is dropped (a client that opens a
/// socket and sends nothing must not hold it).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn read_pem(field: &'static str, path: &Path, expected: &'static str, marker: &str) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read { field, path: path.to_path_buf(), source })?;
    let text = String::from_utf8_lossy(&bytes);
    if !(text.contains("-----BEGIN ") && text.contains(marker)) {
        return Err(TlsError::NotPem { field, path: path.to_path_buf(), expected });
    }
    Ok(bytes)
}

impl TlsFiles {
    fn ca_pem(&self) -> Result<Vec<u8>, TlsError> {
        read_pem("ca", &self.ca, "certificate", "CERTIFICATE-----")
    }

    fn identity(&self) -> Result<Identity, TlsError> {
        let cert = read_pem("cert", &self.cert, "certificate", "CERTIFICATE-----")?;
        let key = read_pem("key", &self.key, "private key", "PRIVATE KEY-----")?;
        Ok(Identity::from_pem(cert, key))
    }
}

/// A server that requires a client certificate signed by `files.ca`.
pub fn server_config(files: &TlsFiles) -> Result<ServerTlsConfig, TlsError> {
    Ok(ServerTlsConfig::new()
        .identity(files.identity()?)
        .client_ca_root(Certificate::from_pem(files.ca_pem()?))
        .client_auth_optional(false)
        .timeout(HANDSHAKE_TIMEOUT))
}

/// A client that trusts only `files.ca` and presents `files.cert`. `domain` is the name checked
/// against the server's certificate (default: the URL's host).
pub fn client_config(files: &TlsFiles, domain: Option<&str>) -> Result<ClientTlsConfig, TlsError> {
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(files.ca_pem()?))
        .identity(files.identity()?)
        .timeout(HANDSHAKE_TIMEOUT);
    Ok(match domain {
        Some(d) => config.domain_name(d),
        None => config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_and_non_pem_files_name_the_field() {
        let dir = std::env::temp_dir().join(format!("cj-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not pem").expect("write");
        let files = TlsFiles { ca: dir.join("missing.pem"), cert: junk.clone(), key: junk };
        let err = server_config(&files).expect_err("missing files").to_string();
        assert!(err.starts_with("cert: ") && err.contains("not a PEM certificate"), "{err}");
        let err = client_config(&files, None).expect_err("missing ca").to_string();
        assert!(err.starts_with("ca: cannot read"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Mutual TLS on internal gRPC: the node's internal port, split services' listeners and their
//! clients (`api.internal_tls`), and `coinjectured tls gen`, which writes a development CA and
//! certificates. The rule (README, "Trust model"): internal gRPC binds loopback, or it
//! authenticates both ends; a plaintext non-loopback listener is refused at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use eyre::{WrapErr, bail, eyre};
use tonic::transport::{Endpoint, ServerTlsConfig};

use crate::config::Config;

/// The node's internal port's TLS (`api.internal_tls`), when configured.
pub(crate) fn server_tls(config: &Config) -> eyre::Result<Option<ServerTlsConfig>> {
    if let Some(warning) = config.api.internal_tls.as_ref().and_then(|t| crate::keys::exposure_warning(&t.key)) {
        tracing::warn!("api.internal_tls.key: {warning}");
    }
    config
        .api
        .internal_tls
        .as_ref()
        .map(|t| coinjecture_proto::tls::server_config(&t.files()).map_err(|e| eyre!("api.internal_tls.{e}")))
        .transpose()
}

/// A gRPC server builder with our settings, serving mutual TLS when `tls` is given.
pub(crate) fn builder(tls: Option<ServerTlsConfig>) -> eyre::Result<coinjecture_proto::server::Builder> {
    let builder = coinjecture_proto::server::builder();
    match tls {
        Some(tls) => builder.tls_config(tls).map_err(|e| eyre!("api.internal_tls: {e}")),
        None => Ok(builder),
    }
}

/// The TLS of a split service listening on `listen` (`--listen`): mutual TLS when the config has
/// `api.internal_tls`; otherwise plaintext, which is refused off loopback unless
/// `insecure_public` is `Some(true)` (`None` for a service that cannot take it: only crypto-core,
/// which holds no state and no key, may).
pub(crate) fn listener_tls(
    config: Option<&Config>,
    listen: SocketAddr,
    insecure_public: Option<bool>,
) -> eyre::Result<Option<ServerTlsConfig>> {
    if let Some(config) = config
        && config.api.internal_tls.is_some()
    {
        return server_tls(config);
    }
    if !listen.ip().is_loopback() {
        match insecure_public {
            Some(true) => {
                tracing::warn!(%listen, "serving plaintext gRPC off loopback (--insecure-public)");
            }
            Some(false) => bail!(
                "--listen {listen}: not a loopback address: pass --config with api.internal_tls {{ca, cert, key}} \
                 for mutual TLS, or --insecure-public to serve crypto-core (no state, no key) in plaintext"
            ),
            None => bail!(
                "--listen {listen}: not a loopback address, and internal gRPC must not be open without mutual TLS: \
                 set api.internal_tls {{ca, cert, key}} in the config (`coinjectured tls gen`) or listen on 127.0.0.1"
            ),
        }
    }
    Ok(None)
}

/// An endpoint for an internal service URL (`key` names it in errors, e.g. `services.ledger`):
/// `https://` uses mutual TLS with `api.internal_tls`, `http://` is plaintext.
pub(crate) fn endpoint(url: &str, key: &str, config: &Config) -> eyre::Result<Endpoint> {
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| eyre!("{key}: {url:?}: {e}"))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5));
    if !url.starts_with("https://") {
        return Ok(endpoint);
    }
    let Some(tls) = &config.api.internal_tls else {
        bail!("{key}: {url} is https, which needs api.internal_tls {{ca, cert, key}} for the client certificate");
    };
    let client =
        coinjecture_proto::tls::client_config(&tls.files(), None).map_err(|e| eyre!("api.internal_tls.{e}"))?;
    endpoint.tls_config(client).map_err(|e| eyre!("{key}: {e}"))
}

/// The common name of every CA `tls gen` writes; a CA is rebuilt from its key and this name to
/// sign more certificates (the issuer name and key are what a verifier checks).
const CA_NAME: &str = "COINjecture internal CA (development)";

fn ca_params() -> eyre::Result<rcgen::CertificateParams> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).wrap_err("CA parameters")?;
    params.distinguished_name.push(rcgen::DnType::CommonName, CA_NAME);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    Ok(params)
}

/// What `tls gen` wrote.
#[derive(Debug)]
pub(crate) struct Generated {
    pub(crate) ca: PathBuf,
    pub(crate) ca_created: bool,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

/// `coinjectured tls gen`: in `dir`, a CA (`ca.pem`, `ca-key.pem`; reused when present) and a
/// certificate `<name>.pem` + `<name>-key.pem` for `names` (DNS names or IP addresses, plus
/// localhost, 127.0.0.1 and ::1), valid as server and as client. Keys are written 0600, `dir`
/// is created 0700.
pub(crate) fn generate(dir: &Path, names: &[String], name: &str, force: bool) -> eyre::Result<Generated> {
    if name.is_empty() || name == "ca" || name.contains(['/', '\\']) {
        bail!("--cert-name: {name:?} must be a plain file name other than \"ca\"");
    }
    crate::keys::create_private_dir(dir)?;
    let (ca_pem, ca_key_pem) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    let ca_created = !ca_key_pem.exists();
    let (ca_cert, ca_key) = if ca_created {
        let key = rcgen::KeyPair::generate().wrap_err("generating the CA key")?;
        let cert = ca_params()?.self_signed(&key).wrap_err("signing the CA certificate")?;
        write_private(&ca_key_pem, &key.serialize_pem(), false)?;
        write_public(&ca_pem, &cert.pem())?;
        (cert, key)
    } else {
        let text =
            std::fs::read_to_string(&ca_key_pem).wrap_err_with(|| format!("reading {}", ca_key_pem.display()))?;
        let key = rcgen::KeyPair::from_pem(&text).map_err(|e| eyre!("{}: not a PEM key: {e}", ca_key_pem.display()))?;
        if !ca_pem.exists() {
            bail!("{} exists but {} does not: remove the key to make a new CA", ca_key_pem.display(), ca_pem.display());
        }
        let cert = ca_params()?.self_signed(&key).wrap_err("rebuilding the CA")?;
        (cert, key)
    };
    let mut sans: Vec<String> = names.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
    for default in ["localhost", "127.0.0.1", "::1"] {
        if !sans.iter().any(|n| n == default) {
            sans.push(default.to_string());
        }
    }
    let mut params = rcgen::CertificateParams::new(sans).map_err(|e| eyre!("--names: {e}"))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages =
        vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().wrap_err("generating the key")?;
    let cert = params.signed_by(&key, &ca_cert, &ca_key).wrap_err("signing the certificate")?;
    let (cert_path, key_path) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}-key.pem")));
    write_private(&key_path, &key.serialize_pem(), force)?;
    write_public(&cert_path, &cert.pem())?;
    Ok(Generated { ca: ca_pem, ca_created, cert: cert_path, key: key_path })
}

fn write_private(path: &Path, text: &str, force: bool) -> eyre::Result<()> {
    crate::keys::write_private(path, text.as_bytes(), force, "replace it")
}

fn write_public(path: &Path, text: &str) -> eyre::Result<()> {
    std::fs::write(path, text).wrap_err_with(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_load_as_server_and_client_tls_and_the_ca_is_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = dir.path().join("tls");
        let first = generate(&tls, &["validator-1-ledger".into(), "10.0.0.7".into()], "node", false).expect("gen");
        assert!(first.ca_created);
        let files = coinjecture_proto::tls::TlsFiles { ca: first.ca.clone(), cert: first.cert, key: first.key.clone() };
        coinjecture_proto::tls::server_config(&files).expect("server config");
        coinjecture_proto::tls::client_config(&files, None).expect("client config");
        let ca_before = std::fs::read(&first.ca).expect("ca");
        let second = generate(&tls, &[], "operator", false).expect("second cert");
        assert!(!second.ca_created);
        assert_eq!(std::fs::read(&second.ca).expect("ca"), ca_before);
        let err = generate(&tls, &[], "operator", false).expect_err("no silent overwrite").to_string();
        assert!(err.contains("already exists"), "{err}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode(&tls), 0o700);
            assert_eq!(mode(&first.key), 0o600);
            assert_eq!(mode(&tls.join("ca-key.pem")), 0o600);
        }
    }
}

//! Validator key files: `keygen` writes them, every other command reads them.
//!
//! Format: one line of hex, the 32-byte ed25519 secret seed (64 hex characters). For
//! compatibility with tools that store the 64-byte "secret ‖ public" form (Go's
//! `ed25519.PrivateKey`, libsodium), 128 hex characters are accepted too when the second half is
//! the public key of the first. Files are created with mode 0600.

use std::io::Write;
use std::path::Path;

use coinjecture_crypto_core::signatures::Keypair;
use eyre::{WrapErr, bail, eyre};

/// The libp2p peer id of a validator key (the node's network identity is its validator key).
/// (The derivation lives in p2p-gateway, which uses the same key for the swarm.)
pub(crate) fn peer_id(seed: &[u8; 32]) -> eyre::Result<String> {
    Ok(coinjecture_p2p_gateway::peer_id_from_seed(*seed).to_string())
}

/// Generates a key and writes it to `path` (mode 0600). Refuses to overwrite unless `force`.
pub(crate) fn generate(path: &Path, force: bool) -> eyre::Result<Keypair> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| eyre!("no randomness from the operating system: {e}"))?;
    write(path, &seed, force)?;
    Ok(Keypair::from_seed(&seed))
}

/// Creates `path` with mode 0600 (also when `force` replaces an existing file, whose mode
/// `create` would keep), writes `bytes` and syncs them. Without `force` an existing file is an
/// error telling the operator to pass `--force` to `what_force_does`.
pub(crate) fn write_private(path: &Path, bytes: &[u8], force: bool, what_force_does: &str) -> eyre::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            eyre!("{} already exists; use --force to {what_force_does}", path.display())
        }
        _ => eyre!("cannot create {}: {e}", path.display()),
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // `mode` applies only to new files; make an overwritten one private too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .wrap_err_with(|| format!("setting permissions of {}", path.display()))?;
    }
    file.write_all(bytes).wrap_err_with(|| format!("writing {}", path.display()))?;
    file.sync_all().wrap_err_with(|| format!("writing {}", path.display()))
}

/// Writes `seed` to `path` with mode 0600.
pub(crate) fn write(path: &Path, seed: &[u8; 32], force: bool) -> eyre::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    write_private(path, format!("{}\n", hex::encode(seed)).as_bytes(), force, "overwrite it (the old key is lost)")
}

/// Creates `dir` and its missing parents with mode 0700 whatever the umask (directories that
/// exist are left as they are).
pub(crate) fn create_private_dir(dir: &Path) -> eyre::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        // The umask can only remove bits from 0700, never add group or world access.
        builder.mode(0o700);
    }
    builder.create(dir).wrap_err_with(|| format!("creating directory {}", dir.display()))
}

/// A warning when the secret key file `path` can be read or written by its group or others
/// (the key signs blocks and votes: whoever copies it can equivocate as this validator).
pub(crate) fn exposure_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let metadata = std::fs::metadata(path).ok()?;
        let mode = metadata.permissions().mode() & 0o777;
        // Group access is how this process reads a file someone else owns in its own group: a
        // Kubernetes Secret volume (root:fsGroup, 0440). That is not an exposure; other owners'
        // group bits and any world bits are. (`/proc/self` belongs to this process's uid/gid.)
        let group_is_how_we_read = std::fs::metadata("/proc/self")
            .is_ok_and(|me| metadata.uid() != me.uid() && metadata.gid() == me.gid() && mode & 0o020 == 0);
        let exposed = if group_is_how_we_read { mode & 0o007 != 0 } else { mode & 0o077 != 0 };
        exposed.then(|| {
            format!(
                "key file {} has mode {mode:04o}: its group or other users can read it; run `chmod 600 {}`",
                path.display(),
                path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Reads a key file (warning in the log when others can read it).
pub(crate) fn read(path: &Path) -> eyre::Result<Keypair> {
    if let Some(warning) = exposure_warning(path) {
        tracing::warn!(path = %path.display(), "{warning}");
    }
    let text = std::fs::read_to_string(path).map_err(|e| eyre!("cannot read key file {}: {e}", path.display()))?;
    parse(text.trim()).wrap_err_with(|| format!("key file {}", path.display()))
}

/// Parses the hex of a seed (64 characters) or seed ‖ public key (128 characters).
pub(crate) fn parse(text: &str) -> eyre::Result<Keypair> {
    let bytes = hex::decode(text).map_err(|e| eyre!("not hex: {e}"))?;
    match bytes.len() {
        32 => {
            let mut seed = [0u8; 32];
            seed.copy_from_slice(&bytes);
            Ok(Keypair::from_seed(&seed))
        }
        64 => {
            let mut seed = [0u8; 32];
            seed.copy_from_slice(&bytes[..32]);
            let keys = Keypair::from_seed(&seed);
            if keys.public_key().0[..] != bytes[32..] {
                bail!("the second half is not the public key of the first (expected seed ‖ public key)");
            }
            Ok(keys)
        }
        n => bail!("expected 64 hex characters (a 32-byte ed25519 seed) or 128 (seed ‖ public key), found {}", n * 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_with_private_permissions_and_no_silent_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/validator.key");
        let k = generate(&path, false).unwrap();
        assert_eq!(read(&path).unwrap().public_key(), k.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let err = generate(&path, false).unwrap_err().to_string();
        assert!(err.contains("already exists") && err.contains("--force"), "{err}");
        let k2 = generate(&path, true).unwrap();
        assert_ne!(k2.public_key(), k.public_key());
    }

    #[test]
    fn both_hex_forms_parse_and_bad_ones_say_why() {
        let k = Keypair::from_seed(&[7; 32]);
        let short = hex::encode(k.seed());
        let long = format!("{short}{}", k.public_key().to_hex());
        assert_eq!(parse(&short).unwrap().public_key(), k.public_key());
        assert_eq!(parse(&long).unwrap().public_key(), k.public_key());
        let wrong_half = format!("{short}{}", "00".repeat(32));
        assert!(parse(&wrong_half).unwrap_err().to_string().contains("second half"));
        assert!(parse("abcd").unwrap_err().to_string().contains("found 4"));
        assert!(parse("zz").unwrap_err().to_string().contains("not hex"));
        let dir = tempfile::tempdir().unwrap();
        let missing = read(&dir.path().join("nope.key")).unwrap_err().to_string();
        assert!(missing.contains("cannot read key file") && missing.contains("nope.key"), "{missing}");
    }

    #[test]
    fn peer_id_is_derived_from_the_validator_key() {
        let a = peer_id(&[1; 32]).unwrap();
        assert_eq!(a, peer_id(&[1; 32]).unwrap());
        assert_ne!(a, peer_id(&[2; 32]).unwrap());
        assert!(a.to_string().starts_with("12D3KooW"), "{a}");
    }
}

//! Key hygiene (issue 18, item 6), with real processes: a validator key its group or other
//! users can read is reported by `check-config` and in the node's log at start; `keygen` creates
//! the key's directories 0700 and the key 0600 whatever the umask.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is the failure report")]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use coinjecture_e2e::{Network, binary};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_under_umask_000_creates_private_directories_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys/validator/validator.key");
    let out = Command::new("sh")
        .args(["-c", "umask 000 && exec \"$0\" keygen --output \"$1\""])
        .arg(binary())
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "keygen: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&dir.path().join("keys")), 0o700, "the created parent directory");
    assert_eq!(mode(&dir.path().join("keys/validator")), 0o700, "the key's directory");
    assert_eq!(mode(&key), 0o600, "the key file");
    // The same for the TLS material of `tls gen`.
    let tls = dir.path().join("tls");
    let out = Command::new("sh")
        .args(["-c", "umask 000 && exec \"$0\" tls gen --dir \"$1\" --names 127.0.0.1"])
        .arg(binary())
        .arg(&tls)
        .output()
        .unwrap();
    assert!(out.status.success(), "tls gen: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&tls), 0o700);
    assert_eq!(mode(&tls.join("ca-key.pem")), 0o600);
    assert_eq!(mode(&tls.join("node-key.pem")), 0o600);
}

#[test]
fn a_group_or_world_readable_key_is_reported_by_check_config_and_at_start() {
    let mut net = Network::lay_out(1, "500ms");
    let key = net.dir.path().join("keys/validator-1.key");
    let check = || {
        let out = Command::new(binary()).arg("check-config").arg("--config").arg(net.config_path(0)).output().unwrap();
        assert!(out.status.success(), "check-config: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(!check().contains("warning"), "a 0600 key is fine");
    for bad in [0o640, 0o644] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(bad)).unwrap();
        let stderr = check();
        assert!(
            stderr.contains("warning: consensus.validator_key: key file")
                && stderr.contains(&format!("has mode {bad:04o}"))
                && stderr.contains("chmod 600"),
            "{stderr}"
        );
    }
    // The node warns in its log, and runs (a warning, not a refusal).
    net.start_validator(0);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let log = net.log(0);
        if log.contains("has mode 0644") && log.contains("node started") {
            break;
        }
        assert!(net.exit_status(0).is_none(), "the node exited; log:\n{log}");
        assert!(std::time::Instant::now() < deadline, "no warning in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

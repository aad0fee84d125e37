//! `coinjectured check-config` refuses every configuration `coinjectured node` refuses, naming
//! the key (and the environment variable when one set it), and the node refuses it the same way
//! before it binds anything (#20 item 9, #23 item 3). Real processes on a config written by
//! `coinjectured devnet --init-only`.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use coinjecture_e2e::binary;

fn check_config(config: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(binary()).arg("check-config").arg("--config").arg(config).envs(env.iter().copied()).output().unwrap()
}

/// Runs `node` on `config`; it must exit on its own (with an error) within a minute.
fn node(config: &Path, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(binary())
        .args(["--log-format", "text", "node", "--config"])
        .arg(config)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("the node started on a config check-config refuses: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_config_refuses_what_the_node_refuses_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(binary())
        .args(["devnet", "--init-only", "--validators", "1", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "devnet --init-only: {}", stderr(&out));
    let config = dir.path().join("validator-1.yaml");
    let good = std::fs::read_to_string(&config).unwrap();
    let out = check_config(&config, &[]);
    assert!(out.status.success(), "the devnet's own config: {}", stderr(&out));

    // A genesis whose block limit is out of bounds (the devnet writes its limits out).
    let genesis = std::fs::read_to_string(dir.path().join("genesis.yaml")).unwrap();
    assert!(genesis.contains("max_block_gas: 1000000000\n"), "the devnet's genesis says its limits: {genesis}");
    let bad = genesis.replace("max_block_gas: 1000000000\n", "max_block_gas: 1000\n");
    std::fs::write(dir.path().join("bad-genesis.yaml"), bad).unwrap();

    let swap = |from: &str, to: &str| {
        assert!(good.contains(from), "{from:?} not in the devnet config");
        good.replacen(from, to, 1)
    };
    // (config text, environment, what the error starts with after "error: ")
    type Env<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(String, Env<'_>, &str)> = vec![
        (swap("level: info", "level: bogus!!"), vec![], "logger.level: log level \"bogus!!\" is invalid"),
        (swap("block_time: 2s", "block_time: 0.0001ms"), vec![], "consensus.block_time: \"0.0001ms\" is not a whole"),
        (swap("block_time: 2s", "block_time: 2h"), vec![], "consensus.block_time: \"2h\" must be between 1ms and 1h"),
        (swap("bind: 127.0.0.1", "bind: 127.0.0.300"), vec![], "api.bind: \"127.0.0.300\": invalid IP address"),
        (swap("/ip4/127.0.0.1/tcp/", "/ip4/127.0.0.1/tcpp/"), vec![], "p2p.listen_addrs[0]: "),
        (swap("id: coinjecture-devnet", "id: coinjecture-other"), vec![], "network.genesis: the genesis is for chain"),
        (
            swap("genesis: ./genesis.yaml", "genesis: ./bad-genesis.yaml"),
            vec![],
            "network.genesis: genesis max_block_gas 1000 is below 50000",
        ),
        (
            swap("block_time: 2s", "proposal_budget: 3s\n  block_time: 2s"),
            vec![],
            "consensus.proposal_budget: 3000ms is not in 1ms..=2000ms",
        ),
        (
            good.clone(),
            vec![("COINJECTURE_CONSENSUS_PROPOSAL_BUDGET", "0ms")],
            "consensus.proposal_budget: \"0ms\" must be between 1ms and 1h",
        ),
        (
            swap("database:", "  internal_tls: {ca: ./nope/ca.pem, cert: ./nope/c.pem, key: ./nope/k.pem}\ndatabase:"),
            vec![],
            "api.internal_tls.ca: ",
        ),
        (good.clone(), vec![("COINJECTURE_API_PROT", "8081")], "COINJECTURE_API_PROT: no such configuration key"),
        (good.clone(), vec![("COINJECTURE_LOGGER_LEVEL", "bogus!!")], "logger.level: log level \"bogus!!\" is invalid"),
        (good.clone(), vec![("COINJECTURE_API_GRPC_BIND", "0.0.0.0")], "api.internal_tls: api.grpc_bind 0.0.0.0"),
    ];
    for (text, env, want) in cases {
        std::fs::write(&config, &text).unwrap();
        let checked = check_config(&config, &env);
        let refused = stderr(&checked);
        assert!(!checked.status.success(), "check-config passed {want:?}");
        assert!(
            refused.starts_with("error: ") && refused.contains(want),
            "check-config: want {want:?}\n got {refused}"
        );
        let ran = node(&config, &env);
        assert!(!ran.status.success(), "node: exit 0 on {want:?}");
        assert!(stderr(&ran).contains(want), "node: want {want:?}\n got {}", stderr(&ran));
    }
    // The variables of clients, tools and tests are left alone.
    std::fs::write(&config, &good).unwrap();
    let out = check_config(&config, &[("COINJECTURE_CRYPTO_CORE", "127.0.0.1:1"), ("COINJECTURE_NODE", "x")]);
    assert!(out.status.success(), "{}", stderr(&out));
}

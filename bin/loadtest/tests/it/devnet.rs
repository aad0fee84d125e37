//! `coinjecture-loadtest` at 50 tx/s for 10 s against a 3-validator devnet of real processes:
//! every accepted transfer becomes final exactly once.

use std::process::Command;
use std::time::Duration;

use coinjecture_e2e::Network;
use coinjecture_loadtest::report::Report;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tps_for_ten_seconds_on_three_validators_loses_and_duplicates_nothing() {
    let net = Network::start(3, "500ms");
    net.wait_for_height(&[0, 1, 2], 2, Duration::from_secs(90)).await;
    let nodes: Vec<String> = (0..3).map(|i| format!("http://127.0.0.1:{}", net.api_base + i)).collect();
    let report_path = net.dir.path().join("loadtest-report.json");
    let out = tokio::task::spawn_blocking({
        let (nodes, report_path, faucet) = (nodes.clone(), report_path.clone(), net.dir.path().join("keys/faucet.key"));
        move || {
            Command::new(env!("CARGO_BIN_EXE_coinjecture-loadtest"))
                .args(["--node", &nodes[0], "--nodes", &nodes.join(",")])
                .args(["--duration", "10s", "--txrate", "50", "--accounts", "50", "--grace", "30s"])
                .arg("--faucet-key")
                .arg(faucet)
                .arg("--report")
                .arg(report_path)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loadtest failed\n{stdout}\n{stderr}\nlog 0:\n{}", net.log(0));
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let context = format!("{}\n{stderr}", report.table());

    assert_eq!(report.scheduled, 500, "{context}");
    assert_eq!(report.submitted, 500, "{context}");
    assert_eq!(report.rejected_total, 0, "{context}");
    assert_eq!(report.accepted, 500, "{context}");
    assert_eq!(report.final_count, report.accepted, "{context}");
    assert_eq!(report.lost, 0, "{context}");
    assert_eq!(report.stranded, 0, "{context}");
    assert_eq!(report.duplicated, 0, "{context}");
    assert_eq!(report.latency.count, 500, "{context}");
    assert!(report.latency.p99.is_some_and(|p| p < 30.0), "{context}");
    assert_eq!(report.proposers, 3, "all three validators propose during the run\n{context}");
    assert!(stdout.contains("sustained final TPS"), "{stdout}");
}

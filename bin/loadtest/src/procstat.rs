//! CPU and RSS of the local `coinjectured node` processes, read from `/proc/<pid>/stat`.
//!
//! Linux only; anywhere else (or for remote nodes) nothing is found and the report says "n/a".

use std::time::Instant;

/// Clock ticks per second of `utime`/`stime` (USER_HZ; 100 on every mainstream Linux).
const TICKS_PER_SECOND: f64 = 100.0;
/// Page size for `rss` (4 KiB on x86-64 and most arm64 kernels).
const PAGE_BYTES: u64 = 4096;

/// One `coinjectured` process at one instant.
#[derive(Debug, Clone)]
pub struct Sample {
    pub pid: u32,
    /// What identifies the node: its `--config` argument, or the command line.
    pub label: String,
    /// utime + stime in ticks.
    pub cpu_ticks: u64,
    pub rss_bytes: u64,
    pub at: Instant,
}

/// Every running `coinjectured node` process whose config serves the API on one of `api_ports`
/// (so another devnet on the same machine is left out). A node whose config cannot be read is
/// kept: better a stray row than a missing one.
pub fn sample_nodes(api_ports: &[u16]) -> Vec<Sample> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_node = args.first().is_some_and(|a| a.ends_with("coinjectured")) && args.iter().any(|a| a == "node");
        if !is_node {
            continue;
        }
        let config = args.iter().position(|a| a == "--config").and_then(|i| args.get(i + 1));
        if let Some(Ok(text)) = config.map(|c| read_config(pid, c))
            && api_port(&text).is_some_and(|p| !api_ports.contains(&p))
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some((cpu_ticks, rss_pages)) = parse_stat(&stat) else { continue };
        let label = args
            .iter()
            .position(|a| a == "--config")
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| args.join(" "));
        out.push(Sample { pid, label, cpu_ticks, rss_bytes: rss_pages * PAGE_BYTES, at: Instant::now() });
    }
    out.sort_by(|a, b| a.label.cmp(&b.label));
    out
}

/// The node's config file; a relative path is relative to the process' working directory.
fn read_config(pid: u32, path: &str) -> std::io::Result<String> {
    if path.starts_with('/') {
        std::fs::read_to_string(path)
    } else {
        std::fs::read_to_string(std::fs::read_link(format!("/proc/{pid}/cwd"))?.join(path))
    }
}

/// `api.port` of a validator config (the `port:` key inside the `api:` section).
pub fn api_port(config: &str) -> Option<u16> {
    let mut in_api = false;
    for line in config.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_api = line.trim_end() == "api:";
            continue;
        }
        if in_api && let Some(v) = line.trim().strip_prefix("port:") {
            return v.trim().parse().ok();
        }
    }
    None
}

/// `(utime + stime, rss pages)` from the text of `/proc/<pid>/stat`.
pub fn parse_stat(stat: &str) -> Option<(u64, u64)> {
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime = field 14, stime = 15, rss = 24.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some((field(14)? + field(15)?, field(24)?))
}

/// Per-process CPU (percent of one core) between two samples and RSS at the second.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NodeUsage {
    pub pid: u32,
    pub label: String,
    pub cpu_percent: f64,
    pub rss_mib: f64,
}

/// Matches `after` to `before` by pid.
pub fn usage(before: &[Sample], after: &[Sample]) -> Vec<NodeUsage> {
    after
        .iter()
        .filter_map(|a| {
            let b = before.iter().find(|b| b.pid == a.pid)?;
            let seconds = a.at.duration_since(b.at).as_secs_f64().max(1e-3);
            Some(NodeUsage {
                pid: a.pid,
                label: a.label.clone(),
                cpu_percent: (a.cpu_ticks.saturating_sub(b.cpu_ticks)) as f64 / TICKS_PER_SECOND / seconds * 100.0,
                rss_mib: a.rss_bytes as f64 / (1024.0 * 1024.0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let stat = "1234 (coin jectured) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 \
                    123456789 2560 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat(stat), Some((300, 2560)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn api_port_is_read_from_the_api_section_only() {
        let config = "p2p:\n  port: 9000\napi:\n  host: 127.0.0.1\n  port: 8081\n  grpc_port: 50062\n";
        assert_eq!(api_port(config), Some(8081));
        assert_eq!(api_port("p2p:\n  port: 9000\n"), None);
    }

    #[test]
    fn own_process_is_readable() {
        let stat = std::fs::read_to_string("/proc/self/stat");
        if let Ok(stat) = stat {
            assert!(parse_stat(&stat).is_some_and(|(_, rss)| rss > 0));
        }
    }
}

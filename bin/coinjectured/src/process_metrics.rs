//! The standard `process_*` metrics (read from `/proc` at each scrape, Linux only; elsewhere
//! they are absent) and `coinjecture_build_info`.
//!
//! | name | type |
//! | --- | --- |
//! | `process_cpu_seconds_total` | counter (user + system CPU time) |
//! | `process_resident_memory_bytes` | gauge |
//! | `process_virtual_memory_bytes` | gauge |
//! | `process_open_fds` | gauge |
//! | `process_max_fds` | gauge (the soft `RLIMIT_NOFILE`) |
//! | `process_start_time_seconds` | gauge (Unix time) |
//! | `coinjecture_build_info{version, commit}` | gauge, always 1 |
//!
//! and, for a process with a database ([`register_database`]):
//!
//! | name | type |
//! | --- | --- |
//! | `coinjecture_database_size_bytes` | gauge (the database file with its `-wal` and `-shm`) |
//! | `coinjecture_database_filesystem_avail_bytes` | gauge (free space for unprivileged writers where the database is) |
//! | `coinjecture_database_filesystem_size_bytes` | gauge |

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::{Registry, Unit};

/// The kernel's `USER_HZ`: the unit of the times in `/proc/<pid>/stat`, 100 on every Linux ABI.
const USER_HZ: f64 = 100.0;

/// The git commit this binary was built from (`build.rs`), or `unknown`.
pub(crate) const GIT_COMMIT: &str = match option_env!("COINJECTURE_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// Registers the process collector and `coinjecture_build_info` in `registry`.
pub(crate) fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(ProcessCollector));
    let info: Family<Vec<(String, String)>, Gauge> = Family::default();
    info.get_or_create(&vec![
        ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("commit".to_string(), GIT_COMMIT.to_string()),
    ])
    .set(1);
    registry.register("coinjecture_build_info", "The running coinjectured's version and git commit (value 1)", info);
}

/// Registers the database size and its filesystem's free and total space, read at each scrape.
pub(crate) fn register_database(registry: &mut Registry, path: &std::path::Path) {
    registry.register_collector(Box::new(DatabaseCollector { path: path.to_path_buf() }));
}

#[derive(Debug)]
struct DatabaseCollector {
    path: std::path::PathBuf,
}

impl Collector for DatabaseCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let size: u64 = ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut name = self.path.as_os_str().to_os_string();
                name.push(suffix);
                std::fs::metadata(name).ok().map(|m| m.len())
            })
            .sum();
        let mut gauges =
            vec![("coinjecture_database_size", "Size of the database files (with the write-ahead log)", size as f64)];
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        if let Ok(fs) = rustix::fs::statvfs(dir) {
            let block = fs.f_frsize as f64;
            gauges.push((
                "coinjecture_database_filesystem_avail",
                "Space left for the database on its filesystem (what an unprivileged writer may still use)",
                fs.f_bavail as f64 * block,
            ));
            gauges.push((
                "coinjecture_database_filesystem_size",
                "Size of the filesystem the database is on",
                fs.f_blocks as f64 * block,
            ));
        }
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, Some(&Unit::Bytes), gauge.metric_type())?)?;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct ProcessCollector;

/// What `/proc` tells about this process.
#[derive(Debug, Default, PartialEq)]
struct ProcessStats {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    open_fds: u64,
    max_fds: Option<u64>,
    start_time_seconds: f64,
}

impl ProcessStats {
    /// Reads `/proc/self`; None where there is no procfs.
    fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let open_fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0);
        parse(&stat, &status, &boot, &limits, open_fds)
    }
}

/// The stats from the text of `/proc/self/stat`, `/proc/self/status`, `/proc/stat` and
/// `/proc/self/limits`.
fn parse(stat: &str, status: &str, boot: &str, limits: &str, open_fds: u64) -> Option<ProcessStats> {
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state): field n is fields[n - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let (utime, stime, start_ticks, vsize) = (field(14)?, field(15)?, field(22)?, field(23)?);
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let boot_time = boot.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse::<u64>().ok())?;
    let max_fds = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok());
    Some(ProcessStats {
        cpu_seconds: (utime + stime) as f64 / USER_HZ,
        resident_bytes: rss_kib * 1024,
        virtual_bytes: vsize,
        open_fds,
        max_fds,
        start_time_seconds: boot_time as f64 + start_ticks as f64 / USER_HZ,
    })
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(s) = ProcessStats::read() else { return Ok(()) };
        let cpu = ConstCounter::new(s.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu",
            "Total user and system CPU time spent in seconds",
            Some(&Unit::Seconds),
            cpu.metric_type(),
        )?)?;
        let gauges: [(&str, &str, Option<Unit>, f64); 4] = [
            ("process_resident_memory", "Resident memory size in bytes", Some(Unit::Bytes), s.resident_bytes as f64),
            ("process_virtual_memory", "Virtual memory size in bytes", Some(Unit::Bytes), s.virtual_bytes as f64),
            ("process_open_fds", "Number of open file descriptors", None, s.open_fds as f64),
            (
                "process_start_time",
                "Start time of the process since the Unix epoch in seconds",
                Some(Unit::Seconds),
                s.start_time_seconds,
            ),
        ];
        for (name, help, unit, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, unit.as_ref(), gauge.metric_type())?)?;
        }
        if let Some(max) = s.max_fds {
            let gauge = ConstGauge::new(max as f64);
            gauge.encode(encoder.encode_descriptor(
                "process_max_fds",
                "Maximum number of open file descriptors",
                None,
                gauge.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (coin jectured) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 360000 123456789 2000 18446744073709551615";
        let status = "Name:\tcoinjectured\nVmRSS:\t   20480 kB\n";
        let boot = "cpu  1 2 3\nbtime 1700000000\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        let s = parse(stat, status, boot, limits, 17).unwrap();
        assert_eq!(
            s,
            ProcessStats {
                cpu_seconds: 3.0,
                resident_bytes: 20480 * 1024,
                virtual_bytes: 123456789,
                open_fds: 17,
                max_fds: Some(1024),
                start_time_seconds: 1_700_003_600.0,
            }
        );
        assert!(parse("garbage", status, boot, limits, 0).is_none());
    }

    #[test]
    fn database_size_and_free_space() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("chain.db");
        std::fs::write(&db, vec![0u8; 4096]).unwrap();
        std::fs::write(dir.path().join("chain.db-wal"), vec![0u8; 1000]).unwrap();
        let mut registry = Registry::default();
        register_database(&mut registry, &db);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("coinjecture_database_size_bytes 5096"), "{text}");
        let value = |name: &str| {
            text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse::<f64>().ok()).unwrap()
        };
        let (avail, size) = (
            value("coinjecture_database_filesystem_avail_bytes "),
            value("coinjecture_database_filesystem_size_bytes "),
        );
        assert!(avail > 0.0 && avail <= size, "avail {avail}, size {size}");
    }

    #[test]
    fn a_registry_exports_process_and_build_info() {
        let mut registry = Registry::default();
        register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for needle in [
            "# TYPE process_cpu_seconds counter\n",
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
            "coinjecture_build_info{version=\"",
        ] {
            assert!(text.contains(needle), "{needle:?} missing in\n{text}");
        }
        let started = text
            .lines()
            .find_map(|l| l.strip_prefix("process_start_time_seconds "))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        assert!(started <= now && started > now - 86_400.0 * 30.0, "start time {started}, now {now}");
    }
}

//! `/metrics` content negotiation: OpenMetrics 1.0 (what the registry encodes) unless the scraper
//! prefers the classic Prometheus text format 0.0.4 (`Accept: text/plain`), which
//! [`openmetrics_to_text`] derives from the OpenMetrics text.
//!
//! The two formats differ only in metadata: OpenMetrics names a counter family without its
//! `_total` suffix (the sample has it), has `# UNIT` lines, the `unknown` and `info` types, and ends
//! with `# EOF`. The classic format (the one `promtool check metrics` lints) names the family as the
//! sample is named, has no units, calls `unknown` `untyped` and has no end marker.

/// Content type of the OpenMetrics answer.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of the classic text answer.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether an `Accept` header prefers the classic text format over OpenMetrics: `text/plain` has a
/// higher quality than `application/openmetrics-text` (absent types have quality 0; `*/*` and
/// no header at all choose OpenMetrics). Prometheus itself asks for OpenMetrics first
/// (`application/openmetrics-text;version=1.0.0;q=0.5,…,text/plain;version=0.0.4;q=0.3`).
pub fn prefers_text(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let (mut text, mut openmetrics) = (0.0_f64, 0.0_f64);
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .and_then(|(_, v)| v.trim().parse::<f64>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "text/plain" => text = text.max(q),
            "application/openmetrics-text" => openmetrics = openmetrics.max(q),
            _ => {}
        }
    }
    text > openmetrics
}

/// The classic Prometheus text format (0.0.4) of an OpenMetrics text as prometheus-client writes
/// it (`# HELP`, `# TYPE`, optional `# UNIT`, then the family's samples; `# EOF` last).
pub fn openmetrics_to_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut lines = openmetrics.lines().peekable();
    while let Some(line) = lines.next() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            // The TYPE line that follows decides the family name (counters gain `_total`).
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let kind = lines
                .peek()
                .and_then(|next| next.strip_prefix("# TYPE "))
                .and_then(|t| t.split_once(' '))
                .filter(|(n, _)| *n == name)
                .map(|(_, kind)| kind.to_string());
            if kind.is_some() {
                lines.next();
            }
            let (family, kind) = classic_family(name, kind.as_deref().unwrap_or("untyped"));
            out.push_str(&format!("# HELP {family} {}\n# TYPE {family} {kind}\n", classic_help(help)));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (family, kind) = classic_family(name, kind);
            out.push_str(&format!("# TYPE {family} {kind}\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A family's classic name and type from its OpenMetrics name and type.
fn classic_family(name: &str, kind: &str) -> (String, &'static str) {
    match kind {
        "counter" => (format!("{name}_total"), "counter"),
        "gauge" => (name.to_string(), "gauge"),
        "histogram" => (name.to_string(), "histogram"),
        "summary" => (name.to_string(), "summary"),
        // An info metric's sample is `<name>_info` with value 1: a gauge in the classic format.
        "info" => (format!("{name}_info"), "gauge"),
        _ => (name.to_string(), "untyped"),
    }
}

/// OpenMetrics escapes `"` in HELP text; the classic format escapes only `\` and newlines.
fn classic_help(help: &str) -> String {
    help.replace("\\\"", "\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OM: &str = "# HELP a_messages Messages.\n# TYPE a_messages counter\na_messages_total{topic=\"x\"} 3\n\
# HELP a_bytes Payload \\\"bytes\\\".\n# TYPE a_bytes counter\n# UNIT a_bytes bytes\na_bytes_total 7\n\
# HELP a_height Height.\n# TYPE a_height gauge\na_height 12\n\
# HELP a_seconds Durations.\n# TYPE a_seconds histogram\n# UNIT a_seconds seconds\na_seconds_bucket{le=\"+Inf\"} 1\na_seconds_sum 0.5\na_seconds_count 1\n\
# HELP a_build Build.\n# TYPE a_build info\na_build_info{version=\"1\"} 1\n# EOF\n";

    #[test]
    fn counters_are_named_as_their_samples_and_openmetrics_only_lines_go() {
        let text = openmetrics_to_text(OM);
        assert!(
            text.contains(
                "# HELP a_messages_total Messages.\n# TYPE a_messages_total counter\na_messages_total{topic=\"x\"} 3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("# HELP a_bytes_total Payload \"bytes\".\n# TYPE a_bytes_total counter\na_bytes_total 7\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE a_height gauge\na_height 12\n"), "{text}");
        assert!(text.contains("# TYPE a_seconds histogram\na_seconds_bucket"), "{text}");
        assert!(
            text.contains("# HELP a_build_info Build.\n# TYPE a_build_info gauge\na_build_info{version=\"1\"} 1\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
    }

    #[test]
    fn accept_negotiation() {
        assert!(!prefers_text(None));
        assert!(!prefers_text(Some("*/*")));
        assert!(prefers_text(Some("text/plain")));
        assert!(prefers_text(Some("text/plain;version=0.0.4")));
        assert!(!prefers_text(Some("application/openmetrics-text")));
        // What Prometheus sends: OpenMetrics first.
        assert!(!prefers_text(Some(
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        )));
        // A scraper that only wants the classic format, or ranks it first.
        assert!(prefers_text(Some("text/plain;version=0.0.4;q=0.9, application/openmetrics-text;q=0.5")));
        assert!(!prefers_text(Some("text/plain;q=0")));
    }
}

#!/usr/bin/env bash
# Checks the monitoring files with promtool (Debian's `prometheus` package): the alert rules
# (`promtool check rules`) and their unit tests (`promtool test rules alerts_test.yml`), the
# example prometheus.yml, and every query of grafana-dashboard.json (each is parsed by promtool as
# a recording rule, with Grafana's $__rate_interval and $instance filled in). Usage:
# deploy/monitoring/check.sh (scripts/test.sh runs it). tests/tests/it/served_services.rs checks that
# every metric these files use is exported by a live node.
set -euo pipefail
cd "$(dirname "$0")"
command -v promtool >/dev/null || { echo "promtool is missing (apt-get install prometheus)"; exit 1; }

promtool check rules alerts.yml
promtool test rules alerts_test.yml
promtool check config --syntax-only prometheus.yml

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - grafana-dashboard.json >"$work/dashboard-rules.yml" <<'PY'
import json, sys
dashboard = json.load(open(sys.argv[1]))
exprs = []
def walk(panels):
    for p in panels:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            exprs.append((p["title"], t["expr"]))
walk(dashboard["panels"])
assert exprs, "no queries in the dashboard"
print("groups:\n  - name: dashboard\n    rules:")
for i, (title, e) in enumerate(exprs):
    e = e.replace("$__rate_interval", "1m").replace("$instance", ".*")
    print(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(e)}\n        labels: {{panel: {json.dumps(title)}}}")
PY
echo "grafana-dashboard.json: $(grep -c 'record:' "$work/dashboard-rules.yml") queries"
promtool check rules "$work/dashboard-rules.yml"

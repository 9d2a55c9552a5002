#!/usr/bin/env bash
# hvd's metrics scraped by a real Prometheus (Debian's package), started
# here on loopback: a running RT-Linux guest's state comes back from a
# PromQL query, and `promtool check metrics` accepts the endpoint's text.
# Prints "✔ metrics …" / "✘ metrics …" for scripts/test.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/.build/debug
root=$(mktemp -d /tmp/hv-metrics-XXXXXX)
chmod 755 "$root"
export HV_ROOT=$root
prom_pid=
failures=0
ok() { echo "✔ metrics: $1"; }
no() { echo "✘ metrics: $1"; failures=$((failures + 1)); [ -n "${2:-}" ] && sed 's/^/    /' "$2" | tail -n 25; }
cleanup() {
    [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
    "$bin/hv" vmf stop --yes >/dev/null 2>&1
    for f in "$root"/run/*/qemu/qemu.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
    "$bin/hv" daemon stop >/dev/null 2>&1
    awk -v r="$root/" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
    [ -n "${KEEP:-}" ] || rm -rf "$root"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port); pport=$(free_port)
mkdir -p "$root/config" "$root/templates"
printf '[Manager]\n    "Port"="%s"\n' "$port" > "$root/config/manager.config"
ln -s /tmp/hv-e2e-image/templates/rt-linux "$root/templates/rt-linux"
"$bin/hv" example open rt-linux --yes >/dev/null && "$bin/hv" example sync rt-linux >/dev/null \
  && printf '[Guest\\Boot]\n    "Root"="busybox"\n' > "$root/guests/guestrtlinux/usr.config" \
  && "$bin/hv" vmf start >/dev/null && "$bin/hv" guest start guestrtlinux > "$root/start.txt" 2>&1 \
  || { no "could not start the RT-Linux guest" "$root/start.txt"; exit 1; }

cat > "$root/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: hv
    metrics_path: /v1/metrics
    authorization:
      type: Bearer
      credentials_file: $root/run/metrics.token
    static_configs:
      - targets: ['127.0.0.1:$port']
        labels: {host: test}
YML
/usr/bin/prometheus --config.file="$root/prometheus.yml" --storage.tsdb.path="$root/prometheus" \
    --web.listen-address="127.0.0.1:$pport" > "$root/prometheus.log" 2>&1 &
prom_pid=$!
query() { python3 - "$pport" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
port, q = sys.argv[1], sys.argv[2]
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(q)}", timeout=5) as r:
        res = json.load(r)["data"]["result"]
    print(res[0]["value"][1] if res else "")
except Exception as e:
    print("")
PY
}
value=
for _ in $(seq 60); do
    value=$(query 'hv_guest_state{guest="guestrtlinux",state="running"}')
    [ "$value" = 1 ] && break
    sleep 1
done
if [ "$value" = 1 ]; then
    ok "Prometheus scrapes hvd (with the read-only metrics token): the running guest's state comes back"
else
    no "Prometheus scrapes hvd (with the read-only metrics token): the running guest's state comes back (got '$value')" "$root/prometheus.log"
fi
up=$(query 'up{job="hv"}'); placed=$(query 'hv_guest_vcpu_placement_held{guest="guestrtlinux"}'); loaded=$(query 'hv_vmf_loaded')
if [ "$up" = 1 ] && [ "$placed" = 1 ] && [ "$loaded" = 1 ]; then
    ok "the scrape is up; VMF loaded and the vCPU placement held, read back by PromQL"
else
    no "the scrape is up; VMF loaded and the vCPU placement held, read back by PromQL (up=$up placed=$placed loaded=$loaded)" "$root/prometheus.log"
fi
token=$(cat "$root/run/metrics.token")
python3 - "$port" "$token" > "$root/metrics.txt" <<'PY'
import sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/metrics", headers={"Authorization": "Bearer " + sys.argv[2]})
print(urllib.request.urlopen(req, timeout=5).read().decode(), end="")
PY
if promtool check metrics < "$root/metrics.txt" > "$root/promtool.txt" 2>&1; then
    ok "promtool check metrics accepts the endpoint's text"
else
    no "promtool check metrics accepts the endpoint's text" "$root/promtool.txt"
fi
# Without the token: refused.
code=$(python3 - "$port" <<'PY'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v1/metrics", timeout=5); print(200)
except urllib.error.HTTPError as e:
    print(e.code)
PY
)
if [ "$code" = 401 ]; then ok "without the token the metrics are refused (401)"; else no "without the token the metrics are refused (got $code)"; fi
# Prometheus's token reads the metrics, nothing else: a start is refused and the guest list too.
codes=$(python3 - "$port" "$token" <<'PY'
import sys, urllib.request, urllib.error
out = []
for method, path in [("GET", "/v1/guests"), ("POST", "/v1/guests/guestrtlinux/stop"), ("POST", "/v1/vmf/unload")]:
    req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}{path}", method=method, data=b"{}" if method == "POST" else None,
                                 headers={"Authorization": "Bearer " + sys.argv[2], "X-HV-Request": "1", "Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=5); out.append("200")
    except urllib.error.HTTPError as e:
        out.append(str(e.code))
print(" ".join(out))
PY
)
state=$("$bin/hv" guest status guestrtlinux 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
if [ "$codes" = "403 403 403" ] && [ "$state" = running ]; then ok "the metrics token changes nothing (403 403 403, the guest runs on)"
else no "the metrics token changes nothing (got $codes, guest $state)"; fi
[ "$failures" = 0 ]

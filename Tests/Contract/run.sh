#!/usr/bin/env bash
# The API contract: schemathesis (PyPI) generates requests from
# docs/openapi.json against a live hvd in a scratch root (the rt-linux
# example synced, the VMF not loaded) and checks every answer: no 5xx, each
# status, content type and body as the document says, undeclared methods
# 405. Prints "✔ contract …" or "✘ contract …" for scripts/test.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/.build/debug
root=$(mktemp -d /tmp/hv-contract-XXXXXX)
chmod 755 "$root"
export HV_ROOT=$root PATH="$bin:$PATH"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
links=$(mktemp -d /tmp/hv-contract-bin-XXXXXX)
cleanup() {
    # Whatever the generated requests did: the VMF unloaded (cores given back), guests stopped, hvd gone.
    "$links/hv_vmf_stop" --yes >/dev/null 2>&1
    for f in "$root"/run/*/qemu/qemu.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
    "$bin/hv" daemon stop >/dev/null 2>&1
    awk -v r="$root/" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
    [ -n "${KEEP:-}" ] || rm -rf "$root" "$links"
}
trap cleanup EXIT
mkdir -p "$root/config" "$root/templates"
printf '[Manager]\n    "Port"="%s"\n' "$port" > "$root/config/manager.config"
ln -s /tmp/hv-e2e-image/templates/rt-linux "$root/templates/rt-linux" 2>/dev/null || true
for n in hv_open_example hv_sync_example hv_vmf_stop; do ln -sf "$bin/hv" "$links/$n"; done
"$links/hv_open_example" rt-linux --yes >/dev/null && "$links/hv_sync_example" rt-linux >/dev/null \
  && printf '[Guest\\Boot]\n    "Root"="busybox"\n' > "$root/guests/guestrtlinux/usr.config" || { echo "✘ contract: could not prepare the scratch root"; exit 1; }
token=$("$bin/hv" manager token) || { echo "✘ contract: no System Manager"; exit 1; }
out=$root/schemathesis.txt
# Every check but those that need a notion of users or resources the API does not have.
# Run from the scratch root: schemathesis and hypothesis keep their caches in the working folder.
repo=$PWD
(cd "$root" && schemathesis run "$repo/docs/openapi.json" --url "http://127.0.0.1:$port" \
    -H "Authorization: Bearer $token" -H "X-HV-Request: 1" -H "Host: 127.0.0.1:$port" \
    --checks all --exclude-checks ignored_auth,use_after_free,ensure_resource_availability,positive_data_acceptance \
    --exclude-path /v1/daemon/shutdown --exclude-path /v1/lifecycle --exclude-path '/v1/guests/{ref}/console' --exclude-path /v1/events/session \
    --exclude-path '/v1/guests/{ref}/console/ws' --exclude-path '/v1/guests/{ref}/display/ws' --exclude-path /v1/watch \
    --max-examples "${CONTRACT_EXAMPLES:-30}" --seed "${CONTRACT_SEED:-20261201}" --workers 1 --phases examples,coverage,fuzzing) > "$out" 2>&1
rc=$?
pid=$(cat "$root/run/hvd.pid" 2>/dev/null)
alive=no; [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=yes
summary=$(grep -A1 'Test cases:' "$out" | tail -n 1 | xargs)
if [ $rc -eq 0 ] && [ $alive = yes ]; then
    echo "✔ contract: schemathesis against docs/openapi.json: $summary"
else
    tail -80 "$out"
    echo "✘ contract: schemathesis exit $rc, hvd alive: $alive; $summary"
    exit 1
fi

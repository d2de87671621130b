#!/usr/bin/env bash
# Drive `snapctl emulator` with the providers' official clients, as users' own scripts do:
# python-ovh, osc-sdk-python and openstacksdk (plus `openstack volume snapshot list`), pinned in
# scripts/official-clients/requirements.txt and installed from PyPI into a throwaway venv. Each
# client runs a long scenario (create -> poll to usable -> list with the client's filters ->
# paginate -> update -> delete -> error paths), then a burst against a throttling emulator.
# Every answer the clients receive is recorded and checked: OUTSCALE's against the OpenAPI
# description osc-sdk-python bundles, OVH's against OVHcloud's own (scripts/official-clients/specs),
# Cinder's error shapes; then snapctl's own requests and, with SUITE_ANSWERS=DIR, every answer the
# test suite's emulators recorded there (SNAPCTL_EMULATOR_RECORD_DIR). CI runs it after the test
# suite (.ci/run).
#
#   scripts/official-clients.sh            # the debug binary (cargo build); BIN=… for another
set -euo pipefail
cd "$(dirname "$0")/.."
here="$PWD/scripts/official-clients"
venv="${VENV:-${TMPDIR:-/tmp}/snapctl-official-clients}"
if [ -z "${BIN:-}" ]; then cargo build --locked --quiet; BIN=target/debug/snapctl; fi
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
pids=()
files=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -f "${files[@]}"' EXIT

serve() { # serve ARGS… : an emulator on a free loopback port; its environment exported
  local port out
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  out="$(mktemp)"; files+=("$out")
  "$BIN" emulator --listen "127.0.0.1:$port" "$@" >"$out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 100); do grep -q '^export OS_PROJECT_NAME' "$out" && break; sleep 0.1; done
  eval "$(grep '^export' "$out")"
  export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3
}

serve
export PYTHONPATH="$here"
for scenario in ovh_client osc openstack_client; do
  echo "== $scenario"
  "$venv/bin/python" "$here/$scenario.py"
done
echo "== openstack volume snapshot list"
"$venv/bin/openstack" volume snapshot list -f value -c ID | head -3
serve --throttle 2
echo "== throttled"
"$venv/bin/python" "$here/throttled.py"

# snapctl's own traffic: every answer the emulator gives it, recorded and checked the same way.
recording="$(mktemp)"; files+=("$recording")
serve --record "$recording" --delay 50ms
echo "== snapctl's own requests, recorded"
for p in ovh-efs ovh-nasha outscale powervc; do
  s=(); case "$p" in ovh-efs) s=(--service 5e7a0f00-0000-4000-8000-000000000001) ;; ovh-nasha) s=(--service zpool-100001) ;; esac
  run() { "$BIN" -p "$p" "${s[@]}" --poll-interval 50ms "$@"; }
  v="$(run -o ids volume list | head -1)"
  run volume show "$v" >/dev/null
  run snapshot list --volume "$v" >/dev/null
  f=(); [ "$p" != powervc ] || f=(--force)   # its first volume is attached
  id="$(run -o ids snapshot create --volume "$v" --name recorded --wait "${f[@]}")"
  run snapshot show "$id" --volume "$v" >/dev/null
  run snapshot list >/dev/null || true   # EFS and NAS-HA need --volume: their refusal is checked too
  run -o json rotate --volume "$v" --keep-last 1 --max-delete 10 --wait >/dev/null
  run snapshot delete "$id" --volume "$v" --wait >/dev/null 2>&1 || true   # rotate may have taken it
  run snapshot show 00000000-0000-4000-8000-00000000dead --volume "$v" >/dev/null 2>&1 || true
  echo "  - $p: volume list/show, snapshot list/create/show/delete, rotate, an unknown id"
done
"$venv/bin/python" "$here/recorded.py" "$recording"

# The test suite's own emulators, when it ran with SNAPCTL_EMULATOR_RECORD_DIR (.ci/run does):
# every answer they gave, checked the same way.
if [ -n "${SUITE_ANSWERS:-}" ]; then
  echo "== the test suite's emulator answers ($SUITE_ANSWERS)"
  all="$(mktemp)"; files+=("$all")
  cat "$SUITE_ANSWERS"/*.jsonl >"$all"
  "$venv/bin/python" "$here/recorded.py" "$all"
fi
echo "official clients: every scenario passed, every answer checked"

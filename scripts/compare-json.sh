#!/usr/bin/env bash
# Behaviour diff of two snapctl binaries (a refactor must not change what users see): each runs
# against its own emulator the same script, on all four providers: three prefixed snapshots, then
# `rotate --create --keep-last 2 -o json` as a dry run, with --max-delete 0, with --wait and
# without; then `policy plan`, `policy apply` and `policy plan` again (-o json) over
# docs/fleet.in/fleet.toml. Outputs and stderr (with the exit code) are normalised for ids, times
# and durations, then diffed. Loopback only.
#
#   scripts/compare-json.sh OLD_BINARY NEW_BINARY      # exit 0 and "identical" when nothing differs
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -eq 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY" >&2; exit 2; }
outs="$(mktemp -d)"
capture() {
local bin="$1" out="$2" port="$3"
mkdir -p "$out"
work=$(mktemp -d)
"$bin" emulator --listen 127.0.0.1:$port --delay 200ms >"$work/env" 2>/dev/null & emu=$!
for _ in $(seq 100); do grep -q '^export OS_PROJECT_NAME' "$work/env" && break; sleep 0.1; done
eval "$(grep '^export' "$work/env")"
export SNAPCTL_LOCK_DIR="$work/locks" SNAPCTL_STATE_DIR="$work/state"
run() { local name="$1"; shift; "$bin" "$@" >"$out/$name.json" 2>"$out/$name.err"; echo "exit $?" >>"$out/$name.err"; }
for p in ovh-efs ovh-nasha outscale powervc; do
  case $p in ovh-efs) svc="--service 5e7a0f00-0000-4000-8000-000000000001";; ovh-nasha) svc="--service zpool-100001";; *) svc="";; esac
  vol=$("$bin" -p $p $svc -o json volume list | python3 -c 'import json,sys; print(next(v["id"] for v in json.load(sys.stdin) if v.get("state") == "available" and v.get("provider_state") != "in-use"))')
  for i in 1 2 3; do "$bin" -p $p $svc snapshot create --volume "$vol" --name "cmp-$i" --wait >/dev/null 2>&1; done
  run "$p-dry" -p $p $svc -o json --dry-run rotate --volume "$vol" --create --prefix cmp- --keep-last 2
  run "$p-maxdel0" -p $p $svc -o json rotate --volume "$vol" --create --prefix cmp- --keep-last 2 --max-delete 0
  run "$p-wait" -p $p $svc -o json rotate --volume "$vol" --create --prefix cmp- --keep-last 2 --wait
  run "$p-nowait" -p $p $svc -o json rotate --volume "$vol" --create --prefix cmp- --keep-last 2
done
cp "$root/docs/fleet.in/fleet.toml" "$work/fleet.toml"
run plan -o json policy plan -f "$work/fleet.toml"
run apply -o json policy apply -f "$work/fleet.toml"
run plan-after -o json policy plan -f "$work/fleet.toml"
# normalise ids, times, durations
python3 - "$out" <<'PY'
import re,sys,os,glob
for f in glob.glob(sys.argv[1]+'/*.json')+glob.glob(sys.argv[1]+'/*.err'):
    s=open(f).read()
    s=re.sub(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}','UUID',s)
    s=re.sub(r'\b(snap|vol)-[0-9a-f]{8}\b',r'\1-ID',s)
    s=re.sub(r'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z','TIME',s)
    s=re.sub(r'\d{8}T\d{6}Z','TICK',s)
    s=re.sub(r'"duration_seconds": [0-9.e-]+','"duration_seconds": N',s)
    s=re.sub(r'"file_sha256": "[0-9a-f]+"','"file_sha256": H',s)
    s=re.sub(r'\d+(\.\d+)? ?(ms|s)\b','D',s)
    s=re.sub(r'/tmp/tmp\.\w+','TMP',s)
    open(f,'w').write(s)
PY
kill $emu 2>/dev/null
wait $emu 2>/dev/null
}
capture "$1" "$outs/old" 18401
capture "$2" "$outs/new" 18402
if diff -r "$outs/old" "$outs/new"; then
  echo "identical: $(ls "$outs/new" | wc -l) outputs"
  rm -rf "$outs"
else
  echo "outputs kept in $outs" >&2
  exit 1
fi

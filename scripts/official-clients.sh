#!/usr/bin/env bash
# Drive `snapctl emulator` with the providers' official clients: python-ovh, osc-sdk-python and
# openstacksdk (plus `openstack volume snapshot list`). Installs them into a throwaway venv from
# PyPI, starts the emulator on loopback, runs one read and one write with each, and exits non-zero
# on the first failure. Not part of CI (it needs PyPI); run it after changing the emulator.
#
#   scripts/official-clients.sh            # builds snapctl in release mode first
set -euo pipefail
cd "$(dirname "$0")/.."
port="${PORT:-18089}"
venv="${VENV:-${TMPDIR:-/tmp}/snapctl-official-clients}"
cargo build --release --quiet
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet ovh osc-sdk-python openstacksdk python-openstackclient
fi
"$venv/bin/pip" list 2>/dev/null | grep -iE '^(ovh|osc_sdk_python|openstacksdk|python-openstackclient) '
env_file="$(mktemp)"
./target/release/snapctl emulator --listen "127.0.0.1:$port" >"$env_file" 2>/dev/null &
emulator=$!
trap 'kill $emulator 2>/dev/null; rm -f "$env_file"' EXIT
for _ in $(seq 50); do grep -q '^export OS_PROJECT_NAME' "$env_file" && break; sleep 0.1; done
eval "$(grep '^export' "$env_file")"
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3

echo "== python-ovh"
"$venv/bin/python" - <<'PY'
import os, ovh, ovh.client
# python-ovh takes named endpoints only: register the emulator's.
ovh.client.ENDPOINTS["emulator"] = os.environ["OVH_ENDPOINT"]
c = ovh.Client(endpoint="emulator", application_key=os.environ["OVH_APPLICATION_KEY"],
               application_secret=os.environ["OVH_APPLICATION_SECRET"],
               consumer_key=os.environ["OVH_CONSUMER_KEY"])
svc = "5e7a0f00-0000-4000-8000-000000000001"
share = c.get(f"/storage/netapp/{svc}/share")[0]["id"]
made = c.post(f"/storage/netapp/{svc}/share/{share}/snapshot", name="from-python-ovh")
assert made["id"] in [s["id"] for s in c.get(f"/storage/netapp/{svc}/share/{share}/snapshot")]
print("EFS snapshot", made["id"], "; NAS-HA partitions", c.get("/dedicated/nasha/zpool-100001/partition"))
PY

echo "== osc-sdk-python"
"$venv/bin/python" - <<'PY'
from osc_sdk_python import Gateway
gw = Gateway()  # OSC_ACCESS_KEY, OSC_SECRET_KEY, OSC_REGION, OSC_ENDPOINT_API
vol = gw.ReadVolumes()["Volumes"][0]["VolumeId"]
snap = gw.CreateSnapshot(VolumeId=vol, Description="from osc-sdk-python")["Snapshot"]["SnapshotId"]
own = gw.ReadAccounts()["Accounts"][0]["AccountId"]
ids = [s["SnapshotId"] for s in gw.ReadSnapshots(Filters={"AccountIds": [own]})["Snapshots"]]
assert snap in ids, ids
print("OUTSCALE snapshot", snap, "of", vol)
PY

echo "== openstacksdk"
"$venv/bin/python" - <<'PY'
import openstack
conn = openstack.connect()  # the OS_* environment
vol = next(conn.block_storage.volumes())
s = conn.block_storage.create_snapshot(volume_id=vol.id, name="from-openstacksdk")
s = conn.block_storage.wait_for_status(s, status="available", wait=10, interval=0.2)
print("PowerVC snapshot", s.id, s.status)
PY

echo "== openstack volume snapshot list"
"$venv/bin/openstack" volume snapshot list
echo "all official clients work against snapctl emulator"

#!/usr/bin/env bash
# Build the fleet-mode image and prove it runs a policy (CI runs this; see docs/fleet.md).
#
#   1. a static glibc build of snapctl (-C target-feature=+crt-static on the gnu target: offline,
#      no musl target needed), or BIN=path to package another static binary;
#   2. `podman build -f deploy/Containerfile` FROM scratch, from a context holding the binary, the
#      CA bundle, /tmp (1777) and the state directory (owned by 65534);
#   3. `podman create` + `podman export`: the image's root filesystem, unpacked;
#   4. the image's own Entrypoint, Cmd and Env, read from the image, run in that root filesystem
#      with `chroot --userspec=65534:65534`, against `snapctl emulator` on loopback, with the
#      policy file where the CronJob mounts it and `--push-url` to a real Pushgateway on loopback;
#   5. the run's report must be in the state directory and its metrics in the gateway.
#
# What this proves: the binary is static and runs alone in the image, as uid 65534, with the
# image's environment (locks under /tmp, the report under /var/lib/snapctl), and pushes its
# metrics. What it does not: that a kubelet starts the container (nothing here can start one:
# no container runtime), the read-only root filesystem and the emptyDir mounts of the CronJob
# (tests/it/deploy.rs checks the manifest instead), registries, TLS to a real cloud.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${TAG:-localhost/snapctl:test}"
work="$(mktemp -d)"
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  [ -n "${cid:-}" ] && podman rm -f "$cid" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

triple="$(rustc -vV | sed -n 's/^host: //p')"
if [ -z "${BIN:-}" ]; then
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --quiet --target "$triple"
  BIN="target/$triple/release/snapctl"
fi
if readelf -l "$BIN" | grep -q 'program interpreter'; then
  echo "image: $BIN is dynamically linked; the image has no libc" >&2
  exit 1
fi

# The build context.
ctx="$work/context"
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp" "$ctx/state"
install -m 0755 "$BIN" "$ctx/rootfs/usr/local/bin/snapctl"
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$ctx/rootfs/tmp"
chmod 0700 "$ctx/state"
podman build --quiet -f deploy/Containerfile -t "$TAG" "$ctx" >/dev/null
echo "image: built $TAG ($(podman image inspect --format '{{.Size}}' "$TAG") bytes)"

# Its root filesystem.
root="$work/root"
mkdir -p "$root"
cid="$(podman create "$TAG")"
podman export "$cid" | tar -x -C "$root"
user="$(podman image inspect --format '{{.Config.User}}' "$TAG")"
[ "$user" = "65534:65534" ] || { echo "image: runs as '$user', not 65534:65534" >&2; exit 1; }
mapfile -t image_env < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$TAG" | sed '/^$/d')
mapfile -t entry < <(podman image inspect --format '{{range .Config.Entrypoint}}{{println .}}{{end}}{{range .Config.Cmd}}{{println .}}{{end}}' "$TAG" | sed '/^$/d')

# The emulator and a Pushgateway on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
emu_out="$work/emulator.env"
"$BIN" emulator --listen "127.0.0.1:$(free_port)" >"$emu_out" 2>/dev/null &
pids+=($!)
gw_port="$(free_port)"
# In memory only (Debian's build persists to /var/lib/prometheus by default).
prometheus-pushgateway --web.listen-address="127.0.0.1:$gw_port" --persistence.file= >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  grep -q '^export OS_PROJECT_NAME' "$emu_out" && curl -sf "http://127.0.0.1:$gw_port/-/ready" >/dev/null && break
  sleep 0.1
done
mapfile -t emu_env < <(sed -n 's/^export //p' "$emu_out" | sed "s/='\(.*\)'$/=\1/; s/=\"\(.*\)\"$/=\1/")
volume="$(env "${emu_env[@]}" "$BIN" -p outscale -o ids volume list | head -1)"

# The policy file where the CronJob mounts it; the report in the image's state directory.
mkdir -p "$root/etc/snapctl"
cat >"$root/etc/snapctl/fleet.toml" <<EOF
report_file = "/var/lib/snapctl/last-run.json"

[[policy]]
id = "image-test"
provider = "outscale"
every = "1h"
select = { ids = ["$volume"] }
keep = { last = 2, min = 1 }
EOF

set +e
env -i "${image_env[@]}" "${emu_env[@]}" \
  chroot --userspec=65534:65534 "$root" "${entry[@]}" --push-url "http://127.0.0.1:$gw_port" \
  >"$work/stdout" 2>"$work/stderr"
code=$?
set -e
echo "image: ${entry[*]} as 65534 in the exported root filesystem: exit $code"
if [ "$code" -ne 0 ]; then
  cat "$work/stdout" "$work/stderr" >&2
  exit 1
fi
report="$root/var/lib/snapctl/last-run.json"
python3 - "$report" <<'EOF'
import json, os, stat, sys
path = sys.argv[1]
st = os.stat(path)
assert st.st_uid == 65534, f"report owned by {st.st_uid}"
assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
r = json.load(open(path))
assert r["schema"] == "snapctl.policy-report/v1", r["schema"]
p = r["policies"][0]
assert p["id"] == "image-test" and p["status"] == "ok", p
assert p["units"][0]["created"], p["units"][0]
print(f"image: report in the state directory: policy {p['id']} {p['status']}, created {p['units'][0]['created']['id']}")
EOF
metrics="$(curl -sf "http://127.0.0.1:$gw_port/metrics")"
line="$(grep '^snapctl_run_success{' <<<"$metrics" | grep 'policy_file="image-test"' || true)"
[ -n "$line" ] && [ "${line##* }" = 1 ] || { echo "image: no success in the Pushgateway: $line" >&2; exit 1; }
grep -q '^push_time_seconds{.*policy_file="image-test"' <<<"$metrics" ||
  { echo "image: the Pushgateway has no push_time_seconds for the group" >&2; exit 1; }
echo "image: metrics in the Pushgateway: $line"
[ -d "$root/tmp/snapctl-locks" ] || { echo "image: no lock directory under /tmp" >&2; exit 1; }
echo "image: ok"

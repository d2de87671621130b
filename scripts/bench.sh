#!/usr/bin/env bash
# Bulk-work benchmark against `snapctl emulator` (release build, loopback only). Prints, for each
# provider, the measured wall time next to the ideal, as issue 13 set them:
#   - rotate deleting N snapshots with --wait (emulator --latency 50ms, --delay 300ms);
#   - a single `snapshot create --wait` (the same emulator);
#   - peak RSS of `snapshot list` over many OUTSCALE snapshots with -o ids, -o json, a piped
#     table and a table cut to a 60-column terminal (COLUMNS=60).
# Client-side rate limits are off (SNAPCTL_MAX_RPS=0), as in the issue's measurements.
#
#   scripts/bench.sh              # N=100 deletions, 10,000 and 100,000 listed
#   N=19 LIST="10000" scripts/bench.sh
#   BIN=/path/to/other/snapctl scripts/bench.sh     # measure another build (no cargo build)
#   BIN=/old/snapctl EMU=./target/release/snapctl scripts/bench.sh   # an older client
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-100}"
LIST="${LIST:-10000 100000}"
LATENCY_MS=50
DELAY_MS=300
PORT="${PORT:-18099}"
if [ -n "${BIN:-}" ]; then bin="$BIN"; else cargo build --release --quiet; bin=./target/release/snapctl; fi
emu="${EMU:-$bin}"   # the emulator binary (EMU=… to measure an older client against today's emulator)
export SNAPCTL_MAX_RPS=0
pids=()
trap 'kill ${pids[*]} 2>/dev/null || true' EXIT

serve() { # serve EXTRA-ARGS… → exports the emulator's environment
  local out; out="$(mktemp)"
  "$emu" emulator --listen "127.0.0.1:$PORT" "$@" >"$out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 600); do grep -q '^export OS_PROJECT_NAME' "$out" && break; sleep 0.1; done
  eval "$(grep '^export' "$out")"
}
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pids=(); }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
first_volume() { # provider → the first volume's id
  case "$1" in
    ovh-efs) "$bin" -p ovh-efs --service 5e7a0f00-0000-4000-8000-000000000001 -o ids volume list | head -1 ;;
    *) "$bin" -p "$1" -o ids volume list | head -1 ;;
  esac
}
# Deletions in flight at once: max_in_flight in src/providers/mod.rs.
inflight() { case "$1" in ovh-*) echo 2 ;; outscale) echo 5 ;; powervc) echo 4 ;; esac; }
svc() { [ "$1" = ovh-efs ] && echo "--service 5e7a0f00-0000-4000-8000-000000000001" || true; }

echo "# snapctl bulk benchmark: emulator --latency ${LATENCY_MS}ms --delay ${DELAY_MS}ms, SNAPCTL_MAX_RPS=0"
echo "# $(uname -m), $(nproc) cores, $("$bin" --version)"
printf '%-34s %-9s %9s %9s %10s\n' "case" "provider" "seconds" "ideal" "ideal(1)"
for p in ovh-efs outscale powervc; do
  serve --latency "${LATENCY_MS}ms" --delay "${DELAY_MS}ms" --bulk "$((N + 1))"
  v="$(first_volume "$p")"
  t0=$(now)
  # shellcheck disable=SC2046
  "$bin" -p "$p" $(svc "$p") -o json rotate --volume "$v" --keep-last 1 --max-delete "$((N + 1))" --wait >/tmp/snapctl-bench-rotate.json
  t1=$(now)
  deleted=$(python3 -c "import json; print(sum(len(v['deleted']) for v in json.load(open('/tmp/snapctl-bench-rotate.json'))['volumes']))")
  [ "$deleted" = "$N" ] || { echo "rotate on $p deleted $deleted, not $N" >&2; exit 1; }
  # The ideal for the in-flight cap C: N deletions × latency / C + one transition; ideal(1) is
  # strictly one request at a time.
  c=$(inflight "$p")
  ideal=$(python3 -c "print(f'{$N * $LATENCY_MS / 1000 / $c + $DELAY_MS / 1000:.2f}')")
  ideal1=$(python3 -c "print(f'{$N * $LATENCY_MS / 1000 + $DELAY_MS / 1000:.2f}')")
  printf '%-34s %-9s %9s %9s %10s\n' "rotate --wait, $N deletions (C=$c)" "$p" "$(secs "$t0" "$t1")" "$ideal" "$ideal1"
  t0=$(now)
  # shellcheck disable=SC2046
  "$bin" -p "$p" $(svc "$p") -o ids snapshot create --volume "$v" --wait >/dev/null
  t1=$(now)
  printf '%-34s %-9s %9s %9s\n' "snapshot create --wait" "$p" "$(secs "$t0" "$t1")" "$(python3 -c "print(f'{$DELAY_MS / 1000:.2f}')")"
  stop
done

printf '\n%-34s %-9s %12s\n' "case" "provider" "peak RSS KiB"
for n in $LIST; do
  serve --bulk "$n"
  for fmt in ids json table table@60; do
    cols="${fmt#*@}"; [ "$cols" != "$fmt" ] || cols=""
    COLUMNS="$cols" /usr/bin/time -f '%M' -o /tmp/snapctl-bench-rss "$bin" -p outscale -o "${fmt%@*}" snapshot list >/tmp/snapctl-bench-list
    lines=$(wc -l </tmp/snapctl-bench-list)
    printf '%-34s %-9s %12s\n' "snapshot list -o $fmt, $n snapshots" outscale "$(tail -1 /tmp/snapctl-bench-rss)"
    [ "$fmt" != ids ] || [ "$lines" -ge "$n" ] || { echo "listed $lines, not $n" >&2; exit 1; }
  done
  stop
done

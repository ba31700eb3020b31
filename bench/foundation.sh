#!/usr/bin/env bash
# Foundation benchmark for souk: binary size, cold start, idle RSS, /metrics render
# cost, throughput of the trivial routes, RSS under load and log volume.
#
#   bash bench/foundation.sh [path-to-binary]
#
# Default binary: the static release build (make static). Only 127.0.0.1 is used,
# on free ports picked here, with throw-away data dirs. Every loop is bounded.
# The table goes to stdout and to target/bench/foundation.txt (raw wrk output
# next to it as foundation-wrk.*.txt).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEFAULT_BIN="$ROOT/target/x86_64-unknown-linux-gnu/release/souk"
BIN=${1:-$DEFAULT_BIN}
[[ $BIN == /* ]] || BIN="$PWD/$BIN"
OUT_DIR="$ROOT/target/bench"
OUT="$OUT_DIR/foundation.txt"

COLD_RUNS=10            # cold starts measured
READY_TIMEOUT_S=20      # give up on a start after this long
METRICS_RENDERS=200     # sequential GETs of /metrics
WRK_ARGS=(-t2 -c32 -d10s --latency)

die() { echo "foundation.sh: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }

if [[ ! -x $BIN ]]; then
    die "binary not found or not executable: $BIN
  build the static binary first: run \`make static\` (or pass a binary path as \$1)"
fi
for tool in curl wrk file ldd ss awk; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done

TMP=$(mktemp -d /tmp/souk-bench.XXXXXX)
SOUK_PID=""

stop_souk() {
    local pid=${1:-$SOUK_PID}
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        local i
        for ((i = 0; i < 100; i++)); do        # up to 10 s
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "foundation.sh: souk $pid ignored SIGTERM for 10 s, sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    [[ $pid == "$SOUK_PID" ]] && SOUK_PID=""
    return 0
}

cleanup() {
    local rc=$?
    stop_souk
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TCP port nobody listens on (bounded search from a random start).
pick_port() {
    local tries p
    for ((tries = 0; tries < 200; tries++)); do
        p=$((20000 + RANDOM % 40000))
        [[ $p == "${SHOP_PORT:-}" || $p == "${METRICS_PORT:-}" ]] && continue
        if [[ -z $(ss -Htln "sport = :$p" 2>/dev/null) ]]; then
            echo "$p"
            return 0
        fi
    done
    die "no free TCP port found"
}
SHOP_PORT=$(pick_port)
METRICS_PORT=$(pick_port)
SHOP="http://127.0.0.1:$SHOP_PORT"
METRICS="http://127.0.0.1:$METRICS_PORT"

# start_souk DATA_DIR LOG_LEVEL STDERR_FILE: starts souk in the background (SOUK_PID).
start_souk() {
    SOUK_DATA_DIR="$1" \
        SOUK_SHOP__LISTEN="127.0.0.1:$SHOP_PORT" \
        SOUK_METRICS__LISTEN="127.0.0.1:$METRICS_PORT" \
        SOUK_LOG__LEVEL="$2" \
        RUST_LOG="" \
        "$BIN" serve >"$3" 2>&1 </dev/null &
    SOUK_PID=$!
}

http_code() { curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$1" 2>/dev/null || true; }

# Polls /healthz until 200; prints the ns timestamp of the first 200.
wait_healthy() {
    local deadline=$(($(date +%s%N) + READY_TIMEOUT_S * 1000000000)) i now
    for ((i = 0; i < 100000; i++)); do
        if [[ $(http_code "$SHOP/healthz") == 200 ]]; then
            date +%s%N
            return 0
        fi
        kill -0 "$SOUK_PID" 2>/dev/null || return 1
        now=$(date +%s%N)
        ((now < deadline)) || return 1
        sleep 0.002
    done
    return 1
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
ms() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e6 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) printf "%.1f", a[(NR + 1) / 2]; else printf "%.1f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
maxof() { sort -n | tail -1 | awk '{ printf "%.1f", $1 }'; }
dir_bytes() { if [[ -d $1 ]]; then du -sb "$1" | awk '{ print $1 }'; else echo 0; fi; }

ROWS=()
row() { ROWS+=("$(printf '%-44s %s' "$1" "$2")"); }
section() { ROWS+=("" "[$1]"); }

# ---------------------------------------------------------------------------
say "binary: $BIN"
section "binary"
SIZE=$(stat -c %s "$BIN")
row "size" "$SIZE bytes ($(awk -v b="$SIZE" 'BEGIN { printf "%.2f", b / 1048576 }') MiB)"
row "file" "$(file -b "$BIN" | sed -E "s/, BuildID\[[^]]*\]=[0-9a-f]+//")"
row "ldd" "$(ldd "$BIN" 2>&1 | sed "s/^[[:space:]]*//" | paste -sd";" - | cut -c1-160)"
row "version" "$("$BIN" --version 2>&1 | head -1)"

# ---------------------------------------------------------------------------
say "cold start: $COLD_RUNS runs, fresh data dir each (migrations run)"
: >"$TMP/cold_health" >"$TMP/cold_logline"
for ((run = 1; run <= COLD_RUNS; run++)); do
    dd="$TMP/cold$run"
    t0=$(date +%s%N)
    start_souk "$dd" info "$TMP/cold$run.err"
    if ! t1=$(wait_healthy); then
        sed 's/^/  | /' "$TMP/cold$run.err" >&2
        die "cold start $run: no 200 from $SHOP/healthz within ${READY_TIMEOUT_S}s"
    fi
    echo $((t1 - t0)) >>"$TMP/cold_health"
    # The ready line carries its own RFC 3339 UTC timestamp (microseconds).
    ts=$(grep -m1 'souk is ready' "$TMP/cold$run.err" | awk '{ print $1 }' || true)
    if [[ -n $ts ]] && t2=$(date -u -d "$ts" +%s%N 2>/dev/null); then
        echo $((t2 - t0)) >>"$TMP/cold_logline"
    fi
    stop_souk
done
section "cold start (exec -> ready), $COLD_RUNS runs, fresh data dir each"
row "first 200 from /healthz: median / max" \
    "$(awk '{ print $1 / 1e6 }' "$TMP/cold_health" | median) ms / $(awk '{ print $1 / 1e6 }' "$TMP/cold_health" | maxof) ms"
if [[ -s $TMP/cold_logline ]]; then
    row "'souk is ready' log line: median / max" \
        "$(awk '{ print $1 / 1e6 }' "$TMP/cold_logline" | median) ms / $(awk '{ print $1 / 1e6 }' "$TMP/cold_logline" | maxof) ms"
else
    row "'souk is ready' log line" "not found on stderr"
fi
row "(note)" "curl polling every ~2 ms; includes fork+exec of the binary"

# ---------------------------------------------------------------------------
say "idle RSS + /metrics + throughput (log level warn)"
DATA="$TMP/main"
start_souk "$DATA" warn "$TMP/main.err"
wait_healthy >/dev/null || { sed 's/^/  | /' "$TMP/main.err" >&2; die "souk did not become healthy"; }
sleep 2
section "memory"
row "idle (ready + 2 s): VmRSS / VmHWM" "$(status_kb "$SOUK_PID" VmRSS) kB / $(status_kb "$SOUK_PID" VmHWM) kB"

# Traffic so the request series exist (every route, a 404 too).
for ((i = 0; i < 20; i++)); do
    for url in "$SHOP/" "$SHOP/healthz" "$SHOP/readyz" "$SHOP/static/souk.css" \
        "$SHOP/no-such-page" "$METRICS/healthz"; do
        curl -s -o /dev/null --max-time 2 "$url" || true
    done
done
[[ $(http_code "$METRICS/metrics") == 200 ]] || die "GET $METRICS/metrics did not answer 200"
: >"$TMP/metrics_times"
for ((i = 0; i < METRICS_RENDERS; i++)); do
    curl -s -o /dev/null --max-time 5 -w '%{time_total}\n' "$METRICS/metrics" >>"$TMP/metrics_times" || true
done
curl -s --max-time 5 "$METRICS/metrics" >"$TMP/metrics.txt"
section "/metrics ($METRICS_RENDERS sequential curl GETs, new connection each)"
row "time_total: mean / p50 / max" "$(awk '{ s += $1; if ($1 > m) m = $1 } END { printf "%.2f ms", s / NR * 1000 }' "$TMP/metrics_times") / $(awk '{ print $1 * 1000 }' "$TMP/metrics_times" | median) ms / $(awk '{ print $1 * 1000 }' "$TMP/metrics_times" | maxof) ms"
row "exposition size" "$(wc -c <"$TMP/metrics.txt") bytes"
row "series (non-comment lines)" "$(grep -cv -e '^#' -e '^[[:space:]]*$' "$TMP/metrics.txt")"

# run_wrk NAME URL: wrk output into $TMP/wrk.NAME
run_wrk() {
    say "wrk ${WRK_ARGS[*]} $2"
    wrk "${WRK_ARGS[@]}" "$2" >"$TMP/wrk.$1" 2>&1 || die "wrk failed on $2: $(cat "$TMP/wrk.$1")"
}
wrk_rps() { awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk.$1"; }
wrk_pct() { awk -v p="$2%" '$1 == p { print $2; exit }' "$TMP/wrk.$1"; }
wrk_total() { awk '/requests in/ { print $1; exit }' "$TMP/wrk.$1"; }
wrk_problems() {
    local f="$TMP/wrk.$1" out
    out=$(grep -E 'Non-2xx|Socket errors' "$f" | sed 's/^[[:space:]]*//' | paste -sd';' -)
    echo "${out:-none}"
}

section "throughput: wrk ${WRK_ARGS[*]}, log level warn (2 cores shared by wrk and souk)"
ROWS+=("$(printf '%-20s %12s %10s %10s %12s  %s' route req/s p50 p99 requests 'errors / non-2xx')")
for route in / /healthz /static/souk.css; do
    name=$(echo "$route" | tr -c 'a-z0-9\n' '_')
    run_wrk "$name" "$SHOP$route"
    ROWS+=("$(printf '%-20s %12s %10s %10s %12s  %s' "$route" "$(wrk_rps "$name")" \
        "$(wrk_pct "$name" 50)" "$(wrk_pct "$name" 99)" "$(wrk_total "$name")" "$(wrk_problems "$name")")")
done
row "ratio req/s  / : /healthz" "$(awk -v a="$(wrk_rps _)" -v b="$(wrk_rps _healthz)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
section "memory under load"
row "after the wrk runs: VmRSS / VmHWM" "$(status_kb "$SOUK_PID" VmRSS) kB / $(status_kb "$SOUK_PID" VmHWM) kB"
row "stderr lines during the warn-level run" "$(grep -c . "$TMP/main.err" || true)"
stop_souk

# ---------------------------------------------------------------------------
say "log volume at the default level (info)"
DATA="$TMP/loud"
start_souk "$DATA" info "$TMP/loud.err"
wait_healthy >/dev/null || { sed 's/^/  | /' "$TMP/loud.err" >&2; die "souk did not become healthy"; }
sleep 1
LOGS_BEFORE=$(dir_bytes "$DATA/logs")
ERR_BEFORE=$(stat -c %s "$TMP/loud.err")
run_wrk info "$SHOP/"
sleep 1 # the file writer is non-blocking: let it flush
LOGS_AFTER=$(dir_bytes "$DATA/logs")
ERR_AFTER=$(stat -c %s "$TMP/loud.err")
stop_souk
section "log volume: wrk ${WRK_ARGS[*]} on / at log level info"
row "requests served" "$(wrk_total info) ($(wrk_rps info) req/s; $(wrk_problems info))"
row "bytes written to <data_dir>/logs" "$((LOGS_AFTER - LOGS_BEFORE))"
row "bytes written to stderr" "$((ERR_AFTER - ERR_BEFORE))"
row "(reference)" "the project souk replaces wrote 804 MB in 2.5 min"

# ---------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
for f in "$TMP"/wrk.*; do cp "$f" "$OUT_DIR/foundation-${f##*/}.txt"; done
{
    echo "souk foundation benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(nproc) cores, $(uname -sr); wrk and souk share the cores, so req/s is a floor"
    printf '%s\n' "${ROWS[@]}"
} | tee "$OUT"
echo "(written to ${OUT#"$ROOT"/})" >&2

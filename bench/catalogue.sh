#!/usr/bin/env bash
# Catalogue benchmark for souk (issue 3): with 10,000 listings and 100,000 orders
# seeded, wrk measures the front page, a category page, page 2 and a search, each
# next to the same binary serving the same rendered bytes straight from memory
# through the same axum stack and layers (the hidden `souk bench-serve`). The
# ratio is souk / memory (goal: at least 0.5 for the catalogue). Then search and
# the front page again at 100,000 listings (goal: search p99 of 10 ms or less).
# Resident memory is read from /proc during and after the load.
#
#   bash bench/catalogue.sh [path-to-binary]
#
# Default binary: the static release build (make static). Loopback only, free
# ports picked here, throw-away data dirs, every loop bounded. The table goes to
# stdout and to target/bench/catalogue.txt (raw wrk output beside it).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEFAULT_BIN="$ROOT/target/x86_64-unknown-linux-gnu/release/souk"
BIN=${1:-$DEFAULT_BIN}
[[ $BIN == /* ]] || BIN="$PWD/$BIN"
OUT_DIR="$ROOT/target/bench"
OUT="$OUT_DIR/catalogue.txt"

WRK_ARGS=(-t2 -c32 -d10s --latency)
READY_TIMEOUT_S=30
CATEGORY=kitchen        # a demo category
TERM_WORD=teapot        # one of 48 demo nouns: about 2 % of the listings match

die() { echo "catalogue.sh: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }

[[ -x $BIN ]] || die "binary not found or not executable: $BIN
  build the static binary first: run \`make static\` (or pass a binary path as \$1)"
for tool in curl wrk ss awk; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done

TMP=$(mktemp -d /tmp/souk-bench-catalogue.XXXXXX)
PID=""

stop() {
    [[ -n $PID ]] || return 0
    if kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 100; i++)); do
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$PID" 2>/dev/null && kill -KILL "$PID" 2>/dev/null
    fi
    wait "$PID" 2>/dev/null || true
    PID=""
}
cleanup() {
    local rc=$?
    stop
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pick_port() {
    local tries p
    for ((tries = 0; tries < 200; tries++)); do
        p=$((20000 + RANDOM % 40000))
        [[ $p == "${SHOP_PORT:-}" || $p == "${METRICS_PORT:-}" ]] && continue
        [[ -z $(ss -Htln "sport = :$p" 2>/dev/null) ]] && { echo "$p"; return 0; }
    done
    die "no free TCP port found"
}
SHOP_PORT=$(pick_port)
METRICS_PORT=$(pick_port)
SHOP="http://127.0.0.1:$SHOP_PORT"

wait_healthy() {
    local i
    for ((i = 0; i < READY_TIMEOUT_S * 20; i++)); do
        [[ $(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$SHOP/healthz" 2>/dev/null) == 200 ]] && return 0
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# serve DATA_DIR: the real shop on $SHOP (default log level).
serve() {
    SOUK_DATA_DIR="$1" SOUK_SHOP__LISTEN="127.0.0.1:$SHOP_PORT" \
        SOUK_METRICS__LISTEN="127.0.0.1:$METRICS_PORT" RUST_LOG="" \
        "$BIN" serve >"$TMP/serve.err" 2>&1 </dev/null &
    PID=$!
    wait_healthy || { sed 's/^/  | /' "$TMP/serve.err" >&2; die "souk serve did not become healthy"; }
}

# memory FILE: the same bytes from memory, through the same stack, on $SHOP.
memory() {
    "$BIN" bench-serve "$1" --listen "127.0.0.1:$SHOP_PORT" >"$TMP/memory.err" 2>&1 </dev/null &
    PID=$!
    wait_healthy || { sed 's/^/  | /' "$TMP/memory.err" >&2; die "souk bench-serve did not start"; }
}

# seed DIR LISTINGS ORDERS: prints the seconds it took.
seed() {
    local t0 t1
    t0=$(date +%s%N)
    "$BIN" demo --seed-only --data-dir "$1" --listings "$2" --orders "$3" >"$TMP/seed.out" 2>&1 ||
        { cat "$TMP/seed.out" >&2; die "seeding $2 listings failed"; }
    t1=$(date +%s%N)
    awk -v ns="$((t1 - t0))" 'BEGIN { printf "%.1f", ns / 1e9 }'
}

kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
RSS_PEAK=0
# run_wrk NAME PATH: wrk output in $TMP/wrk.NAME; samples RSS half-way. A PATH
# ending in "=" gets a new number appended on every request (never the same
# address twice, so nothing can come from the page cache).
run_wrk() {
    local script=()
    if [[ $2 == *= ]]; then
        printf 'local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format("GET", "%s" .. n)\nend\n' "$2" >"$TMP/vary.lua"
        script=(-s "$TMP/vary.lua")
    fi
    say "wrk ${WRK_ARGS[*]} ${script[*]} $SHOP$2"
    wrk "${WRK_ARGS[@]}" "${script[@]}" "$SHOP$2" >"$TMP/wrk.$1" 2>&1 &
    local w=$!
    sleep 5
    local r
    r=$(kb "$PID" VmRSS)
    ((r > RSS_PEAK)) && RSS_PEAK=$r
    wait "$w" || die "wrk failed on $2: $(cat "$TMP/wrk.$1")"
}
rps() { awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk.$1"; }
pct() { awk -v p="$2%" '$1 == p { print $2; exit }' "$TMP/wrk.$1"; }
problems() {
    local out
    out=$(grep -E 'Non-2xx|Socket errors' "$TMP/wrk.$1" | sed 's/^[[:space:]]*//' | paste -sd';' - || true)
    echo "${out:-none}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

ROWS=()
row() { ROWS+=("$(printf '%-46s %s' "$1" "$2")"); }
section() { ROWS+=("" "[$1]"); }
table_head() { ROWS+=("$(printf '%-26s %10s %9s %9s %10s %9s %9s %7s  %s' page souk/s p50 p99 memory/s p50 p99 ratio errors)"); }
table_row() { # NAME PATH
    ROWS+=("$(printf '%-26s %10s %9s %9s %10s %9s %9s %7s  %s' "$2" "$(rps "$1")" "$(pct "$1" 50)" "$(pct "$1" 99)" \
        "$(rps "mem_$1")" "$(pct "mem_$1" 50)" "$(pct "mem_$1" 99)" "$(ratio "$(rps "$1")" "$(rps "mem_$1")")" \
        "$(problems "$1") / $(problems "mem_$1")")")
}

# bench_pages LABEL DATA_DIR NAME=PATH...: real shop first, then each page's bytes from memory.
bench_pages() {
    local label=$1 data=$2
    shift 2
    serve "$data"
    sleep 1
    row "idle after start: VmRSS" "$(kb "$PID" VmRSS) kB"
    local spec name path
    for spec in "$@"; do
        name=${spec%%=*} path=${spec#*=}
        curl -s --max-time 5 -o "$TMP/page.$name" "$SHOP${path%=}"
        [[ $(grep -c 'class="card"' "$TMP/page.$name") -gt 0 ]] || die "$path shows no listings"
        run_wrk "$name" "$path"
    done
    row "under load: VmRSS peak sample / VmHWM" "$RSS_PEAK kB / $(kb "$PID" VmHWM) kB"
    stop
    RSS_PEAK=0
    for spec in "$@"; do
        name=${spec%%=*} path=${spec#*=}
        memory "$TMP/page.$name"
        run_wrk "mem_$name" /
        stop
    done
    section "$label: wrk ${WRK_ARGS[*]}; memory = the same bytes from memory via bench-serve"
    table_head
    for spec in "$@"; do
        name=${spec%%=*} path=${spec#*=}
        table_row "$name" "$path ($(wc -c <"$TMP/page.$name") B)"
    done
}

say "seeding 10,000 listings and 100,000 orders"
S10=$(seed "$TMP/d10k" 10000 100000)
section "seed (souk demo --seed-only, hidden sizes)"
row "10,000 listings + 100,000 orders" "$S10 s"
bench_pages "10,000 listings, 100,000 orders" "$TMP/d10k" \
    home=/ category=/c/$CATEGORY page2=/?page=2 home_uncached=/?uncached= search=/search?q=$TERM_WORD
rm -rf "$TMP/d10k"

say "seeding 100,000 listings"
S100=$(seed "$TMP/d100k" 100000 100000)
ROWS+=("$(printf '%-46s %s' "100,000 listings + 100,000 orders (seed)" "$S100 s")")
bench_pages "100,000 listings, 100,000 orders" "$TMP/d100k" \
    search100k=/search?q=$TERM_WORD home100k=/ best100k=/search?q=$TERM_WORD\&sort=relevance price100k=/search?q=$TERM_WORD\&sort=price_low
rm -rf "$TMP/d100k"

mkdir -p "$OUT_DIR"
for f in "$TMP"/wrk.*; do cp "$f" "$OUT_DIR/catalogue-${f##*/}.txt"; done
{
    echo "souk catalogue benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  binary: ${BIN#"$ROOT"/}"
    echo "host: $(nproc) cores, $(uname -sr); wrk and souk share the cores; search term \"$TERM_WORD\" (about 2 % of listings)"
    printf '%s\n' "${ROWS[@]}"
} | tee "$OUT"
echo "(written to ${OUT#"$ROOT"/})" >&2

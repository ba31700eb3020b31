#!/usr/bin/env bash
# Backup benchmark on a shop database of about DB_MB MiB (1 GiB by default):
#   1. throughput of `souk backup now` next to the stock `age` CLI encrypting a
#      snapshot of the same database, in the same run (goal: ratio >= 0.9);
#   2. peak resident memory of the backup (VmHWM; goal: flat, < 64 MiB), for
#      `souk backup now` and for the serving souk before/after a SIGUSR1 backup;
#   3. the shop's p99 latency (wrk on /) idle and during a backup (goal <= 2x).
#
#   bash bench/backup.sh [path-to-binary]
#
# Needs: age, sqlite3, wrk, curl, GNU time (Debian package time). 127.0.0.1 only; throw-away dirs in /var/tmp.
# Output: stdout and target/bench/backup.txt. Not a test: it prints figures.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-$ROOT/target/x86_64-unknown-linux-gnu/release/souk}
[[ $BIN == /* ]] || BIN="$PWD/$BIN"
DB_MB=${DB_MB:-1024}
RUNS=${RUNS:-3}
LAT_ROUNDS=${LAT_ROUNDS:-2}
WRK_ARGS=(-t1 -c8 --latency)
OUT="$ROOT/target/bench/backup.txt"
# shellcheck source=bench/shop-db.sh
source "$ROOT/bench/shop-db.sh"

die() { echo "backup.sh: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }
[[ -x $BIN ]] || die "binary not found: $BIN (run \`make static\` or pass a path)"
for t in age age-keygen sqlite3 wrk curl ss nice /usr/bin/time; do command -v "$t" >/dev/null || die "missing tool: $t"; done

TMP=$(mktemp -d /var/tmp/souk-bench-backup.XXXXXX)
SOUK_PID=""
stop_souk() {
    [[ -n $SOUK_PID ]] || return 0
    kill -TERM "$SOUK_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 300; i++)); do kill -0 "$SOUK_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SOUK_PID" 2>/dev/null || true
    wait "$SOUK_PID" 2>/dev/null || true
    SOUK_PID=""
}
cleanup() { local rc=$?; stop_souk; rm -rf "$TMP"; exit "$rc"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pick_port() {
    local p tries
    for ((tries = 0; tries < 200; tries++)); do
        p=$((20000 + RANDOM % 40000))
        [[ -z $(ss -Htln "sport = :$p" 2>/dev/null) ]] && { echo "$p"; return 0; }
    done
    die "no free port"
}
SHOP_PORT=$(pick_port)
METRICS_PORT=$(pick_port)
now_ns() { date +%s%N; }
secs() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'; }
mibps() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.0f", b / 1048576 / (ns / 1e9) }'; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

age-keygen -o "$TMP/key.txt" 2>"$TMP/keygen.out"
PUBLIC=$(grep -o 'age1[0-9a-z]*' "$TMP/keygen.out")
DATA="$TMP/data"
mkdir -p "$DATA"
cat >"$TMP/souk.toml" <<EOF
data_dir = "$DATA"
[shop]
listen = "127.0.0.1:$SHOP_PORT"
[metrics]
listen = "127.0.0.1:$METRICS_PORT"
[log]
level = "warn"
[backup]
recipients = ["$PUBLIC"]
schedule = ""
keep_last = 1
keep_daily = 0
keep_weekly = 0
keep_monthly = 0
${LEVEL:+compression_level = $LEVEL}
EOF
LEVEL=${LEVEL:-$("$BIN" check-config --config "$TMP/souk.toml" 2>/dev/null | sed -n 's/.*zstd level \(-\{0,1\}[0-9]*\).*/\1/p')}
start_souk() {
    "$BIN" serve --config "$TMP/souk.toml" >>"$TMP/souk.err" 2>&1 </dev/null &
    SOUK_PID=$!
    local i
    for ((i = 0; i < 2000; i++)); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$SHOP_PORT/readyz" || true) == 200 ]] && return 0
        kill -0 "$SOUK_PID" 2>/dev/null || { cat "$TMP/souk.err" >&2; die "souk exited"; }
        sleep 0.01
    done
    die "souk not ready"
}

say "building the shop database (~${DB_MB} MiB)"
seed_shop "$BIN" "$DATA"
make_shop_db "$DATA/souk.db" "$DB_MB"
DB_BYTES=$(stat -c %s "$DATA/souk.db")
start_souk

# Runs a command under GNU time: sets T_NS (wall, ns), CPU_S (user + sys, s) and
# MAXRSS_KB (peak resident memory from getrusage, exact rather than polled).
timed() {
    local out=$1 t0
    shift
    t0=$(now_ns)
    /usr/bin/time -f '%U %S %M' -o "$TMP/time.out" "$@" >"$out" 2>&1 || { cat "$out" >&2; die "failed: $*"; }
    T_NS=$(($(now_ns) - t0))
    read -r u s MAXRSS_KB <"$TMP/time.out"
    CPU_S=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
}

# souk's backup lowers its archive thread to nice 19 so that the shop wins the
# cores; the age CLI is timed at that same priority (so that other load on the
# machine weighs on both alike) and, for information, at normal priority.
say "throughput: souk backup now vs age -r on a snapshot of the same database ($RUNS runs each, alternating)"
sqlite3 "$DATA/souk.db" ".backup '$TMP/snapshot.db'"
cat "$TMP/snapshot.db" >/dev/null # both read the database from the page cache
best_souk=0 best_age=0 best_age0=0 best_hwm=0
for ((r = 1; r <= RUNS; r++)); do
    timed "$TMP/now.out" "$BIN" backup now --config "$TMP/souk.toml"
    ((best_souk == 0 || T_NS < best_souk)) && { best_souk=$T_NS; cpu_souk=$CPU_S; }
    ((MAXRSS_KB > best_hwm)) && best_hwm=$MAXRSS_KB
    SOUK_LINES=$(cat "$TMP/now.out")
    t_souk=$T_NS
    sync
    timed "$TMP/age.out" nice -n 19 age -r "$PUBLIC" -o "$TMP/snapshot.db.age" "$TMP/snapshot.db"
    ((best_age == 0 || T_NS < best_age)) && { best_age=$T_NS; cpu_age=$CPU_S; }
    t_age=$T_NS
    rm -f "$TMP/snapshot.db.age"
    sync
    timed "$TMP/age.out" age -r "$PUBLIC" -o "$TMP/snapshot.db.age" "$TMP/snapshot.db"
    ((best_age0 == 0 || T_NS < best_age0)) && best_age0=$T_NS
    rm -f "$TMP/snapshot.db.age"
    sync
    say "run $r: souk $(secs $t_souk) s, age (nice 19) $(secs $t_age) s, age $(secs $T_NS) s, souk peak RSS $best_hwm kB"
done
BACKUP=$(ls "$DATA/backups"/souk-*.tar.zst.age | tail -1)
BACKUP_BYTES=$(stat -c %s "$BACKUP")

say "memory of the serving souk around a SIGUSR1 backup"
HWM_BEFORE=$(status_kb "$SOUK_PID" VmHWM)
RSS_BEFORE=$(status_kb "$SOUK_PID" VmRSS)
runs_ok() { curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk '$1 == "souk_backup_runs_total{result=\"ok\"}" { print $2 }'; }
before=$(runs_ok); before=${before:-0}
kill -USR1 "$SOUK_PID"
for ((i = 0; i < 6000; i++)); do [[ $(runs_ok) != "$before" && -n $(runs_ok) ]] && break; sleep 0.1; done
HWM_AFTER=$(status_kb "$SOUK_PID" VmHWM)
RSS_AFTER=$(status_kb "$SOUK_PID" VmRSS)

say "latency: wrk ${WRK_ARGS[*]} on / idle, then during a SIGUSR1 backup ($LAT_ROUNDS rounds)"
DUR=$(awk -v ns="$best_souk" 'BEGIN { d = int(ns / 1e9); if (d < 3) d = 3; print d }')
pct() { awk -v p="$2%" '$1 == p { print $2; exit }' "$TMP/wrk.$1"; }
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v / 1000; else if (v ~ /ms$/) printf "%.3f", v + 0; else if (v ~ /s$/) printf "%.3f", v * 1000 }'; }
rps() { awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk.$1"; }
LAT_LINES=() WORST=0
for ((r = 1; r <= LAT_ROUNDS; r++)); do
    wrk "${WRK_ARGS[@]}" -d"${DUR}s" "http://127.0.0.1:$SHOP_PORT/" >"$TMP/wrk.idle$r"
    before=$(runs_ok)
    kill -USR1 "$SOUK_PID"
    wrk "${WRK_ARGS[@]}" -d"${DUR}s" "http://127.0.0.1:$SHOP_PORT/" >"$TMP/wrk.backup$r"
    # The backup must still have been running when wrk stopped, or the window
    # was not all "during a backup".
    [[ $(runs_ok) == "$before" ]] && still=yes || still=NO
    for ((i = 0; i < 6000; i++)); do [[ $(runs_ok) != "$before" ]] && break; sleep 0.1; done
    idle=$(to_ms "$(pct "idle$r" 99)") busy=$(to_ms "$(pct "backup$r" 99)")
    ratio=$(awk -v a="$busy" -v b="$idle" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    WORST=$(awk -v a="$ratio" -v w="$WORST" 'BEGIN { print (a > w ? a : w) }')
    LAT_LINES+=("$(printf '%-52s %s' "round $r: p99 idle / during (req/s idle / during)" \
        "$idle ms / $busy ms ($(rps "idle$r") / $(rps "backup$r")), ratio $ratio, backup ran all along: $still")")
done
stop_souk

mkdir -p "$(dirname "$OUT")"
{
    echo "souk backup benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(nproc) cores, $(uname -sr); binary: $BIN"
    printf '%-52s %s\n' "database" "$DB_BYTES bytes ($(awk -v b="$DB_BYTES" 'BEGIN { printf "%.2f", b / 1073741824 }') GiB)"
    printf '%-52s %s\n' "backup file" "$BACKUP_BYTES bytes ($(awk -v a="$BACKUP_BYTES" -v b="$DB_BYTES" 'BEGIN { printf "%.0f", 100 * a / b }')% of the database)"
    echo
    echo "[throughput: best of $RUNS, database bytes per second; the same snapshot, the same run]"
    echo "compared: all of \`souk backup now\` (process start, snapshot, tar, SHA-256 of every member,"
    echo "zstd level $LEVEL, age, fsync, rename) against \`age -r\` encrypting a copy of the same"
    echo "database (no compression, no hashing, no fsync), both reading it from the page cache"
    printf '%-52s %s\n' "souk backup now (archive thread at nice 19)" "$(secs $best_souk) s  $(mibps "$DB_BYTES" "$best_souk") MiB/s  (CPU $cpu_souk s)"
    printf '%-52s %s\n' "age -r at nice 19 (souk's backup priority)" "$(secs $best_age) s  $(mibps "$DB_BYTES" "$best_age") MiB/s  (CPU $cpu_age s)"
    printf '%-52s %s\n' "age -r at normal priority (information)" "$(secs $best_age0) s  $(mibps "$DB_BYTES" "$best_age0") MiB/s"
    printf '%-52s %s\n' "ratio souk / age CLI, same priority (goal >= 0.9)" "$(awk -v a="$best_age" -v s="$best_souk" 'BEGIN { printf "%.2f", a / s }')"
    printf '%-52s %s\n' "ratio souk / age CLI at normal priority" "$(awk -v a="$best_age0" -v s="$best_souk" 'BEGIN { printf "%.2f", a / s }')"
    echo "souk's own lines (last run):"
    printf '%s\n' "$SOUK_LINES" | sed 's/^/  | /'
    echo
    echo "[memory]"
    printf '%-52s %s\n' "souk backup now: peak RSS, getrusage (goal < 64 MiB)" "$best_hwm kB ($(awk -v k="$best_hwm" 'BEGIN { printf "%.1f", k / 1024 }') MiB)"
    printf '%-52s %s\n' "souk serve: VmHWM before / after a SIGUSR1 backup" "$HWM_BEFORE kB / $HWM_AFTER kB"
    printf '%-52s %s\n' "souk serve: VmRSS before / after" "$RSS_BEFORE kB / $RSS_AFTER kB"
    echo
    echo "[latency of / : wrk ${WRK_ARGS[*]} -d${DUR}s, 2 cores shared by wrk, souk and the backup]"
    printf '%s\n' "${LAT_LINES[@]}"
    printf '%-52s %s\n' "p99 ratio backup / idle, worst round (goal <= 2)" "$WORST"
} | tee "$OUT"

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
# Needs: age, sqlite3, wrk, curl. 127.0.0.1 only; throw-away dirs in /var/tmp.
# Output: stdout and target/bench/backup.txt. Not a test: it prints figures.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-$ROOT/target/x86_64-unknown-linux-gnu/release/souk}
[[ $BIN == /* ]] || BIN="$PWD/$BIN"
DB_MB=${DB_MB:-1024}
RUNS=${RUNS:-2}
WRK_ARGS=(-t1 -c8 --latency)
OUT="$ROOT/target/bench/backup.txt"
# shellcheck source=bench/shop-db.sh
source "$ROOT/bench/shop-db.sh"

die() { echo "backup.sh: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }
[[ -x $BIN ]] || die "binary not found: $BIN (run \`make static\` or pass a path)"
for t in age age-keygen sqlite3 wrk curl ss; do command -v "$t" >/dev/null || die "missing tool: $t"; done

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
EOF
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

# Runs `souk backup now`, polling its VmHWM; sets T_SOUK (ns) and HWM_KB.
souk_backup_now() {
    local t0 pid hwm=0 v
    t0=$(now_ns)
    "$BIN" backup now --config "$TMP/souk.toml" >"$TMP/now.out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        v=$(status_kb "$pid" VmHWM || true)
        [[ -n $v && $v -gt $hwm ]] && hwm=$v
        sleep 0.05
    done
    wait "$pid" || { cat "$TMP/now.out" >&2; die "souk backup now failed"; }
    T_SOUK=$(($(now_ns) - t0))
    HWM_KB=$hwm
}

say "throughput: souk backup now vs age -r on a snapshot of the same database ($RUNS runs each, alternating)"
sqlite3 "$DATA/souk.db" ".backup '$TMP/snapshot.db'"
best_souk=0 best_age=0 best_hwm=0
for ((r = 1; r <= RUNS; r++)); do
    souk_backup_now
    ((best_souk == 0 || T_SOUK < best_souk)) && best_souk=$T_SOUK
    ((HWM_KB > best_hwm)) && best_hwm=$HWM_KB
    SOUK_LINES=$(cat "$TMP/now.out")
    t0=$(now_ns)
    age -r "$PUBLIC" -o "$TMP/snapshot.db.age" "$TMP/snapshot.db"
    t_age=$(($(now_ns) - t0))
    sync
    ((best_age == 0 || t_age < best_age)) && best_age=$t_age
    rm -f "$TMP/snapshot.db.age"
    say "run $r: souk $(secs $T_SOUK) s, age $(secs $t_age) s, souk VmHWM $HWM_KB kB"
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

say "latency: wrk ${WRK_ARGS[*]} on / idle, then during a SIGUSR1 backup"
DUR=$(awk -v ns="$best_souk" 'BEGIN { d = int(ns / 1e9); if (d < 3) d = 3; print d }')
wrk "${WRK_ARGS[@]}" -d"${DUR}s" "http://127.0.0.1:$SHOP_PORT/" >"$TMP/wrk.idle"
before=$(runs_ok)
kill -USR1 "$SOUK_PID"
wrk "${WRK_ARGS[@]}" -d"${DUR}s" "http://127.0.0.1:$SHOP_PORT/" >"$TMP/wrk.backup"
for ((i = 0; i < 6000; i++)); do [[ $(runs_ok) != "$before" ]] && break; sleep 0.1; done
pct() { awk -v p="$2%" '$1 == p { print $2; exit }' "$TMP/wrk.$1"; }
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v / 1000; else if (v ~ /ms$/) printf "%.3f", v + 0; else if (v ~ /s$/) printf "%.3f", v * 1000 }'; }
rps() { awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk.$1"; }
P99_IDLE=$(to_ms "$(pct idle 99)")
P99_BACKUP=$(to_ms "$(pct backup 99)")
stop_souk

mkdir -p "$(dirname "$OUT")"
{
    echo "souk backup benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(nproc) cores, $(uname -sr); binary: $BIN"
    printf '%-52s %s\n' "database" "$DB_BYTES bytes ($(awk -v b="$DB_BYTES" 'BEGIN { printf "%.2f", b / 1073741824 }') GiB)"
    printf '%-52s %s\n' "backup file" "$BACKUP_BYTES bytes ($(awk -v a="$BACKUP_BYTES" -v b="$DB_BYTES" 'BEGIN { printf "%.0f", 100 * a / b }')% of the database)"
    echo
    echo "[throughput: best of $RUNS, database bytes per second]"
    printf '%-52s %s\n' "souk backup now (snapshot + tar + zstd + age + fsync)" "$(secs $best_souk) s  $(mibps "$DB_BYTES" "$best_souk") MiB/s"
    printf '%-52s %s\n' "age -r on a snapshot file (same database)" "$(secs $best_age) s  $(mibps "$DB_BYTES" "$best_age") MiB/s"
    printf '%-52s %s\n' "ratio souk / age CLI (goal >= 0.9)" "$(awk -v a="$best_age" -v s="$best_souk" 'BEGIN { printf "%.2f", a / s }')"
    echo "souk's own lines (last run):"
    printf '%s\n' "$SOUK_LINES" | sed 's/^/  | /'
    echo
    echo "[memory]"
    printf '%-52s %s\n' "souk backup now: peak VmHWM (goal < 64 MiB)" "$best_hwm kB ($(awk -v k="$best_hwm" 'BEGIN { printf "%.1f", k / 1024 }') MiB)"
    printf '%-52s %s\n' "souk serve: VmHWM before / after a SIGUSR1 backup" "$HWM_BEFORE kB / $HWM_AFTER kB"
    printf '%-52s %s\n' "souk serve: VmRSS before / after" "$RSS_BEFORE kB / $RSS_AFTER kB"
    echo
    echo "[latency of / : wrk ${WRK_ARGS[*]} -d${DUR}s, 2 cores shared by wrk, souk and the backup]"
    printf '%-52s %s\n' "idle: p99 / req/s" "$P99_IDLE ms / $(rps idle)"
    printf '%-52s %s\n' "during a backup: p99 / req/s" "$P99_BACKUP ms / $(rps backup)"
    printf '%-52s %s\n' "p99 ratio backup / idle (goal <= 2)" "$(awk -v a="$P99_BACKUP" -v b="$P99_IDLE" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
} | tee "$OUT"

#!/usr/bin/env bash
# Disaster-recovery drill: builds a shop database of about DB_MB MiB (1 GiB by
# default), serves it, backs it up while serving, "loses the server" (stops souk
# and wipes the data dir), then recovers as the runbook says: fetch the backup,
# souk restore, start souk, and measures each step. Finally it checks that every
# table is identical (row count + content hash) and reports the recovery time
# (RTO: from starting to fetch the backup to /readyz answering 200; goal < 60 s).
#
#   bash bench/backup-drill.sh [path-to-binary]        DB_MB=1024 by default
#
# Needs: age (age-keygen), zstd, sqlite3, curl, sha256sum. Uses 127.0.0.1 only, free
# ports, throw-away directories under /var/tmp (about 3x DB_MB of disk).
# Output goes to stdout and target/bench/backup-drill.txt.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-$ROOT/target/x86_64-unknown-linux-gnu/release/souk}
[[ $BIN == /* ]] || BIN="$PWD/$BIN"
DB_MB=${DB_MB:-1024}
OUT="$ROOT/target/bench/backup-drill.txt"
# shellcheck source=bench/shop-db.sh
source "$ROOT/bench/shop-db.sh"

die() { echo "backup-drill.sh: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }
[[ -x $BIN ]] || die "binary not found: $BIN (run \`make static\` or pass a path)"
for t in age age-keygen zstd tar sqlite3 curl sha256sum ss; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done

TMP=$(mktemp -d /var/tmp/souk-drill.XXXXXX)
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

# The "server": a config file like /etc/souk/souk.toml.
age-keygen -o "$TMP/operator-key.txt" 2>"$TMP/keygen.out"
PUBLIC=$(grep -o 'age1[0-9a-z]*' "$TMP/keygen.out")
write_config() { # DATA_DIR
    cat >"$TMP/souk.toml" <<EOF
data_dir = "$1"
[shop]
listen = "127.0.0.1:$SHOP_PORT"
[metrics]
listen = "127.0.0.1:$METRICS_PORT"
[log]
level = "warn"
[backup]
recipients = ["$PUBLIC"]
schedule = ""
EOF
}
start_souk() {
    "$BIN" serve --config "$TMP/souk.toml" >>"$TMP/souk.err" 2>&1 </dev/null &
    SOUK_PID=$!
}
wait_ready() { # -> prints nothing; returns when /readyz is 200
    local i
    for ((i = 0; i < 60000; i++)); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$SHOP_PORT/readyz" || true) == 200 ]] && return 0
        kill -0 "$SOUK_PID" 2>/dev/null || { cat "$TMP/souk.err" >&2; die "souk exited"; }
        sleep 0.01
    done
    die "souk not ready"
}

OLD="$TMP/old-server/var/lib/souk"
NEW="$TMP/new-server/var/lib/souk"
OFFSITE="$TMP/offsite"
mkdir -p "$OLD" "$OFFSITE"
write_config "$OLD"

say "old server: a real shop (souk demo --seed-only)"
seed_shop "$BIN" "$OLD"
say "padding the shop database to ~${DB_MB} MiB (sqlite3)"
t0=$(now_ns); make_shop_db "$OLD/souk.db" "$DB_MB"; t_fill=$(($(now_ns) - t0))
DB_BYTES=$(stat -c %s "$OLD/souk.db")
start_souk; wait_ready
say "backup while serving (souk backup now)"
t0=$(now_ns)
"$BIN" backup now --config "$TMP/souk.toml" >"$TMP/backup.out" 2>&1 || { cat "$TMP/backup.out" >&2; die "backup failed"; }
t_backup=$(($(now_ns) - t0))
BACKUP=$(ls "$OLD/backups"/souk-*.tar.zst.age | tail -1)
BACKUP_BYTES=$(stat -c %s "$BACKUP")
cp "$BACKUP" "$OFFSITE/"                     # what post_command / rclone would do
stop_souk
# The shop's own jobs (order deadlines, metrics history) go on writing after the
# backup, so "identical" means: the restored database holds exactly what the
# backup holds, read here with the stock tools, not with souk.
say "digests of every table in the backup (age -d | zstd -d | tar -xO souk.db)"
age -d -i "$TMP/operator-key.txt" "$BACKUP" | zstd -d -q | tar -xO souk.db >"$TMP/in-backup.db"
table_digests "$TMP/in-backup.db" >"$TMP/before.txt"
rm -f "$TMP"/in-backup.db*
table_digests "$OLD/souk.db" >"$TMP/live.txt"
CHANGED=$( (diff "$TMP/before.txt" "$TMP/live.txt" || true) | awk '$1 == ">" { printf "%s ", $2 }')

say "disaster: the old server is gone"
rm -rf "$TMP/old-server"

# --- recovery, timed step by step (the .deb install is timed in the runbook) ---
write_config "$NEW"
mkdir -p "$NEW"

t0=$(now_ns)
cp "$OFFSITE/$(basename "$BACKUP")" "$TMP/"   # fetch the backup to the new server
t_fetch=$(($(now_ns) - t0))
t0=$(now_ns)
"$BIN" restore --identity "$TMP/operator-key.txt" "$TMP/$(basename "$BACKUP")" --config "$TMP/souk.toml" \
    >"$TMP/restore.out" 2>&1 || { cat "$TMP/restore.out" >&2; die "restore failed"; }
t_restore=$(($(now_ns) - t0))
# Not timed: the digests of the restored file, before the new souk writes to it.
table_digests "$NEW/souk.db" >"$TMP/after.txt"
t0=$(now_ns)
start_souk; wait_ready
t_start=$(($(now_ns) - t0))
RTO=$((t_fetch + t_restore + t_start))
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SHOP_PORT/") == 200 ]] || die "the shop page does not answer 200"
stop_souk

if cmp -s "$TMP/before.txt" "$TMP/after.txt"; then IDENTICAL=yes; else IDENTICAL=NO; fi

mkdir -p "$(dirname "$OUT")"
{
    echo "souk disaster-recovery drill  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(nproc) cores, $(uname -sr); binary: $BIN"
    printf '%-44s %s\n' "database" "$DB_BYTES bytes ($(awk -v b="$DB_BYTES" 'BEGIN { printf "%.2f", b / 1073741824 }') GiB), built in $(secs $t_fill) s"
    printf '%-44s %s\n' "backup while serving (souk backup now)" "$(secs $t_backup) s -> $BACKUP_BYTES bytes ($(awk -v a="$BACKUP_BYTES" -v b="$DB_BYTES" 'BEGIN { printf "%.0f", 100 * a / b }')% of the database)"
    echo
    echo "recovery on the new server:"
    printf '  %-42s %s\n' "fetch the backup (local copy)" "$(secs $t_fetch) s"
    printf '  %-42s %s\n' "souk restore (decrypt, check, move)" "$(secs $t_restore) s"
    printf '  %-42s %s\n' "souk serve until /readyz = 200" "$(secs $t_start) s"
    printf '  %-42s %s\n' "RTO (fetch -> serving)" "$(secs $RTO) s  (goal < 60 s)"
    echo
    echo "tables (rows, content sha256) of the restored database identical to the backup's: $IDENTICAL"
    echo "tables the old shop's own jobs changed after the backup (not in it): ${CHANGED:-none}"
    sed 's/^/  /' "$TMP/after.txt"
    echo
    echo "souk restore said:"
    sed 's/^/  | /' "$TMP/restore.out"
} | tee "$OUT"
[[ $IDENTICAL == yes ]] || { diff "$TMP/before.txt" "$TMP/after.txt" >&2 || true; die "data differs after restore"; }

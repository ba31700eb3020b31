#!/usr/bin/env bash
# Sourced by bench/backup.sh and bench/backup-drill.sh: builds a shop database of
# about TARGET_MB MiB and computes per-table row counts + content hashes.
#
#   seed_shop BIN DATA_DIR        a real shop: `souk demo --seed-only` (10,000
#                                 listings, 20,000 orders, accounts, pictures)
#   make_shop_db DB TARGET_MB     pads DB up to TARGET_MB with bench_vendors,
#                                 bench_listings, bench_orders, bench_messages
#                                 (sqlite3 CLI, Debian package sqlite3); own
#                                 table names, so the schema of the shop may change
#   table_digests DB              prints "table rows sha256" per table, sorted

seed_shop() {
    local bin=$1 dir=$2
    "$bin" demo --seed-only --data-dir "$dir" --listings 10000 --orders 20000 >/dev/null
}

# Rows of text shaped like a shop's: hex ids and prices are random, the prose
# repeats, so it compresses about as well as real listings and messages do.
make_shop_db() {
    local db=$1 target_mb=$2
    local batches=$((target_mb / 16 + 2)) i
    sqlite3 -bail "$db" <<'SQL' >/dev/null
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS bench_vendors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, pgp TEXT, joined_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bench_listings (id INTEGER PRIMARY KEY, vendor_id INTEGER NOT NULL, title TEXT NOT NULL,
    description TEXT NOT NULL, price_piconero INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS bench_listings_vendor ON bench_listings (vendor_id, created_at);
CREATE TABLE IF NOT EXISTS bench_orders (id INTEGER PRIMARY KEY, listing_id INTEGER NOT NULL, buyer TEXT NOT NULL,
    state TEXT NOT NULL, amount_piconero INTEGER NOT NULL, address TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bench_messages (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, body TEXT NOT NULL,
    sent_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS bench_messages_order ON bench_messages (order_id, sent_at);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO bench_vendors (name, pgp, joined_at)
SELECT 'vendor-' || hex(randomblob(6)), '-----BEGIN PGP PUBLIC KEY BLOCK----- ' || hex(randomblob(200)), 1700000000 + i * 60 FROM n;
SQL
    for ((i = 0; i < batches; i++)); do
        local size_mb
        size_mb=$(($(stat -c %s "$db") / 1048576))
        ((size_mb >= target_mb)) && break
        sqlite3 -bail "$db" <<'SQL' >/dev/null
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO bench_listings (vendor_id, title, description, price_piconero, created_at)
SELECT abs(random()) % 2000 + 1,
       'Listing ' || hex(randomblob(10)),
       'Hand-checked item, ships in discreet packaging within 48 hours. Escrow only, no finalize early. '
         || hex(randomblob(48)) || ' Reviews welcome; disputes are handled by the arbiter. ' || hex(randomblob(24)),
       abs(random()) % 5000000000000, 1700000000 + abs(random()) % 50000000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO bench_orders (listing_id, buyer, state, amount_piconero, address, created_at)
SELECT abs(random()) % 100000 + 1, 'buyer-' || hex(randomblob(6)),
       CASE abs(random()) % 4 WHEN 0 THEN 'paid' WHEN 1 THEN 'shipped' WHEN 2 THEN 'released' ELSE 'disputed' END,
       abs(random()) % 5000000000000, '4' || hex(randomblob(47)), 1700000000 + abs(random()) % 50000000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120000)
INSERT INTO bench_messages (order_id, body, sent_at)
SELECT abs(random()) % 100000 + 1,
       'Hello, the package left today; tracking is not available for this route. '
         || hex(randomblob(40)) || ' Thanks for your patience.',
       1700000000 + abs(random()) % 50000000 FROM n;
COMMIT;
SQL
    done
    sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
}

table_digests() {
    local db=$1 t order
    for t in $(sqlite3 "$db" "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"); do
        # WITHOUT ROWID tables have no rowid; a full scan of them is in key order.
        order="ORDER BY rowid"
        sqlite3 -readonly "$db" "SELECT rowid FROM \"$t\" LIMIT 0" >/dev/null 2>&1 || order=""
        printf '%s %s %s\n' "$t" \
            "$(sqlite3 "$db" "SELECT count(*) FROM \"$t\"")" \
            "$(sqlite3 -readonly -bail "$db" "SELECT * FROM \"$t\" $order" | sha256sum | cut -d' ' -f1)"
    done
}

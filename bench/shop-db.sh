#!/usr/bin/env bash
# Sourced by bench/backup.sh and bench/backup-drill.sh: builds a shop-like SQLite
# database of about TARGET_MB MiB next to souk's own tables, with the sqlite3 CLI
# (Debian package sqlite3), and computes per-table row counts + content hashes.
#
#   make_shop_db DB TARGET_MB     adds vendors, listings, orders, messages to DB
#   table_digests DB              prints "table rows sha256" per table, sorted

# Rows of text shaped like a shop's: hex ids and prices are random, the prose
# repeats, so it compresses about as well as real listings and messages do.
make_shop_db() {
    local db=$1 target_mb=$2
    local batches=$((target_mb / 16 + 2)) i
    sqlite3 "$db" <<'SQL' >/dev/null
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS vendors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, pgp TEXT, joined_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS listings (id INTEGER PRIMARY KEY, vendor_id INTEGER NOT NULL, title TEXT NOT NULL,
    description TEXT NOT NULL, price_piconero INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS listings_vendor ON listings (vendor_id, created_at);
CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, listing_id INTEGER NOT NULL, buyer TEXT NOT NULL,
    state TEXT NOT NULL, amount_piconero INTEGER NOT NULL, address TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, body TEXT NOT NULL,
    sent_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS messages_order ON messages (order_id, sent_at);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO vendors (name, pgp, joined_at)
SELECT 'vendor-' || hex(randomblob(6)), '-----BEGIN PGP PUBLIC KEY BLOCK----- ' || hex(randomblob(200)), 1700000000 + i * 60 FROM n;
SQL
    for ((i = 0; i < batches; i++)); do
        local size_mb
        size_mb=$(($(stat -c %s "$db") / 1048576))
        ((size_mb >= target_mb)) && break
        sqlite3 "$db" <<'SQL' >/dev/null
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO listings (vendor_id, title, description, price_piconero, created_at)
SELECT abs(random()) % 2000 + 1,
       'Listing ' || hex(randomblob(10)),
       'Hand-checked item, ships in discreet packaging within 48 hours. Escrow only, no finalize early. '
         || hex(randomblob(48)) || ' Reviews welcome; disputes are handled by the arbiter. ' || hex(randomblob(24)),
       abs(random()) % 5000000000000, 1700000000 + abs(random()) % 50000000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO orders (listing_id, buyer, state, amount_piconero, address, created_at)
SELECT abs(random()) % 100000 + 1, 'buyer-' || hex(randomblob(6)),
       CASE abs(random()) % 4 WHEN 0 THEN 'paid' WHEN 1 THEN 'shipped' WHEN 2 THEN 'released' ELSE 'disputed' END,
       abs(random()) % 5000000000000, '4' || hex(randomblob(47)), 1700000000 + abs(random()) % 50000000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120000)
INSERT INTO messages (order_id, body, sent_at)
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
    local db=$1 t
    for t in $(sqlite3 "$db" "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"); do
        printf '%s %s %s\n' "$t" \
            "$(sqlite3 "$db" "SELECT count(*) FROM \"$t\"")" \
            "$(sqlite3 -readonly "$db" "SELECT * FROM \"$t\" ORDER BY rowid" | sha256sum | cut -d' ' -f1)"
    done
}

-- The marketplace: accounts, roles, sessions, catalogue, orders and what hangs off them.
-- Times are unix seconds (UTC). Money is integer piconero. States are checked lists that
-- mirror the Rust enums; the order transition table lives in src/market/orders/state.rs.

CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    username        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash   TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'suspended', 'banned')),
    status_reason   TEXT,
    totp_secret     TEXT,
    totp_last_step  INTEGER NOT NULL DEFAULT 0,
    pgp_key         TEXT,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE account_roles (
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role        TEXT    NOT NULL CHECK (role IN ('vendor', 'moderator', 'arbiter', 'admin')),
    granted_by  INTEGER REFERENCES accounts(id),
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, role)
) STRICT, WITHOUT ROWID;

CREATE TABLE recovery_codes (
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash   BLOB    NOT NULL,
    used_at     INTEGER,
    PRIMARY KEY (account_id, code_hash)
) STRICT, WITHOUT ROWID;

-- The cookie carries a random id; only its SHA-256 is stored.
CREATE TABLE sessions (
    id_hash       BLOB    PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    csrf_token    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_by_account ON sessions (account_id);

-- Failed logins per cookie jar (keyed by a hash of the anonymous form token), so a
-- flood from one client is slowed without putting every Tor visitor in one bucket.
CREATE TABLE login_throttle (
    jar_hash      BLOB    PRIMARY KEY,
    failures      INTEGER NOT NULL,
    locked_until  INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE vendor_applications (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    statement   TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'approved', 'rejected')),
    decided_by  INTEGER REFERENCES accounts(id),
    decided_at  INTEGER,
    reason      TEXT,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX vendor_applications_pending ON vendor_applications (state, created_at);
CREATE UNIQUE INDEX vendor_applications_one_pending
    ON vendor_applications (account_id) WHERE state = 'pending';

CREATE TABLE categories (
    id        INTEGER PRIMARY KEY,
    slug      TEXT    NOT NULL UNIQUE,
    name      TEXT    NOT NULL,
    position  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE listings (
    id                 INTEGER PRIMARY KEY,
    vendor_id          INTEGER NOT NULL REFERENCES accounts(id),
    category_id        INTEGER NOT NULL REFERENCES categories(id),
    title              TEXT    NOT NULL,
    description        TEXT    NOT NULL,
    price_piconero     INTEGER NOT NULL CHECK (price_piconero > 0),
    stock              INTEGER NOT NULL CHECK (stock >= 0),
    state              TEXT    NOT NULL DEFAULT 'active'
                       CHECK (state IN ('active', 'paused', 'hidden', 'removed', 'deleted')),
    moderation_reason  TEXT,
    rating_sum         INTEGER NOT NULL DEFAULT 0,
    rating_count       INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;
-- Catalogue orderings, each served straight from an index (checked with EXPLAIN QUERY PLAN).
CREATE INDEX listings_newest ON listings (state, created_at DESC, id DESC);
CREATE INDEX listings_price ON listings (state, price_piconero, id);
CREATE INDEX listings_rating ON listings (state, rating_count DESC, id DESC);
CREATE INDEX listings_category_newest ON listings (state, category_id, created_at DESC, id DESC);
CREATE INDEX listings_vendor ON listings (vendor_id, state, created_at DESC);

CREATE VIRTUAL TABLE listings_fts USING fts5 (
    title, description,
    content = 'listings', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER listings_fts_insert AFTER INSERT ON listings BEGIN
    INSERT INTO listings_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END;
CREATE TRIGGER listings_fts_delete AFTER DELETE ON listings BEGIN
    INSERT INTO listings_fts (listings_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
END;
CREATE TRIGGER listings_fts_update AFTER UPDATE OF title, description ON listings BEGIN
    INSERT INTO listings_fts (listings_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO listings_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END;

CREATE TABLE delivery_options (
    id              INTEGER PRIMARY KEY,
    listing_id      INTEGER NOT NULL REFERENCES listings(id) ON DELETE CASCADE,
    label           TEXT    NOT NULL,
    price_piconero  INTEGER NOT NULL CHECK (price_piconero >= 0),
    position        INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX delivery_options_by_listing ON delivery_options (listing_id, position);

-- Re-encoded on upload (metadata stripped); served from this origin.
CREATE TABLE listing_images (
    id            INTEGER PRIMARY KEY,
    listing_id    INTEGER NOT NULL REFERENCES listings(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    content_type  TEXT    NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    full          BLOB    NOT NULL,
    thumb         BLOB    NOT NULL,
    etag          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX listing_images_by_listing ON listing_images (listing_id, position);

CREATE TABLE orders (
    id                        INTEGER PRIMARY KEY,
    public_id                 TEXT    NOT NULL UNIQUE,
    buyer_id                  INTEGER NOT NULL REFERENCES accounts(id),
    vendor_id                 INTEGER NOT NULL REFERENCES accounts(id),
    listing_id                INTEGER NOT NULL REFERENCES listings(id),
    listing_title             TEXT    NOT NULL,
    quantity                  INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_piconero       INTEGER NOT NULL CHECK (unit_price_piconero > 0),
    delivery_label            TEXT    NOT NULL,
    delivery_price_piconero   INTEGER NOT NULL CHECK (delivery_price_piconero >= 0),
    total_piconero            INTEGER NOT NULL CHECK (total_piconero > 0),
    delivery_note             TEXT,
    state                     TEXT    NOT NULL,
    stock_reserved            INTEGER NOT NULL DEFAULT 1,
    payment_deadline          INTEGER,
    shipped_at                INTEGER,
    finalize_after            INTEGER,
    ended_at                  INTEGER,
    note_purge_after          INTEGER,
    outcome                   TEXT    CHECK (outcome IN ('release', 'refund', 'split')),
    outcome_vendor_percent    INTEGER CHECK (outcome_vendor_percent BETWEEN 0 AND 100),
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
) STRICT;
CREATE INDEX orders_by_buyer ON orders (buyer_id, created_at DESC);
CREATE INDEX orders_by_vendor ON orders (vendor_id, created_at DESC);
CREATE INDEX orders_payment_deadline ON orders (state, payment_deadline);
CREATE INDEX orders_finalize_after ON orders (state, finalize_after);
CREATE INDEX orders_note_purge ON orders (note_purge_after) WHERE delivery_note IS NOT NULL;
CREATE INDEX orders_by_listing ON orders (listing_id, state);

-- Every state change of an order: who, when, from, to, why. Append-only.
CREATE TABLE order_events (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders(id),
    actor_id    INTEGER REFERENCES accounts(id),
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    at          INTEGER NOT NULL
) STRICT;
CREATE INDEX order_events_by_order ON order_events (order_id, id);
CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
BEGIN SELECT RAISE(ABORT, 'order events are append-only'); END;
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
BEGIN SELECT RAISE(ABORT, 'order events are append-only'); END;

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders(id),
    author_id   INTEGER NOT NULL REFERENCES accounts(id),
    body        TEXT    NOT NULL,
    image_id    INTEGER,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX messages_by_order ON messages (order_id, id);

CREATE TABLE reviews (
    order_id    INTEGER PRIMARY KEY REFERENCES orders(id),
    listing_id  INTEGER NOT NULL REFERENCES listings(id),
    vendor_id   INTEGER NOT NULL REFERENCES accounts(id),
    buyer_id    INTEGER NOT NULL REFERENCES accounts(id),
    rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body        TEXT    NOT NULL,
    reply       TEXT,
    replied_at  INTEGER,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX reviews_by_vendor ON reviews (vendor_id, created_at DESC);
CREATE INDEX reviews_by_listing ON reviews (listing_id, created_at DESC);

CREATE TABLE disputes (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders(id),
    opened_by       INTEGER NOT NULL REFERENCES accounts(id),
    reason          TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'decided')),
    decision        TEXT    CHECK (decision IN ('release', 'refund', 'split')),
    vendor_percent  INTEGER CHECK (vendor_percent BETWEEN 0 AND 100),
    rationale       TEXT,
    arbiter_id      INTEGER REFERENCES accounts(id),
    opened_at       INTEGER NOT NULL,
    decided_at      INTEGER
) STRICT;
CREATE INDEX disputes_queue ON disputes (state, opened_at);
CREATE UNIQUE INDEX disputes_one_open ON disputes (order_id) WHERE state = 'open';

-- Uploaded evidence images and message attachments (re-encoded like listing images).
CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY,
    order_id      INTEGER NOT NULL REFERENCES orders(id),
    author_id     INTEGER NOT NULL REFERENCES accounts(id),
    content_type  TEXT    NOT NULL,
    data          BLOB    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE reports (
    id           INTEGER PRIMARY KEY,
    reporter_id  INTEGER NOT NULL REFERENCES accounts(id),
    target_kind  TEXT    NOT NULL CHECK (target_kind IN ('listing', 'user', 'order')),
    target_id    INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    handled_by   INTEGER REFERENCES accounts(id),
    resolution   TEXT,
    created_at   INTEGER NOT NULL,
    handled_at   INTEGER
) STRICT;
CREATE INDEX reports_queue ON reports (state, created_at);
CREATE INDEX reports_by_target ON reports (target_kind, target_id, state);

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    link        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    read_at     INTEGER
) STRICT;
CREATE INDEX notifications_by_account ON notifications (account_id, id DESC);
CREATE INDEX notifications_unread ON notifications (account_id) WHERE read_at IS NULL;

-- Every privileged action: append-only, readable by admins, editable by nobody.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    actor_id   INTEGER REFERENCES accounts(id),
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    at         INTEGER NOT NULL
) STRICT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- Operator-editable pages (the rules page).
CREATE TABLE site_pages (
    slug        TEXT    PRIMARY KEY,
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
INSERT INTO site_pages (slug, title, body, updated_at)
VALUES ('rules', 'Rules', 'The operator has not written the rules yet.', strftime('%s', 'now'));

-- Managed escrow (issue 4): a subaddress per order, the transfers it received,
-- and payout intents that make every payout happen exactly once.

-- Where a vendor is paid (validated and network-checked when set).
ALTER TABLE accounts ADD COLUMN payout_address TEXT;
-- Where a buyer's refund goes (validated and network-checked when given).
ALTER TABLE orders ADD COLUMN refund_address TEXT;

-- The payment request of an order: its own subaddress of the shop's account 0,
-- and the terms fixed when it was issued.
CREATE TABLE payment_requests (
    order_id              INTEGER PRIMARY KEY REFERENCES orders(id),
    subaddress_index      INTEGER NOT NULL UNIQUE CHECK (subaddress_index > 0),
    address               TEXT    NOT NULL UNIQUE,
    amount_due_piconero   INTEGER NOT NULL CHECK (amount_due_piconero > 0),
    confirmations         INTEGER NOT NULL CHECK (confirmations >= 0),
    commission_bps        INTEGER NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    created_at            INTEGER NOT NULL
) STRICT;

-- Every incoming transfer to a payment request's subaddress, pool included.
-- A transfer is allotted to exactly one payout intent (intent_id), so no
-- piconero is paid out twice or forgotten.
CREATE TABLE incoming_transfers (
    id                INTEGER PRIMARY KEY,
    order_id          INTEGER NOT NULL REFERENCES orders(id),
    txid              TEXT    NOT NULL,
    subaddress_index  INTEGER NOT NULL,
    amount_piconero   INTEGER NOT NULL CHECK (amount_piconero > 0),
    height            INTEGER NOT NULL DEFAULT 0,
    confirmations     INTEGER NOT NULL DEFAULT 0,
    first_seen_at     INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    intent_id         INTEGER REFERENCES payout_intents(id),
    UNIQUE (txid, subaddress_index)
) STRICT;
CREATE INDEX incoming_transfers_by_order ON incoming_transfers (order_id, intent_id);

-- A payout decided in the same transaction as the order's state change. The
-- amounts are fixed then; addresses are read from stored settings (never from
-- a request) and frozen with the transaction when it is built.
-- pending -> signed (tx built, not relayed; hash, key and metadata stored)
--         -> relayed -> confirmed; failed when it cannot be paid.
CREATE TABLE payout_intents (
    id                    INTEGER PRIMARY KEY,
    order_id              INTEGER NOT NULL REFERENCES orders(id),
    kind                  TEXT    NOT NULL CHECK (kind IN ('settle', 'late')),
    idempotency_key       TEXT    NOT NULL UNIQUE,
    vendor_piconero       INTEGER NOT NULL CHECK (vendor_piconero >= 0),
    buyer_piconero        INTEGER NOT NULL CHECK (buyer_piconero >= 0),
    commission_piconero   INTEGER NOT NULL CHECK (commission_piconero >= 0),
    state                 TEXT    NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'signed', 'relayed', 'confirmed', 'failed')),
    destinations          TEXT,
    tx_hash               TEXT    UNIQUE,
    tx_key                TEXT,
    tx_metadata           TEXT,
    fee_piconero          INTEGER,
    attempts              INTEGER NOT NULL DEFAULT 0,
    last_error            TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
) STRICT;
CREATE INDEX payout_intents_by_order ON payout_intents (order_id);
CREATE INDEX payout_intents_open ON payout_intents (state)
    WHERE state IN ('pending', 'signed', 'relayed');

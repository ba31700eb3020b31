-- Payouts of the 2-of-3 multisig escrow (issue 5). One row per escrow, written
-- when its order ended; amounts and addresses are frozen here from the order
-- and the stored settings, never taken from a request. `attempt` counts builds:
-- a stale attempt is rebuilt (attempt + 1) only while nothing was submitted.
-- Multisig blobs (infos, sets) are stored sealed like the setup messages.
CREATE TABLE multisig_payouts (
    order_id        INTEGER PRIMARY KEY REFERENCES multisig_escrows(order_id),
    signer          TEXT    NOT NULL CHECK (signer IN ('buyer', 'vendor')),
    vendor_amount   INTEGER NOT NULL CHECK (vendor_amount >= 0),
    buyer_amount    INTEGER NOT NULL CHECK (buyer_amount >= 0),
    commission      INTEGER NOT NULL CHECK (commission >= 0),
    vendor_address  TEXT,
    buyer_address   TEXT,
    fee_address     TEXT,
    attempt         INTEGER NOT NULL DEFAULT 1,
    arbiter_info    TEXT,
    txset           TEXT,
    fee             INTEGER,
    signed_set      TEXT,
    tx_hash         TEXT UNIQUE,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

-- The participants' pasted export_multisig_info, per attempt (sealed).
CREATE TABLE multisig_payout_infos (
    order_id     INTEGER NOT NULL REFERENCES multisig_payouts(order_id),
    attempt      INTEGER NOT NULL,
    participant  TEXT    NOT NULL CHECK (participant IN ('buyer', 'vendor')),
    body         TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (order_id, attempt, participant)
) STRICT;

-- Non-custodial 2-of-3 multisig escrow (issue 5): the order's escrow mode, the
-- arbiter's wallet per escrow, and the setup messages of each participant.

-- How the order's money is held, fixed when it is placed.
ALTER TABLE orders ADD COLUMN escrow_mode TEXT NOT NULL DEFAULT 'managed'
    CHECK (escrow_mode IN ('managed', 'multisig'));

-- A vendor may take only multisig orders (when the shop offers multisig).
ALTER TABLE accounts ADD COLUMN requires_multisig INTEGER NOT NULL DEFAULT 0
    CHECK (requires_multisig IN (0, 1));

-- One multisig escrow per multisig order. The arbiter's wallet password is
-- sealed (XChaCha20-Poly1305, key from [escrow] wallet_key_file, the order id
-- as associated data). `pending_call` names the wallet call underway, written
-- before the call and cleared with its result, so a restart knows where it was.
CREATE TABLE multisig_escrows (
    order_id          INTEGER PRIMARY KEY REFERENCES orders(id),
    state             TEXT    NOT NULL CHECK (state IN ('kex1', 'kex2', 'kex3', 'confirm',
                          'ready', 'funded', 'spend_proposed', 'spend_signed',
                          'spend_submitted', 'done', 'aborted', 'expired')),
    wallet_file       TEXT    NOT NULL UNIQUE,
    wallet_password   BLOB    NOT NULL,
    address           TEXT,
    pending_call      TEXT,
    problem           TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX multisig_escrows_by_state ON multisig_escrows (state);

-- Every accepted setup message, sealed like the wallet password (round 1
-- carries a private key share). Round 4 is the address a participant's wallet
-- reports at the end. `digest` (SHA-256 of the text) is unique across all
-- escrows: a message is accepted once, by one escrow. `signer` is the kex
-- signing key inside rounds 1-3 (hex), which ties later rounds to the
-- participant who sent round 1.
CREATE TABLE multisig_messages (
    id           INTEGER PRIMARY KEY,
    order_id     INTEGER NOT NULL REFERENCES multisig_escrows(order_id),
    participant  TEXT    NOT NULL CHECK (participant IN ('buyer', 'vendor', 'arbiter')),
    round        INTEGER NOT NULL CHECK (round BETWEEN 1 AND 4),
    body         TEXT    NOT NULL,
    digest       TEXT    NOT NULL UNIQUE,
    signer       TEXT,
    received_at  INTEGER NOT NULL,
    UNIQUE (order_id, participant, round)
) STRICT;

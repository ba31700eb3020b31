-- History of the figures the built-in metrics UI draws: one row per series, tier
-- (resolution in seconds: 60 for 24 hours, 900 for 7 days) and aligned Unix time.
-- Values are integers in the series' unit (piconero, bytes, thousandths of a
-- request per second, microseconds ...). Old rows are deleted as they age out.
CREATE TABLE metrics_history (
    series TEXT    NOT NULL,
    tier   INTEGER NOT NULL CHECK (tier IN (60, 900)),
    ts     INTEGER NOT NULL,
    value  INTEGER NOT NULL,
    PRIMARY KEY (series, tier, ts)
) STRICT, WITHOUT ROWID;

CREATE INDEX metrics_history_by_age ON metrics_history (tier, ts);

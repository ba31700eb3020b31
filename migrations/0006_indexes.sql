-- Catalogue orderings within one category and within one vendor's listings, so that
-- every filter and sort combination walks an index in order instead of sorting
-- (store::catalogue::page_sql names them with INDEXED BY; tests/market/plans.rs checks
-- every combination with EXPLAIN QUERY PLAN).
CREATE INDEX listings_category_price ON listings (state, category_id, price_piconero, id);
CREATE INDEX listings_category_rating ON listings (state, category_id, rating_count DESC, id DESC);
CREATE INDEX listings_vendor_newest ON listings (vendor_id, state, created_at DESC, id DESC);
CREATE INDEX listings_vendor_price ON listings (vendor_id, state, price_piconero, id);
CREATE INDEX listings_vendor_rating ON listings (vendor_id, state, rating_count DESC, id DESC);
-- Replaced by listings_vendor_newest, which also breaks ties by id.
DROP INDEX listings_vendor;

-- Search matches stemmed whole words (porter): "rivers" finds "river" without the
-- prefix queries ("river"*) that merge the lists of every term sharing the prefix
-- and cost two to eight times as much on a large shop. Same content, rebuilt.
DROP TRIGGER listings_fts_insert;
DROP TRIGGER listings_fts_delete;
DROP TRIGGER listings_fts_update;
DROP TABLE listings_fts;
CREATE VIRTUAL TABLE listings_fts USING fts5 (
    title, description,
    content = 'listings', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO listings_fts (listings_fts) VALUES ('rebuild');
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

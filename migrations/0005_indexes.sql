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

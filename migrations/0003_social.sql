-- Messages, reviews, disputes: indexes for the lookups the social pages make.
-- The latest dispute of an order (order page, evidence rules).
CREATE INDEX disputes_by_order ON disputes (order_id, id);
-- Evidence images per order and author (the per-author cap).
CREATE INDEX attachments_by_order ON attachments (order_id, author_id);

-- Moderation: one open report per person and target, so a second report on the
-- same thing is refused (politely, by the domain) instead of flooding the queue.
-- The index also counts a reporter's open reports for the per-person limit.
CREATE UNIQUE INDEX reports_one_open_per_reporter
    ON reports (reporter_id, target_kind, target_id) WHERE state = 'open';

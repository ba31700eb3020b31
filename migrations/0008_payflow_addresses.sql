-- Payout addresses frozen on each payout intent (issue 4). An intent takes the
-- vendor's payout address and the order's refund address as they are when the
-- order ends; an address given later fills only intents still without one, so
-- a payout never goes to an address from the request that triggers it, and a
-- later change of settings never redirects a payout already decided.
ALTER TABLE payout_intents ADD COLUMN vendor_address TEXT;
ALTER TABLE payout_intents ADD COLUMN buyer_address TEXT;

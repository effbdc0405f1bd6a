-- 009: routes whose cost grew with the data of other users (make bench, tests/bench/run.py: the large data
-- set of 1 000 000 messages in 1 000 conversations next to the small one).

-- Search: the full-text index alone matched the words in every conversation, and the plan ran that whole match
-- once per conversation of the caller (a BitmapAnd with the caller's conversation), so a search cost in
-- proportion to the matches in conversations the caller is not in (98 ms instead of 5). With the conversation in
-- the same GIN index (btree_gin: a trusted extension of PostgreSQL's contrib, like pg_trgm) each of the caller's
-- conversations reads only its own matches. It replaces the old index: the search is its only reader.
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX messages_search_conv_idx ON messages USING gin (conversation_id, search_vector);
DROP INDEX messages_search_idx;

-- Mentions of the caller, newest first with the message id as tie-break: the old index (user_id, created_at
-- DESC) lacked the tie-break, so a generic plan (the handlers prepare their statements) fetched and sorted every
-- mention the user ever had (119 ms at 3 550 mentions). With message_id in the index (the join makes it
-- msg.id) the index gives the whole order and a page stops after `limit` rows. It covers every query of the old.
CREATE INDEX mentions_user_order_idx ON mentions (user_id, created_at DESC, message_id);
DROP INDEX mentions_user_idx;

-- (JIT, the third: the programs' sessions run with jit off, core/db.hpp's kSessionOptions.)

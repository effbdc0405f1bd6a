-- Every send updates its conversation's row (last_seq, last_message_at). With last_message_at in an index
-- each of those updates wrote a new entry into all four indexes of the table and left the hot row of a busy
-- conversation behind a growing trail of dead index entries; without it the update is HOT (heap-only: the
-- new version goes on the same page, no index is touched, the old ones are pruned on the next visit).
-- The index served no query: the conversation lists start from the caller's memberships and sort those.
-- fillfactor leaves each page room for the new versions of its rows.
DROP INDEX conversations_activity_idx;
ALTER TABLE conversations SET (fillfactor = 50);

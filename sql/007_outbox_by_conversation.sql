-- The outbox is relayed per conversation (domain/outbox.cpp): each relay takes its conversation's rows
-- under that conversation's advisory lock, so relays of unrelated conversations no longer wait for each
-- other as they did when sixteen shards were shared by every conversation. The shard column goes.
CREATE INDEX outbox_conversation_idx ON outbox (conversation_id, id);
DROP INDEX outbox_shard_idx;
ALTER TABLE outbox DROP COLUMN shard;
-- Every row is deleted within milliseconds of its insert: vacuum after every 1000 dead rows, whatever the
-- table's size, so its pages stay few for the relays' index scans and the worker's scan of pending rows.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
                        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000);

-- Aborts the statement that calls it: a single-statement transaction (the send) uses it when a row it
-- already wrote must not be committed, e.g. the conversation was archived while the statement waited for
-- its lock. SQLSTATE CH001 is the project's own; the handler maps it to the answer.
CREATE FUNCTION chat_abort(reason text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION '%', reason USING ERRCODE = 'CH001';
END
$$;

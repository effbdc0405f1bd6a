-- 005: moderation (docs/api.md#moderation). The audit log records who did what to whom: the actor is a user,
-- or `system` for chat-admin (actor_id NULL); the actor's name and the target's kind are kept as they were, so a row
-- still reads right after renames. The application role may only INSERT and SELECT it (sql/grants.sql):
-- append-only is PostgreSQL's rule, not a convention.
ALTER TABLE audit_log
    ADD COLUMN actor       text NOT NULL DEFAULT 'system',
    ADD COLUMN target_kind text CHECK (target_kind IN ('user', 'message', 'conversation')),
    ADD COLUMN reason      text;
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target_id, id DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, id DESC);

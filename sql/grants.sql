-- The application role's rights, applied by chat-migrate after every run (idempotent; the role is named by
-- CHAT_DB_APP_ROLE, default chat_app, and must exist). Migrations run as the owner of the schema; the
-- handlers, the realtime daemons and the workers connect as this role, which is neither superuser nor owner:
-- it reads and writes the tables, appends to and reads the audit log (no UPDATE, DELETE or TRUNCATE: the
-- log is append-only), and cannot touch schema_migrations or change the schema.
DO $$
DECLARE
    app text := current_setting('chat.app_role');
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = app) THEN
        RAISE EXCEPTION 'the application role % does not exist (CREATE ROLE % LOGIN; or set CHAT_DB_APP_ROLE)',
            app, app;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = app AND (rolsuper OR rolname = current_user)) THEN
        RAISE EXCEPTION 'the application role % must be neither a superuser nor the owner running migrations', app;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', app);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', app);
    EXECUTE format('REVOKE ALL ON schema_migrations FROM %I', app);
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM %I', app);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', app);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO %I', app);
END
$$;

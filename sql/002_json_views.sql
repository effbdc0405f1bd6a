-- 002: the JSON shapes of docs/api.md#objects, built by PostgreSQL next to the data so that a page of messages
-- or channels is one query (reactions, mentions and members come from index lookups inside it).

-- RFC 3339 UTC with microseconds and Z, as every client of the contract parses it.
CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- A user embedded in another object: `email` is always null there (no address harvesting).
CREATE FUNCTION user_public_json(u users) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', u.id, 'username', u.username, 'email', NULL, 'avatar', u.avatar, 'role', u.role,
        'status', u.status, 'is_active', u.is_active, 'is_online', u.is_online,
        'last_seen_at', rfc3339(u.last_seen_at), 'created_at', rfc3339(u.created_at),
        'updated_at', rfc3339(u.updated_at))
$$;

CREATE FUNCTION reaction_json(r reactions, username text) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', r.id, 'message_id', r.message_id, 'user_id', r.user_id,
                             'username', username, 'emoji', r.emoji, 'created_at', rfc3339(r.created_at))
$$;

-- The Message object is one SQL expression in handlers/common/message_sql.hpp, spliced into each
-- query: a SQL function with sub-selects is never inlined and cost ~3x more per row.

-- The Channel and Conversation objects are SQL expressions in handlers/common/conversation_sql.hpp,
-- spliced into each query for the same reason.

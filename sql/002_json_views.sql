-- 002: the JSON shapes of API.md §2, built by PostgreSQL next to the data so that a page of messages
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

-- Messages by others after the reader's marker, deleted ones left out.
CREATE FUNCTION unread_count(conversation uuid, reader uuid, after_seq bigint) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT count(*) FROM messages m
    WHERE m.conversation_id = conversation AND m.seq > after_seq AND m.deleted_at IS NULL
      AND m.sender_id <> reader
$$;

CREATE FUNCTION members_json(conversation uuid) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(json_agg(user_public_json(u) ORDER BY lower(u.username)), '[]'::json)
    FROM conversation_members cm JOIN users u ON u.id = cm.user_id
    WHERE cm.conversation_id = conversation
$$;

-- The Channel object as `viewer` sees it.
CREATE FUNCTION channel_json(c conversations, viewer uuid) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', c.id, 'name', c.name, 'description', c.description, 'is_private', c.is_private,
        'is_archived', c.is_archived, 'creator_id', c.creator_id,
        'member_count', (SELECT count(*) FROM conversation_members x WHERE x.conversation_id = c.id),
        'is_member', cm.user_id IS NOT NULL,
        'unread_count', CASE WHEN cm.user_id IS NULL THEN NULL
                             ELSE unread_count(c.id, viewer, cm.last_read_seq) END,
        'last_message_at', rfc3339(c.last_message_at),
        'created_at', rfc3339(c.created_at), 'updated_at', rfc3339(c.updated_at))
    FROM (SELECT 1) one
    LEFT JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = viewer
$$;

-- The Conversation object as `viewer` sees it.
CREATE FUNCTION conversation_json(c conversations, viewer uuid) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', c.id, 'kind', c.kind, 'title', CASE WHEN c.kind = 'direct' THEN NULL ELSE c.name END,
        'is_group', c.kind <> 'direct', 'is_private', c.is_private, 'is_archived', c.is_archived,
        'creator_id', c.creator_id,
        'unread_count', CASE WHEN cm.user_id IS NULL THEN NULL
                             ELSE unread_count(c.id, viewer, cm.last_read_seq) END,
        'last_message_at', rfc3339(c.last_message_at),
        'created_at', rfc3339(c.created_at), 'updated_at', rfc3339(c.updated_at))
    FROM (SELECT 1) one
    LEFT JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = viewer
$$;

-- With `members` (channels) and `participants` (conversations): GET of one, and /channels/my.
CREATE FUNCTION channel_full_json(c conversations, viewer uuid) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT channel_json(c, viewer)::jsonb || jsonb_build_object('members', members_json(c.id))
$$;

CREATE FUNCTION conversation_full_json(c conversations, viewer uuid) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT conversation_json(c, viewer)::jsonb || jsonb_build_object('participants', (
        SELECT coalesce(json_agg(json_build_object('user', user_public_json(u), 'role', p.role,
                                                   'joined_at', rfc3339(p.joined_at))
                                 ORDER BY p.joined_at, u.username), '[]'::json)
        FROM conversation_members p JOIN users u ON u.id = p.user_id
        WHERE p.conversation_id = c.id))
$$;

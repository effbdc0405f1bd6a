-- 006: a user embedded in another object shows the status in effect: a ban or suspension whose status_until
-- has passed is over by itself (docs/api.md#moderation: no job needs to run for the user to come back).
CREATE OR REPLACE FUNCTION user_public_json(u users) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', u.id, 'username', u.username, 'email', '', 'avatar', u.avatar, 'role', u.role,
        'status', CASE WHEN u.status <> 'active' AND u.status_until <= now() THEN 'active' ELSE u.status END,
        'is_active', u.is_active, 'is_online', u.is_online,
        'last_seen_at', rfc3339(u.last_seen_at), 'created_at', rfc3339(u.created_at),
        'updated_at', rfc3339(u.updated_at))
$$;

-- 003: a hidden email is the empty string, never null: clients treat `email` as a string (the team-chat web
-- client filters its add-members list with email.toLowerCase()), docs/api.md#user.
CREATE OR REPLACE FUNCTION user_public_json(u users) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', u.id, 'username', u.username, 'email', '', 'avatar', u.avatar, 'role', u.role,
        'status', u.status, 'is_active', u.is_active, 'is_online', u.is_online,
        'last_seen_at', rfc3339(u.last_seen_at), 'created_at', rfc3339(u.created_at),
        'updated_at', rfc3339(u.updated_at))
$$;

// The Channel and Conversation objects (docs/api.md#objects) as SQL expressions spliced into each query, like
// message_sql.hpp: one statement per list, index lookups per row, no per-row function calls.
#pragma once

// Joins after a FROM item aliased `c` (conversations): `cm` the viewer's membership (NULL for a
// non-member), `mc` the member count, `uc` the viewer's unread count (messages by others after the
// read marker, deleted ones left out). `viewer` is a parameter placeholder such as "$1".
#define CHAT_CONVERSATION_JOINS(viewer)                                                                     \
  " LEFT JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = " viewer                \
  " LEFT JOIN LATERAL (SELECT count(*) AS n FROM conversation_members x WHERE x.conversation_id = c.id) mc"  \
  " ON true LEFT JOIN LATERAL (SELECT count(*) AS n FROM messages um WHERE um.conversation_id = c.id"        \
  " AND um.seq > cm.last_read_seq AND um.deleted_at IS NULL AND um.sender_id <> " viewer ") uc ON true"

#define CHAT_UNREAD_FIELD "'unread_count', CASE WHEN cm.user_id IS NULL THEN NULL ELSE uc.n END"

#define CHAT_CHANNEL_FIELDS                                                                                 \
  "'id', c.id, 'name', c.name, 'description', c.description, 'is_private', c.is_private, "                  \
  "'is_archived', c.is_archived, 'creator_id', c.creator_id, 'member_count', mc.n, "                        \
  "'is_member', cm.user_id IS NOT NULL, " CHAT_UNREAD_FIELD ", 'last_message_at', rfc3339(c.last_message_at), " \
  "'created_at', rfc3339(c.created_at), 'updated_at', rfc3339(c.updated_at)"

// Members by username (embedded users: no email).
#define CHAT_MEMBERS_ARRAY                                                                                  \
  "(SELECT coalesce(json_agg(user_public_json(mu) ORDER BY lower(mu.username)), '[]') "                      \
  "FROM conversation_members mx JOIN users mu ON mu.id = mx.user_id WHERE mx.conversation_id = c.id)"

#define CHAT_CHANNEL_JSON "json_build_object(" CHAT_CHANNEL_FIELDS ")"
// With `members`: GET /channels/{id} and /channels/my.
#define CHAT_CHANNEL_FULL_JSON "json_build_object(" CHAT_CHANNEL_FIELDS ", 'members', " CHAT_MEMBERS_ARRAY ")"

#define CHAT_CONVERSATION_FIELDS                                                                            \
  "'id', c.id, 'kind', c.kind, 'title', CASE WHEN c.kind = 'direct' THEN NULL ELSE c.name END, "             \
  "'is_group', c.kind <> 'direct', 'is_private', c.is_private, 'is_archived', c.is_archived, "              \
  "'creator_id', c.creator_id, " CHAT_UNREAD_FIELD ", 'last_message_at', rfc3339(c.last_message_at), "       \
  "'created_at', rfc3339(c.created_at), 'updated_at', rfc3339(c.updated_at)"

#define CHAT_PARTICIPANTS_ARRAY                                                                             \
  "(SELECT coalesce(json_agg(json_build_object('user', user_public_json(pu), 'role', px.role, "              \
  "'joined_at', rfc3339(px.joined_at)) ORDER BY px.joined_at, pu.username), '[]') "                          \
  "FROM conversation_members px JOIN users pu ON pu.id = px.user_id WHERE px.conversation_id = c.id)"

#define CHAT_CONVERSATION_JSON "json_build_object(" CHAT_CONVERSATION_FIELDS ")"
// With `participants`: GET /conversations/{id}.
#define CHAT_CONVERSATION_FULL_JSON \
  "json_build_object(" CHAT_CONVERSATION_FIELDS ", 'participants', " CHAT_PARTICIPANTS_ARRAY ")"

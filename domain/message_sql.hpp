// The Message object (docs/api.md#message) as one SQL expression, spliced into every query that returns
// messages, so a page is one statement with index lookups and no per-row function calls (a SQL
// function with sub-selects is never inlined by PostgreSQL and costs ~3x more per row).
#pragma once

// The Message JSON of the row `m` (messages), with `rx` and `mx` from CHAT_MESSAGE_JOINS. The sender is a
// lookup per message, not a join: the statements run as generic plans (core/db.hpp), whose estimate of a page
// (LIMIT $n) is ~100 rows, and with a join of users that made every page hash-join a scan of all the users.
#define CHAT_MESSAGE_JSON                                                                                  \
  "json_build_object('id', m.id, 'conversation_id', m.conversation_id, 'channel_id', m.conversation_id, "  \
  "'sender_id', m.sender_id, 'user_id', m.sender_id, "                                                     \
  "'user', (SELECT user_public_json(su) FROM users su WHERE su.id = m.sender_id), 'seq', m.seq, "            \
  "'content', m.content, 'message_type', m.message_type, 'media_url', m.media_url, "                       \
  "'parent_id', m.parent_id, 'reply_count', m.reply_count, 'is_edited', m.is_edited, "                     \
  "'is_deleted', m.deleted_at IS NOT NULL, 'reactions', coalesce(rx.list, '[]'::json), "                   \
  "'mentions', coalesce(mx.list, '[]'::json), 'created_at', rfc3339(m.created_at), "                       \
  "'updated_at', rfc3339(m.updated_at))"

// Joins for CHAT_MESSAGE_JSON after a FROM item aliased `m`: the current reactions (oldest first) and the
// mentioned user ids.
#define CHAT_MESSAGE_JOINS                                                                                 \
  " LEFT JOIN LATERAL (SELECT json_agg(reaction_json(r, ru.username) ORDER BY r.created_at, r.id) AS list"  \
  "   FROM reactions r JOIN users ru ON ru.id = r.user_id WHERE r.message_id = m.id) rx ON true"           \
  " LEFT JOIN LATERAL (SELECT json_agg(mn.user_id ORDER BY mn.created_at, mn.user_id) AS list"              \
  "   FROM mentions mn WHERE mn.message_id = m.id) mx ON true"

// A JSON array of the messages selected by `source` (a subquery over messages that keeps their
// columns), ordered by `order` (an expression over m).
#define CHAT_MESSAGE_ARRAY(source, order) \
  "SELECT coalesce(json_agg(" CHAT_MESSAGE_JSON " ORDER BY " order "), '[]') AS j FROM (" source ") m" CHAT_MESSAGE_JOINS

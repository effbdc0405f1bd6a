// The Message object (docs/api.md#message) in SQL: as rows that the handler renders (CHAT_MESSAGE_ROWS, for the
// pages), or as one SQL expression (CHAT_MESSAGE_JSON, where the JSON must exist inside PostgreSQL: the send
// writes it into the outbox in the same statement). Either way one statement with index lookups and no per-row
// function calls (a SQL function with sub-selects is never inlined by PostgreSQL and costs ~3x more per row).
#pragma once

#include "domain/user_view.hpp"

// The Message JSON of the row `m` (messages), with `rx.list` and `mx.list` its reactions and mentions (JSON
// arrays, or NULL for none). The sender is a lookup per message, not a join: the statements run as generic plans
// (core/db.hpp), whose estimate of a page (LIMIT $n) is ~100 rows, and with a join of users that made every page
// hash-join a scan of all the users.
#define CHAT_MESSAGE_JSON                                                                                  \
  "json_build_object('id', m.id, 'conversation_id', m.conversation_id, 'channel_id', m.conversation_id, "  \
  "'sender_id', m.sender_id, 'user_id', m.sender_id, "                                                     \
  "'user', (SELECT user_public_json(su) FROM users su WHERE su.id = m.sender_id), 'seq', m.seq, "            \
  "'content', m.content, 'message_type', m.message_type, 'media_url', m.media_url, "                       \
  "'parent_id', m.parent_id, 'reply_count', m.reply_count, 'is_edited', m.is_edited, "                     \
  "'is_deleted', m.deleted_at IS NOT NULL, 'reactions', coalesce(rx.list, '[]'::json), "                   \
  "'mentions', coalesce(mx.list, '[]'::json), 'created_at', rfc3339(m.created_at), "                       \
  "'updated_at', rfc3339(m.updated_at))"

// The messages selected by `source` (a subquery over messages that keeps their columns), a row each, ordered by
// `order` (an expression over m), with what the Message object embeds looked up once for the whole page: its
// senders (a user each, not one per message), reactions and mentions, each an index lookup of the page's ids
// (`= ANY (ARRAY(...))`: an InitPlan, never a join that a generic plan's row estimate could turn into a scan).
// domain/message_view.hpp renders them. Measured on a page of 20 (pgbench, one client, generic plans): 0.22 ms
// against 0.73 for the JSON array PostgreSQL built before (20 json_build_object()s with three sub-selects and
// five to_char()s each).
#define CHAT_MESSAGE_ROWS(source, order)                                                                        \
  "WITH p AS MATERIALIZED (" source "),"                                                                          \
  " rx AS (SELECT r.message_id, json_agg(reaction_json(r, ru.username) ORDER BY r.created_at, r.id) AS list"    \
  "   FROM reactions r JOIN users ru ON ru.id = r.user_id WHERE r.message_id = ANY (ARRAY(SELECT id FROM p))"    \
  "   GROUP BY r.message_id),"                                                                                    \
  " mx AS (SELECT mn.message_id, json_agg(mn.user_id ORDER BY mn.created_at, mn.user_id) AS list"                \
  "   FROM mentions mn WHERE mn.message_id = ANY (ARRAY(SELECT id FROM p)) GROUP BY mn.message_id),"             \
  " su AS (SELECT * FROM users WHERE id = ANY (ARRAY(SELECT DISTINCT sender_id FROM p)))"                        \
  " SELECT m.id, m.conversation_id, m.sender_id, m.seq, m.content, m.message_type, m.media_url, m.parent_id,"    \
  "  m.reply_count, m.is_edited, m.deleted_at IS NOT NULL AS is_deleted, m.created_at, m.updated_at,"            \
  "  rx.list AS reactions, mx.list AS mentions, u.id AS su_id, u.username AS su_username, u.email AS su_email,"  \
  "  u.avatar AS su_avatar, u.role AS su_role, " CHAT_USER_STATUS_SQL " AS su_status, u.is_active AS su_is_active," \
  "  u.is_online AS su_is_online, u.last_seen_at AS su_last_seen_at, u.created_at AS su_created_at,"            \
  "  u.updated_at AS su_updated_at"                                                                               \
  " FROM p m LEFT JOIN su u ON u.id = m.sender_id LEFT JOIN rx ON rx.message_id = m.id"                          \
  " LEFT JOIN mx ON mx.message_id = m.id ORDER BY " order

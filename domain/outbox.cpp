// Transactional outbox: rows are relayed per shard under an advisory lock, so the entries of one
// conversation reach the stream in commit order even when several processes relay at once.
#include "domain/outbox.hpp"

#include "core/log.hpp"
#include "core/timefmt.hpp"

namespace chat::domain {

const char* const kEventsStream = "chat:events";
const char* const kJobsStream = "chat:jobs";
const char* const kEphemeralChannel = "chat:ephemeral";

namespace {

// A safety cap only: the worker trims the events stream to its replay window (10 min, 100 000 events).
constexpr const char* kStreamCap = "1000000";

constexpr db::Statement kInsertOutbox{
    "outbox_insert",
    "INSERT INTO outbox (stream, shard, conversation_id, event_type, audience, user_ids, payload) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)"};
constexpr db::Statement kLockShard{"outbox_lock_shard", "SELECT pg_advisory_xact_lock(727300 + $1::int)"};
constexpr db::Statement kPendingInShard{
    "outbox_pending",
    "SELECT id, stream, coalesce(conversation_id::text, '') AS conversation_id, event_type, audience, user_ids, "
    "payload FROM outbox WHERE shard = $1 ORDER BY id LIMIT 500"};
constexpr db::Statement kDeleteRelayed{"outbox_delete", "DELETE FROM outbox WHERE id = ANY($1::bigint[])"};

const char* audience_name(Audience a) {
  switch (a) {
    case Audience::kConversation: return "conversation";
    case Audience::kEveryone: return "everyone";
    case Audience::kUsers: return "users";
  }
  return "conversation";
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out.push_back(',');
    out += s;
  }
  return out;
}

std::optional<std::string> opt_uuid(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

// The client-facing event: `type` first, the payload's fields, `timestamp` last.
std::string stamped(const std::string& type, const json::Value& payload) {
  std::string body = payload.dump();
  std::string out = "{\"type\":" + json::quote(type);
  if (body.size() > 2) out += "," + body.substr(1, body.size() - 2);
  out += ",\"timestamp\":" + json::quote(rfc3339_now()) + "}";
  return out;
}

}  // namespace

int shard_of(const std::string& conversation_id) {
  if (conversation_id.empty()) return 0;
  char c = conversation_id[0];
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}

void Outbox::event(db::Transaction& tx, Event e) {
  int shard = shard_of(e.conversation_id);
  tx.exec(kInsertOutbox, {"events", shard, opt_uuid(e.conversation_id), e.type, audience_name(e.audience),
                          join(e.user_ids), stamped(e.type, e.payload)});
  shards_.insert(shard);
}

void Outbox::job(db::Transaction& tx, const std::string& type, const std::string& conversation_id,
                 json::Value payload) {
  int shard = shard_of(conversation_id);
  tx.exec(kInsertOutbox, {"jobs", shard, opt_uuid(conversation_id), type, "users", "", payload.dump()});
  shards_.insert(shard);
}

void Outbox::relay(Context& ctx) {
  for (int shard : shards_) relay_shard(ctx, shard);
  shards_.clear();
}

int relay_shard(Context& ctx, int shard) {
  try {
    db::Transaction tx(ctx.db);
    tx.exec(kLockShard, {shard});
    auto rows = tx.exec(kPendingInShard, {shard});
    if (rows.empty()) return 0;
    std::vector<std::string> ids;
    for (int i = 0; i < rows.rows(); ++i) {
      std::string stream = rows.text(i, "stream") == "jobs" ? kJobsStream : kEventsStream;
      redis::Reply r = ctx.redis.command({"XADD", stream, "MAXLEN", "~", kStreamCap, "*", "type",
                                          rows.str(i, "event_type"), "conversation_id", rows.str(i, "conversation_id"),
                                          "audience", rows.str(i, "audience"), "user_ids", rows.str(i, "user_ids"),
                                          "payload", rows.str(i, "payload"), "outbox_id", rows.str(i, "id")});
      if (r.is_error()) throw redis::RedisError("XADD refused: " + r.str());
      ids.push_back(rows.str(i, "id"));
    }
    tx.exec(kDeleteRelayed, {db::text_array(ids)});
    tx.commit();
    return static_cast<int>(ids.size());
  } catch (const redis::RedisError& e) {
    log::warn("outbox_relay_deferred", {{"shard", std::to_string(shard)}, {"error", e.what()}});
  } catch (const db::DbError& e) {
    log::warn("outbox_relay_failed", {{"shard", std::to_string(shard)}, {"error", e.what()}});
  }
  return -1;
}

void publish_ephemeral(Context& ctx, const std::string& type, const std::vector<std::string>& user_ids,
                       const std::string& conversation_id, json::Value payload) {
  std::string event = stamped(type, payload);
  json::Value msg = json::Value::object();
  msg.set("type", type).set("conversation_id", conversation_id).set("user_ids", join(user_ids));
  msg.set("payload", json::Value::raw(event));
  try {
    ctx.redis.command({"PUBLISH", kEphemeralChannel, msg.dump()});
  } catch (const redis::RedisError& e) {
    log::warn("ephemeral_publish_failed", {{"type", type}, {"error", e.what()}});
  }
}

}  // namespace chat::domain

// Transactional outbox. A relay works on one conversation at a time under that conversation's advisory
// lock, so the entries of one conversation reach the stream in commit order even when several processes
// relay at once, while relays of different conversations never wait for each other. A relay is two
// PostgreSQL round trips and one Redis round trip: BEGIN, the lock and the DELETE … RETURNING of the rows
// in one flight (after a send, the same flight as the send's COMMIT); their XADDs in one pipeline; COMMIT.
// Until that COMMIT the rows are only locked, so a relay that fails anywhere leaves them for the next relay.
#include "domain/outbox.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "core/timefmt.hpp"

namespace chat::domain {
namespace {

constexpr db::Statement kInsertOutbox{
    "outbox_insert",
    "INSERT INTO outbox (stream, conversation_id, event_type, audience, user_ids, payload) "
    "VALUES ($1, $2, $3, $4, $5, $6)"};
// The lock of one conversation's relay (the key space 727301 is the outbox's; "" is the rows of none), and
// the relay transaction's settings. Its COMMIT only deletes rows that are on the stream already: it need not
// wait for its WAL to reach the disk (a crash that loses it brings the rows back, they are appended again,
// and the readers drop the repeated outbox ids; the send's own COMMIT, the one a 2xx stands for, stays
// synchronous). And no sequential scan: the statistics see a few live rows and would have the table scanned,
// but its pages hold every row inserted and deleted since the last vacuum; the conversation's index finds
// its rows.
constexpr db::Statement kLockConversation{
    "outbox_lock_conversation",
    "SELECT pg_advisory_xact_lock(727301, hashtext($1)), set_config('synchronous_commit', 'off', true), "
    "set_config('enable_seqscan', 'off', true)"};
// The rows, deleted at once and kept only by this transaction's lock until the XADDs are done.
// `id = ANY(ARRAY(...))` makes the page an InitPlan and the DELETE an index lookup of its ids (`IN (SELECT ...)`
// can become a hash join that scans the whole table). $2 is the page size, kRelayPage; $3 the id after which the
// page starts (0; RelayMemo::resume_after while the replicas lag).
#define CHAT_OUTBOX_TAKE(where)                                                                            \
  "DELETE FROM outbox WHERE id = ANY(ARRAY(SELECT id FROM outbox WHERE " where " AND id > $3 "              \
  "ORDER BY id LIMIT $2)) "                                                                                 \
  "RETURNING id, stream, coalesce(conversation_id::text, '') AS conversation_id, event_type, audience, "   \
  "user_ids, payload"
constexpr db::Statement kTakeOfConversation{"outbox_take", CHAT_OUTBOX_TAKE("conversation_id = $1::uuid")};
constexpr db::Statement kTakeOfNone{"outbox_take_none", CHAT_OUTBOX_TAKE("conversation_id IS NULL AND $1 = ''")};
#undef CHAT_OUTBOX_TAKE
constexpr db::Statement kPendingConversations{
    "outbox_pending_conversations",
    "SELECT coalesce(conversation_id::text, '') AS c FROM outbox GROUP BY conversation_id ORDER BY min(id) LIMIT $1"};

std::optional<std::string> opt_uuid(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

// One per relaying thread: each thread relays through its own Context's Redis client.
RelayMemo& relay_memo() {
  thread_local RelayMemo memo;
  return memo;
}

// Appends the rows a relay took to their streams and commits `tx`: how many, or -1 (then `tx` rolls back).
int append_taken(Context& ctx, db::Transaction& tx, const std::string& conversation_id, const db::Result& rows) {
  try {
    if (rows.empty()) {
      tx.commit();
      return 0;
    }
    // DELETE … RETURNING does not promise an order: the stream must get the rows in id (commit) order.
    std::vector<std::pair<int64_t, int>> order;
    for (int i = 0; i < rows.rows(); ++i) order.emplace_back(rows.int64(i, "id"), i);
    std::sort(order.begin(), order.end());
    // With WAIT, rows this thread appended already on this connection are not appended again (RelayMemo).
    const int required = ctx.config.redis_wait_replicas;
    RelayMemo& memo = relay_memo();
    const RelayMemo::Connection on{&ctx.redis, ctx.redis.opens()};
    size_t skipped = 0;
    std::vector<int64_t> appended;
    std::vector<std::vector<std::string>> commands;
    commands.reserve(order.size());
    for (const auto& [id, i] : order) {
      if (required > 0 && !memo.needs_append(id, on)) {
        ++skipped;
        continue;
      }
      appended.push_back(id);
      stream::Entry e;
      e.type = rows.str(i, "event_type");
      e.conversation_id = rows.str(i, "conversation_id");
      e.audience = stream::parse_audience(rows.text(i, "audience"));
      e.user_ids = stream::split_ids(rows.text(i, "user_ids"));
      e.payload = rows.str(i, "payload");
      e.outbox_id = std::to_string(id);
      commands.push_back(stream::xadd(rows.text(i, "stream") == "jobs" ? stream::kJobs : stream::kEvents, e));
    }
    // With Redis replicas (Sentinel), WAIT rides in the same pipeline: the rows are deleted only once their
    // entries are on enough replicas to survive a failover (replication is asynchronous).
    const size_t xadds = commands.size();
    if (required > 0) {
      commands.push_back(
          {"WAIT", std::to_string(required), std::to_string(memo.wait_timeout_ms(ctx.config.redis_wait_ms))});
    }
    std::vector<redis::Reply> replies = ctx.redis.pipeline(commands);
    for (size_t i = 0; i < xadds; ++i) {
      if (replies[i].is_error()) throw redis::RedisError("XADD refused: " + replies[i].str());
    }
    if (required > 0) {
      // The pipeline went to a new connection (a failover): the rows skipped above are not covered by its WAIT.
      if (skipped > 0 && ctx.redis.opens() != on.opens) return -1;
      const RelayMemo::Connection now{&ctx.redis, ctx.redis.opens()};
      const redis::Reply& w = replies[xadds];
      std::optional<int64_t> acked = w.is_integer() ? std::optional<int64_t>(w.integer()) : std::nullopt;
      const bool enough = may_delete_after_wait(acked, required);
      memo.waited(enough, steady_now_ms());
      if (!enough) {
        for (int64_t id : appended) memo.appended(id, now, conversation_id);
        log::warn("outbox_wait_short", {{"conversation_id", conversation_id},
                                        {"acked", acked ? std::to_string(*acked) : w.str()},
                                        {"required", std::to_string(required)}});
        return -1;  // `tx` rolls back: the rows come back for the next relay
      }
    }
    tx.commit();
    for (const auto& [id, i] : order) memo.deleted(id);
    memo.caught_up(conversation_id);
    return static_cast<int>(order.size());
  } catch (const redis::RedisError& e) {
    log::warn("outbox_relay_deferred", {{"conversation_id", conversation_id}, {"error", e.what()}});
  } catch (const db::DbError& e) {
    log::warn("outbox_relay_failed", {{"conversation_id", conversation_id}, {"error", e.what()}});
  }
  return -1;
}

}  // namespace

bool may_delete_after_wait(std::optional<int64_t> acked, int required) {
  if (required <= 0) return true;
  return acked.has_value() && *acked >= required;
}

bool RelayMemo::needs_append(int64_t outbox_id, Connection on) const {
  auto it = appended_.find(outbox_id);
  return it == appended_.end() || !(it->second == on);
}

void RelayMemo::appended(int64_t outbox_id, Connection on, const std::string& conversation_id) {
  if (appended_.size() >= kMaxRows) {
    appended_.clear();
    high_.clear();
  }
  appended_[outbox_id] = on;
  High& h = high_[conversation_id];
  if (!(h.on == on)) h = High{0, on};
  h.id = std::max(h.id, outbox_id);
}

int64_t RelayMemo::resume_after(const std::string& conversation_id, Connection on) const {
  if (!short_) return 0;
  auto it = high_.find(conversation_id);
  return it != high_.end() && it->second.on == on ? it->second.id : 0;
}

int RelayMemo::wait_timeout_ms(int configured) const { return short_ ? std::min(configured, kShortWaitMs) : configured; }

std::string stamped(const std::string& type, const json::Value& payload) {
  std::string body = payload.dump();
  std::string out = "{\"type\":" + json::quote(type);
  if (body.size() > 2) out += "," + body.substr(1, body.size() - 2);
  out += ",\"timestamp\":" + json::quote(rfc3339_now()) + "}";
  return out;
}

void Outbox::event(db::Transaction& tx, Event e) {
  tx.exec(kInsertOutbox, {"events", opt_uuid(e.conversation_id), e.type, stream::audience_name(e.audience),
                          stream::join_ids(e.user_ids), stamped(e.type, e.payload)});
  conversations_.insert(e.conversation_id);
}

void Outbox::job(db::Transaction& tx, const std::string& type, const std::string& conversation_id,
                 json::Value payload) {
  tx.exec(kInsertOutbox, {"jobs", opt_uuid(conversation_id), type, "users", "", payload.dump()});
  conversations_.insert(conversation_id);
}

void Outbox::relay(Context& ctx) {
  if (!relay_memo().paused(steady_now_ms())) {
    for (const auto& c : conversations_) relay_conversation(ctx, c);
  }
  conversations_.clear();
}

namespace {

std::vector<db::Call> take_flight(Context& ctx, const std::string& conversation_id) {
  const db::Statement& take = conversation_id.empty() ? kTakeOfNone : kTakeOfConversation;
  const int64_t after = relay_memo().resume_after(conversation_id, {&ctx.redis, ctx.redis.opens()});
  return {db::Call{&kLockConversation, {conversation_id}}, db::Call{&take, {conversation_id, kRelayPage, after}}};
}

}  // namespace

std::vector<db::Call> relay_flight(Context& ctx, const std::string& conversation_id) {
  if (relay_memo().paused(steady_now_ms())) return {};
  return take_flight(ctx, conversation_id);
}

int relay_conversation(Context& ctx, const std::string& conversation_id) {
  try {
    db::Transaction tx(ctx.db);
    auto results = tx.exec_all(take_flight(ctx, conversation_id));
    return append_taken(ctx, tx, conversation_id, results[1]);
  } catch (const db::DbError& e) {
    log::warn("outbox_relay_failed", {{"conversation_id", conversation_id}, {"error", e.what()}});
  }
  return -1;
}

void relay_after_commit(Context& ctx, const std::string& conversation_id, db::Connection::CommittedThen& sent) {
  if (sent.then_error) {
    log::warn("outbox_relay_failed", {{"conversation_id", conversation_id}, {"error", sent.then_error->what()}});
    return;
  }
  if (sent.then.empty()) return;  // paused: no relay transaction was opened
  db::Transaction tx(ctx.db, db::kOpened);
  append_taken(ctx, tx, conversation_id, sent.then[1]);
}

std::vector<std::string> pending_conversations(Context& ctx, int limit) {
  auto r = ctx.db.exec(kPendingConversations, {limit});
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.str(i, "c"));
  return out;
}

void publish_ephemeral(Context& ctx, const std::string& type, const std::vector<std::string>& user_ids,
                       const std::string& conversation_id, json::Value payload) {
  stream::Ephemeral e;
  e.type = type;
  e.conversation_id = conversation_id;
  e.user_ids = user_ids;
  e.payload = stamped(type, payload);
  try {
    ctx.redis.command({"PUBLISH", stream::kEphemeral, stream::encode(e)});
  } catch (const redis::RedisError& e) {
    log::warn("ephemeral_publish_failed", {{"type", type}, {"error", e.what()}});
  }
}

}  // namespace chat::domain

// The job table and the jobs of messages: mention notifications (and the test jobs of the integration suite).
#include "worker/jobs.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "core/crypto.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/stream.hpp"
#include "core/timefmt.hpp"
#include "domain/outbox.hpp"
#include "worker/maintenance.hpp"

namespace chat::worker {
namespace {

const JobSpec kJobs[] = {
    {"mention_notification", mention_notification, false},
    {"outbox_relay", outbox_relay, false},
    {"presence_sweep", presence_sweep, false},
    {"session_cleanup", session_cleanup, false},
    {"idempotency_cleanup", idempotency_cleanup, false},
    {"events_trim", events_trim, false},
    {"consumers_cleanup", consumers_cleanup, false},
    {"test_sleep", test_sleep, true},
    {"test_fail", test_fail, true},
};

// The message, if it still exists and is not deleted, with what the notification shows of it.
constexpr db::Statement kMentionMessage{
    "wk_mention_message",
    "SELECT m.conversation_id, m.content, m.sender_id, u.username AS from_username "
    "FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = $1 AND m.deleted_at IS NULL"};
// One statement (atomic on its own): a notifications row per mentioned member who may still see the
// message (never the sender), and for the rows actually inserted the offline counter and the mention's
// notified_at. The unique (user_id, kind, message_id) makes a second run insert, and so change, nothing.
constexpr db::Statement kNotify{
    "wk_mention_notify",
    "WITH ins AS (INSERT INTO notifications (user_id, kind, message_id, payload) "
    "  SELECT cm.user_id, 'mention', $1, $5::jsonb FROM conversation_members cm "
    "  WHERE cm.conversation_id = $2 AND cm.user_id = ANY($3::uuid[]) AND cm.user_id <> $4 "
    "  ON CONFLICT (user_id, kind, message_id) DO NOTHING RETURNING user_id), "
    "unread AS (UPDATE users SET unread_mentions = unread_mentions + 1 "
    "  WHERE id IN (SELECT user_id FROM ins) AND NOT is_online), "
    "notified AS (UPDATE mentions SET notified_at = now() "
    "  WHERE message_id = $1 AND user_id IN (SELECT user_id FROM ins)) "
    "SELECT user_id FROM ins ORDER BY user_id"};

// A test job's record: stream::kTestPrefix + "<what>:<key>" (the integration tests read them).
std::string test_key(const char* what, const std::string& key) {
  return std::string(stream::kTestPrefix) + what + ":" + key;
}

// KEYS: ran marker, done counter, runs counter, by-consumer hash. ARGV: consumer.
// The marker and the count change together, so the effect happens once per job id however many runs.
constexpr const char* kTestDoneScript = R"(
redis.call('INCR', KEYS[3])
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', 86400) then
  redis.call('INCR', KEYS[2])
  redis.call('HINCRBY', KEYS[4], ARGV[1], 1)
  return 1
end
return 0)";

std::optional<std::string> uuid_field(const cJSON* obj, const char* name) {
  auto s = json::as_string(json::field(obj, name));
  if (!s || !crypto::is_uuid(*s)) return std::nullopt;
  std::string v = *s;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v;
}

}  // namespace

std::span<const JobSpec> job_table() { return kJobs; }

const JobSpec* find_job(std::string_view type, bool test_jobs) {
  for (const auto& spec : kJobs) {
    if (spec.type == type) return spec.test_only && !test_jobs ? nullptr : &spec;
  }
  return nullptr;
}

std::optional<MentionJob> parse_mention_job(std::string_view payload) {
  auto doc = json::Value::parse(payload);
  if (!doc || !json::is_object(doc->get())) return std::nullopt;
  const cJSON* root = doc->get();
  MentionJob m;
  auto message = uuid_field(root, "message_id");
  auto conversation = uuid_field(root, "conversation_id");
  auto sender = uuid_field(root, "sender_id");
  const cJSON* ids = json::field(root, "user_ids");
  if (!message || !conversation || !sender || !json::is_array(ids)) return std::nullopt;
  m.message_id = *message;
  m.conversation_id = *conversation;
  m.sender_id = *sender;
  for (int i = 0; i < json::array_size(ids); ++i) {
    auto s = json::as_string(json::array_item(ids, i));
    if (!s || !crypto::is_uuid(*s)) return std::nullopt;
    std::string id = *s;
    std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
    if (std::find(m.user_ids.begin(), m.user_ids.end(), id) == m.user_ids.end()) m.user_ids.push_back(id);
  }
  return m;
}

std::optional<SleepJob> parse_sleep_job(std::string_view payload) {
  auto doc = json::Value::parse(payload);
  if (!doc) return std::nullopt;
  auto ms = json::as_number(json::field(doc->get(), "ms"));
  auto key = json::as_string(json::field(doc->get(), "key"));
  if (!ms || *ms < 0 || *ms > 3600000 || std::floor(*ms) != *ms || !key || key->empty() || key->size() > 200) {
    return std::nullopt;
  }
  return SleepJob{static_cast<int64_t>(*ms), *key};
}

void mention_notification(JobContext& jc) {
  auto m = parse_mention_job(jc.job.payload);
  if (!m) throw PermanentError("malformed mention_notification payload");
  if (m->user_ids.empty()) return;
  auto msg = jc.ctx.db.exec(kMentionMessage, {m->message_id});
  if (msg.empty()) {
    log::info("mention_skipped", {{"job_id", jc.job.job_id}, {"message_id", m->message_id}, {"reason", "gone"}});
    return;  // deleted (or never committed): nobody may see it any more
  }
  // The message's own conversation is the truth, whatever the payload says.
  const std::string conversation = msg.str(0, "conversation_id");
  const std::string sender = msg.str(0, "sender_id");
  json::Value data = json::Value::object();
  data.set("message_id", m->message_id)
      .set("channel_id", conversation)
      .set("content", msg.text(0, "content"))
      .set("from_user_id", sender)
      .set("from_username", msg.text(0, "from_username"));
  const std::string data_text = data.dump();
  domain::Outbox out;
  std::vector<std::string> notified;
  {
    // A message deleted between the read above and this commit may still notify: the same race as a
    // notification that arrives just before the deletion's event.
    db::Transaction tx(jc.ctx.db);
    auto rows = tx.exec(kNotify, {m->message_id, conversation, db::text_array(m->user_ids), sender, data_text});
    for (int i = 0; i < rows.rows(); ++i) notified.push_back(rows.str(i, "user_id"));
    for (const auto& user : notified) {
      json::Value payload = json::Value::object();
      payload.set("data", json::Value::raw(data_text));
      out.event(tx, domain::Event{"mention_notification", conversation, domain::Audience::kUsers, {user},
                                    std::move(payload)});
    }
    tx.commit();
  }
  if (notified.empty()) return;
  if (jc.relayer) jc.relayer->relay(jc, conversation);
  else out.relay(jc.ctx);
  log::debug("mention_notified", {{"job_id", jc.job.job_id}, {"message_id", m->message_id},
                                  {"users", std::to_string(notified.size())}});
}

int relay_conversation(JobContext& jc, const std::string& conversation_id) {
  int n = domain::relay_conversation(jc.ctx, conversation_id);
  if (n > 0 && jc.metrics) jc.metrics->relayed(n);
  return n;
}

void Relayer::relay(JobContext& jc, const std::string& conversation_id) {
  {
    std::lock_guard lock(mu_);
    State& st = conversations_[conversation_id];
    if (st.busy) {
      st.again = true;  // the thread relaying it now takes our rows too
      return;
    }
    st.busy = true;
  }
  for (;;) {
    // Never throws; a failure leaves the rows for the periodic relay.
    int n = relay_conversation(jc, conversation_id);
    std::lock_guard lock(mu_);
    State& st = conversations_[conversation_id];
    if (!st.again && n < domain::kRelayPage) {
      conversations_.erase(conversation_id);
      return;
    }
    st.again = false;
  }
}

void test_sleep(JobContext& jc) {
  auto s = parse_sleep_job(jc.job.payload);
  if (!s) throw PermanentError("malformed test_sleep payload");
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(s->ms);
  while (std::chrono::steady_clock::now() < until) {
    if (jc.stopping.load()) throw HandedBack("stopping during test_sleep");
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(10), until - std::chrono::steady_clock::now()));
  }
  redis::Reply r =
      jc.ctx.redis.command({"EVAL", kTestDoneScript, "4", test_key("ran", s->key + ":" + jc.job.job_id),
                            test_key("done", s->key), test_key("runs", s->key), test_key("by", s->key), jc.consumer});
  if (r.is_error()) throw redis::RedisError("test_sleep script refused: " + r.str());
}

void test_fail(JobContext& jc) {
  auto doc = json::Value::parse(jc.job.payload);
  auto key = doc ? json::as_string(json::field(doc->get(), "key")) : std::nullopt;
  if (key && !key->empty()) {
    jc.ctx.redis.command({"RPUSH", test_key("attempts", *key),
                          std::to_string(jc.job.attempt) + " " + std::to_string(unix_now_ms()) + " " + jc.consumer});
  }
  throw std::runtime_error("test_fail: failing on purpose (attempt " + std::to_string(jc.job.attempt) + ")");
}

}  // namespace chat::worker

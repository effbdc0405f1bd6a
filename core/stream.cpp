// Encoding and parsing of the Redis wire format (core/stream.hpp), and the queue statistics.
#include "core/stream.hpp"

#include <algorithm>
#include <charconv>

#include "core/json.hpp"
#include "core/redis.hpp"

namespace chat::stream {
namespace {

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string string_field(const cJSON* obj, const char* name) {
  return json::as_string(json::field(obj, name)).value_or("");
}

int64_t to_int(const redis::Reply& r) {
  if (r.is_integer()) return r.integer();
  std::string s = r.str();
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// A reply that must not be an error (the statistics of a queue that does not exist yet are zeros, and
// every command used below answers those without an error).
const redis::Reply& must(const redis::Reply& r) {
  if (r.is_error()) throw redis::RedisError("Redis refused a statistics query: " + r.str());
  return r;
}

// A field of an XINFO CONSUMERS record (a flat name/value array).
redis::Reply info_value(const redis::Reply& flat, std::string_view name) {
  for (size_t i = 0; i + 1 < flat.size(); i += 2) {
    if (flat.element(i).str() == name) return flat.element(i + 1);
  }
  return redis::Reply(nullptr);
}

}  // namespace

std::string read_your_writes_key(std::string_view user_id) {
  return std::string(kReadYourWritesPrefix).append(user_id);
}

std::string presence_user_key(std::string_view user_id) { return std::string(kPresenceUserPrefix) + std::string(user_id); }

std::string send_rate_key(std::string_view user_id) { return std::string(kSendRatePrefix) + std::string(user_id); }

std::optional<StreamId> StreamId::parse(std::string_view text) {
  StreamId id;
  size_t dash = text.find('-');
  if (!parse_u64(text.substr(0, dash), id.ms)) return std::nullopt;
  if (dash != std::string_view::npos && !parse_u64(text.substr(dash + 1), id.seq)) return std::nullopt;
  return id;
}

const char* audience_name(Audience a) {
  switch (a) {
    case Audience::kConversation: return "conversation";
    case Audience::kEveryone: return "everyone";
    case Audience::kUsers: return "users";
  }
  return "conversation";
}

Audience parse_audience(std::string_view name) {
  if (name == "everyone") return Audience::kEveryone;
  if (name == "users") return Audience::kUsers;
  return Audience::kConversation;
}

std::string join_ids(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& s : ids) {
    if (!out.empty()) out.push_back(',');
    out += s;
  }
  return out;
}

std::vector<std::string> split_ids(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

std::vector<std::string> xadd(const char* stream, const Entry& e) {
  std::vector<std::string> args{"XADD", stream};
  if (std::string_view(stream) == kEvents) args.insert(args.end(), {"MAXLEN", "~", kEventsCap});
  args.insert(args.end(), {"*", "type", e.type, "conversation_id", e.conversation_id, "audience",
                           audience_name(e.audience), "user_ids", join_ids(e.user_ids), "payload", e.payload,
                           "outbox_id", e.outbox_id});
  return args;
}

std::optional<Entry> parse_entry(const std::map<std::string, std::string>& fields) {
  auto get = [&fields](const char* k) -> std::string {
    auto it = fields.find(k);
    return it == fields.end() ? std::string() : it->second;
  };
  Entry e;
  e.payload = get("payload");
  size_t a = e.payload.find_first_not_of(" \t\r\n");
  size_t b = e.payload.find_last_not_of(" \t\r\n");
  if (a == std::string::npos || e.payload[a] != '{' || e.payload[b] != '}') return std::nullopt;
  e.type = get("type");
  e.conversation_id = get("conversation_id");
  e.audience = parse_audience(get("audience"));
  e.user_ids = split_ids(get("user_ids"));
  e.outbox_id = get("outbox_id");
  return e;
}

std::string encode(const Ephemeral& e) {
  json::Value msg = json::Value::object();
  msg.set("type", e.type)
      .set("conversation_id", e.conversation_id)
      .set("user_ids", join_ids(e.user_ids))
      .set("conversation_ids", join_ids(e.conversation_ids))
      .set("except_user_id", e.except_user_id)
      .set("payload", json::Value::raw(e.payload.empty() ? "{}" : e.payload));
  return msg.dump();
}

bool parse(std::string_view text, Ephemeral& out) {
  auto v = json::Value::parse(text);
  if (!v || !json::is_object(v->get())) return false;
  const cJSON* payload = json::field(v->get(), "payload");
  if (!json::is_object(payload)) return false;
  out.type = string_field(v->get(), "type");
  out.conversation_id = string_field(v->get(), "conversation_id");
  out.user_ids = split_ids(string_field(v->get(), "user_ids"));
  out.conversation_ids = split_ids(string_field(v->get(), "conversation_ids"));
  out.except_user_id = string_field(v->get(), "except_user_id");
  out.payload = json::dump(payload);
  return true;
}

std::string encode(const Revocation& r) {
  json::Value msg = json::Value::object();
  msg.set("session_id", r.session_id).set("user_id", r.user_id).set("reason", r.reason);
  return msg.dump();
}

std::optional<Revocation> parse_revocation(std::string_view text) {
  auto v = json::Value::parse(text);
  if (!v || !json::is_object(v->get())) return std::nullopt;
  Revocation r{string_field(v->get(), "session_id"), string_field(v->get(), "user_id"),
               json::as_string(json::field(v->get(), "reason")).value_or("session_revoked")};
  if (r.session_id.empty() || (r.session_id == kAllSessions && r.user_id.empty())) return std::nullopt;
  return r;
}

QueueStats queue_stats(redis::Client& redis) {
  auto replies = redis.pipeline({
      {"TIME"},
      {"XLEN", kJobs},
      {"XINFO", "CONSUMERS", kJobs, kGroup},  // an error until the group exists: no consumers yet
      {"ZCARD", kDelayed},
      {"XLEN", kDead},
      {"MGET", kDone, kRetried, kDeadLettered},
      {"HGETALL", kByType},
      {"XRANGE", kJobs, "-", "+", "COUNT", "1"},
      {"ZRANGE", kDelayed, "0", "0", "WITHSCORES"},
      {"HGETALL", kSchedLast},
  });
  QueueStats s;
  const redis::Reply& time = must(replies[0]);
  if (!time.is_array() || time.size() < 2) throw redis::RedisError("TIME answered " + time.str());
  s.now_ms = to_int(time.element(0)) * 1000 + to_int(time.element(1)) / 1000;
  s.depth = to_int(must(replies[1]));
  const redis::Reply& consumers = replies[2];
  for (size_t i = 0; consumers.is_array() && i < consumers.size(); ++i) {
    redis::Reply c = consumers.element(i);
    ConsumerStats cs{info_value(c, "name").str(), to_int(info_value(c, "pending")), to_int(info_value(c, "idle"))};
    s.pending += cs.pending;
    s.consumers.push_back(cs);
  }
  s.delayed = to_int(must(replies[3]));
  s.dead = to_int(must(replies[4]));
  const redis::Reply& counters = must(replies[5]);
  if (counters.size() >= 3) {
    s.done = to_int(counters.element(0));
    s.retried = to_int(counters.element(1));
    s.dead_lettered = to_int(counters.element(2));
  }
  const redis::Reply& by_type = must(replies[6]);
  for (size_t i = 0; i + 1 < by_type.size(); i += 2) {
    std::string f = by_type.element(i).str();
    auto colon = f.rfind(':');
    if (colon == std::string::npos) continue;
    s.by_type[f.substr(0, colon)][f.substr(colon + 1)] = to_int(by_type.element(i + 1));
  }
  const redis::Reply& oldest = must(replies[7]);
  if (oldest.size() > 0) {
    if (auto id = StreamId::parse(oldest.element(0).element(0).str())) {
      s.oldest_age_ms = std::max<int64_t>(s.now_ms - static_cast<int64_t>(id->ms), 0);
    }
  }
  const redis::Reply& next = must(replies[8]);
  if (next.size() >= 2) s.next_delayed_in_ms = std::max<int64_t>(to_int(next.element(1)) - s.now_ms, 0);
  const redis::Reply& last = must(replies[9]);
  for (size_t i = 1; i < last.size(); i += 2) s.periodic.push_back(last.element(i).str());
  std::sort(s.periodic.begin(), s.periodic.end());
  return s;
}

}  // namespace chat::stream

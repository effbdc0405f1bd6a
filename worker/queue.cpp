// Reliable queue on a Redis stream: XREADGROUP/XAUTOCLAIM to take, Lua scripts so that acking,
// re-queueing and dead-lettering each happen at once or not at all, and never twice for one entry.
#include "worker/queue.hpp"

#include <algorithm>
#include <charconv>

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/stream.hpp"

namespace chat::worker {
namespace {

// KEYS: jobs, done, by_type. ARGV: group, entry id, type.
constexpr const char* kAckScript = R"(
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('INCR', KEYS[2])
redis.call('HINCRBY', KEYS[3], ARGV[3] .. ':done', 1)
return 1)";

// KEYS: jobs, delayed, retried, by_type. ARGV: group, entry id, type, run-at ms, encoded job.
constexpr const char* kRetryScript = R"(
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('INCR', KEYS[3])
redis.call('HINCRBY', KEYS[4], ARGV[3] .. ':retried', 1)
return 1)";

// KEYS: jobs, dead, dead_lettered, by_type. ARGV: group, entry id, type, field, value, ...
constexpr const char* kDeadScript = R"(
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('INCR', KEYS[3])
redis.call('HINCRBY', KEYS[4], ARGV[3] .. ':dead_lettered', 1)
return 1)";

// KEYS: delayed, jobs. ARGV: now ms, limit. ZREM in the same script: two workers never move one job twice.
constexpr const char* kMoveDueScript = R"(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local ok, f = pcall(cjson.decode, m)
  if ok and type(f) == 'table' and #f >= 2 and #f % 2 == 0 then
    redis.call('XADD', KEYS[2], '*', unpack(f))
  else
    redis.log(redis.LOG_WARNING, 'chat-worker: dropping a malformed delayed job')
  end
  redis.call('ZREM', KEYS[1], m)
end
return #due)";

std::string to_string(int64_t v) { return std::to_string(v); }

std::optional<int64_t> parse_int(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool is_dead_only(const std::string& name) {
  return std::find(std::begin(kDeadOnlyFields), std::end(kDeadOnlyFields), name) != std::end(kDeadOnlyFields);
}

}  // namespace

std::string Job::field(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return v;
  }
  return "";
}

Job make_job(std::string entry_id, Fields fields, int64_t deliveries) {
  Job j;
  j.entry_id = std::move(entry_id);
  j.fields = std::move(fields);
  j.deliveries = std::max<int64_t>(deliveries, 1);
  j.type = j.field("type");
  j.payload = j.field("payload");
  if (std::string id = j.field("job_id"); !id.empty()) j.job_id = id;
  else if (std::string o = j.field("outbox_id"); !o.empty()) j.job_id = "outbox:" + o;
  else j.job_id = j.entry_id;
  int64_t base = parse_int(j.field("attempt")).value_or(1);
  if (base < 1) base = 1;
  j.attempt = static_cast<int>(std::min<int64_t>(base + j.deliveries - 1, 1000000));
  return j;
}

int64_t backoff_ceiling_ms(int attempt, int64_t base_ms, int64_t cap_ms) {
  int64_t d = std::max<int64_t>(base_ms, 0);
  for (int i = 1; i < attempt && d < cap_ms; ++i) d *= 2;
  return std::min(d, cap_ms);
}

int64_t backoff_delay_ms(int attempt, int64_t base_ms, int64_t cap_ms, std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> dist(0, backoff_ceiling_ms(attempt, base_ms, cap_ms));
  return dist(rng);
}

Fields requeue_fields(const Job& job, int next_attempt) {
  Fields out;
  for (const auto& kv : job.fields) {
    if (kv.first != "job_id" && kv.first != "attempt") out.push_back(kv);
  }
  out.emplace_back("job_id", job.job_id);
  out.emplace_back("attempt", std::to_string(next_attempt));
  return out;
}

Fields dead_fields(const Job& job, const std::string& error, int attempts, const std::string& consumer,
                   const std::string& failed_at) {
  Fields out;
  for (const auto& kv : job.fields) {
    if (kv.first != "job_id" && kv.first != "attempt" && !is_dead_only(kv.first)) out.push_back(kv);
  }
  out.emplace_back("job_id", job.job_id);
  out.emplace_back("error", error);
  out.emplace_back("attempts", std::to_string(attempts));
  out.emplace_back("failed_at", failed_at);
  out.emplace_back("failed_by", consumer);
  out.emplace_back("entry_id", job.entry_id);
  return out;
}

Fields revive_fields(const Fields& dead) {
  Fields out;
  for (const auto& kv : dead) {
    if (kv.first != "attempt" && !is_dead_only(kv.first)) out.push_back(kv);
  }
  return out;
}

std::string encode_fields(const Fields& fields) {
  json::Value a = json::Value::array();
  for (const auto& [k, v] : fields) {
    a.push(k);
    a.push(v);
  }
  return a.dump();
}

Fields fields_of(const redis::Reply& entry) {
  Fields out;
  redis::Reply kv = entry.element(1);
  for (size_t i = 0; i + 1 < kv.size(); i += 2) out.emplace_back(kv.element(i).str(), kv.element(i + 1).str());
  return out;
}

// ---- Queue

redis::Reply Queue::checked(const std::vector<std::string>& args) {
  redis::Reply r = redis_.command(args);
  if (r.is_error()) throw redis::RedisError(args[0] + " refused: " + r.str());
  return r;
}

void Queue::ensure_group() {
  redis::Reply r = redis_.command({"XGROUP", "CREATE", stream::kJobs, stream::kGroup, "0", "MKSTREAM"});
  if (r.is_error() && r.str().rfind("BUSYGROUP", 0) != 0) throw redis::RedisError("XGROUP CREATE refused: " + r.str());
  if (!r.is_error()) log::info("consumer_group_created", {{"stream", stream::kJobs}, {"group", stream::kGroup}});
}

std::optional<Job> Queue::job_from_entry(const redis::Reply& entry, int64_t deliveries) {
  if (!entry.is_array() || entry.size() < 2 || !entry.element(1).is_array()) return std::nullopt;
  return make_job(entry.element(0).str(), fields_of(entry), deliveries);
}

std::optional<Job> Queue::read(int block_ms) {
  redis::Reply r = redis_.command({"XREADGROUP", "GROUP", stream::kGroup, consumer_, "COUNT", "1", "BLOCK",
                                   std::to_string(block_ms), "STREAMS", stream::kJobs, ">"});
  if (r.is_error()) {
    // The stream or the group is gone (Redis restarted without persistence, or someone deleted it).
    if (r.str().rfind("NOGROUP", 0) == 0) {
      ensure_group();
      return std::nullopt;
    }
    throw redis::RedisError("XREADGROUP refused: " + r.str());
  }
  if (r.is_nil() || r.size() == 0) return std::nullopt;
  redis::Reply entries = r.element(0).element(1);
  if (entries.size() == 0) return std::nullopt;
  return job_from_entry(entries.element(0), 1);
}

int64_t Queue::delivery_count(const std::string& entry_id) {
  redis::Reply r = redis_.command({"XPENDING", stream::kJobs, stream::kGroup, entry_id, entry_id, "1"});
  if (r.is_array() && r.size() > 0 && r.element(0).size() >= 4) return r.element(0).element(3).integer();
  return 1;
}

std::optional<Job> Queue::autoclaim(int64_t min_idle_ms, bool* scan_done) {
  *scan_done = false;
  redis::Reply r = redis_.command({"XAUTOCLAIM", stream::kJobs, stream::kGroup, consumer_, to_string(min_idle_ms),
                                   autoclaim_cursor_, "COUNT", "1"});
  if (r.is_error()) {
    if (r.str().rfind("NOGROUP", 0) == 0) {
      ensure_group();
      *scan_done = true;
      return std::nullopt;
    }
    throw redis::RedisError("XAUTOCLAIM refused: " + r.str());
  }
  autoclaim_cursor_ = r.element(0).str();
  if (autoclaim_cursor_.empty()) autoclaim_cursor_ = "0-0";
  *scan_done = autoclaim_cursor_ == "0-0";
  redis::Reply entries = r.element(1);
  for (size_t i = 0; i < entries.size(); ++i) {
    redis::Reply e = entries.element(i);
    if (!e.is_array() || e.size() < 2 || !e.element(1).is_array()) continue;  // deleted while pending
    std::string id = e.element(0).str();
    auto job = job_from_entry(e, delivery_count(id));
    if (job) log::info("job_reclaimed", {{"job_id", job->job_id}, {"entry", id}, {"type", job->type},
                                          {"deliveries", std::to_string(job->deliveries)}});
    return job;
  }
  return std::nullopt;
}

void Queue::heartbeat(const std::vector<std::string>& entry_ids) {
  if (entry_ids.empty()) return;
  std::vector<std::string> args{"XCLAIM", stream::kJobs, stream::kGroup, consumer_, "0"};
  args.insert(args.end(), entry_ids.begin(), entry_ids.end());
  args.push_back("JUSTID");
  redis::Reply r = redis_.command(args);
  // NOGROUP after a Redis restart: those jobs are gone anyway; the scheduler's tick goes on.
  if (r.is_error()) log::debug("heartbeat_refused", {{"error", r.str()}});
}

bool Queue::ack(const Job& job) {
  redis::Reply r = checked({"EVAL", kAckScript, "3", stream::kJobs, stream::kDone, stream::kByType, stream::kGroup,
                            job.entry_id, job.type});
  return r.integer() == 1;
}

bool Queue::retry(const Job& job, int next_attempt, int64_t run_at_ms) {
  redis::Reply r = checked({"EVAL", kRetryScript, "4", stream::kJobs, stream::kDelayed, stream::kRetried, stream::kByType,
                            stream::kGroup, job.entry_id, job.type, to_string(run_at_ms),
                            encode_fields(requeue_fields(job, next_attempt))});
  return r.integer() == 1;
}

bool Queue::dead_letter(const Job& job, const std::string& error, int attempts, const std::string& failed_at) {
  std::vector<std::string> args{"EVAL", kDeadScript, "4", stream::kJobs, stream::kDead, stream::kDeadLettered,
                                stream::kByType, stream::kGroup, job.entry_id, job.type};
  for (auto& [k, v] : dead_fields(job, error, attempts, consumer_, failed_at)) {
    args.push_back(k);
    args.push_back(v);
  }
  return checked(args).integer() == 1;
}

int Queue::move_due(int64_t now_ms, int limit) {
  redis::Reply r = checked({"EVAL", kMoveDueScript, "2", stream::kDelayed, stream::kJobs, to_string(now_ms),
                            std::to_string(limit)});
  return static_cast<int>(r.integer());
}

std::string Queue::enqueue(const Fields& fields) {
  std::vector<std::string> args{"XADD", stream::kJobs, "*"};
  for (const auto& [k, v] : fields) {
    args.push_back(k);
    args.push_back(v);
  }
  return checked(args).str();
}

int64_t redis_time_ms(redis::Client& redis) {
  redis::Reply r = redis.command({"TIME"});
  if (!r.is_array() || r.size() < 2) throw redis::RedisError("TIME refused: " + r.str());
  int64_t secs = parse_int(r.element(0).str()).value_or(0);
  int64_t usecs = parse_int(r.element(1).str()).value_or(0);
  return secs * 1000 + usecs / 1000;
}

}  // namespace chat::worker

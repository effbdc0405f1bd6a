// Worker threads and the upgrade's authentication: the same 401/403 rules as the REST handlers
// (domain/principal), plus the user's conversations and the missed events of a resume.
#include "realtime/auth_worker.hpp"

#include <chrono>

#include "core/crypto.hpp"
#include "core/jwt.hpp"
#include "core/log.hpp"
#include "core/timefmt.hpp"
#include "domain/principal.hpp"  // CHAT_USER_INACTIVE_SQL: one definition of "inactive"
#include "realtime/event_loop.hpp"

namespace chat::realtime {
namespace {

constexpr db::Statement kLoadPrincipal{
    "rt_load_principal",
    "SELECT u.id, u.username, " CHAT_USER_INACTIVE_SQL " AS inactive, s.revoked_at IS NOT NULL AS revoked, "
    "(extract(epoch FROM s.created_at) * 1000)::bigint AS session_created_ms "
    "FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = $1 AND s.id = $2"};
constexpr db::Statement kUserConversations{
    "rt_user_conversations", "SELECT conversation_id::text AS id FROM conversation_members WHERE user_id = $1"};
constexpr db::Statement kConversationMembers{
    "rt_conversation_members", "SELECT user_id::text AS id FROM conversation_members WHERE conversation_id = $1"};

constexpr const char* kEventsStream = "chat:events";
constexpr size_t kPage = 1000;
// The contract's window is 10 minutes and at least 100 000 events; past twice that a resync is cheaper.
constexpr size_t kMaxReplay = 200'000;

AuthResult refuse(AuthResult r, int status, const char* detail) {
  r.status = status;
  r.detail = detail;
  return r;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

WorkerPool::WorkerPool(const Config& config, std::string name, int threads)
    : config_(config), name_(std::move(name)), threads_(threads < 1 ? 1 : threads) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { run(); });
}

void WorkerPool::submit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void WorkerPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

size_t WorkerPool::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

void WorkerPool::run() {
  // Own connections per thread: libpq and hiredis handles are not thread-safe. Both connect lazily.
  db::Connection db(config_.database_url, name_);
  redis::Client redis(config_.redis_url);
  Context ctx{config_, db, redis};
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job(ctx);
    } catch (const std::exception& e) {
      log::error("worker_job_failed", {{"pool", name_}, {"error", e.what()}});
    }
  }
}

FetchedRange fetch_missed(redis::Client& redis, StreamId after) {
  FetchedRange out;
  out.upto = after;
  redis::Reply info = redis.command({"XINFO", "STREAM", kEventsStream});
  if (info.is_error()) {  // no stream at all: only "0" was ever handed out
    if (!after.zero()) out.resync_reason = kResyncUnknown;
    return out;
  }
  StreamId last_generated, max_deleted, first_entry;
  bool has_first = false;
  int64_t length = 0, entries_added = -1;
  for (size_t i = 0; i + 1 < info.size(); i += 2) {
    std::string key = info.element(i).str();
    redis::Reply v = info.element(i + 1);
    if (key == "last-generated-id") {
      last_generated = StreamId::parse(v.str()).value_or(StreamId{});
    } else if (key == "max-deleted-entry-id") {  // Redis ≥ 7.0; XDEL moves it, trimming may not
      max_deleted = StreamId::parse(v.str()).value_or(StreamId{});
    } else if (key == "first-entry" && v.is_array() && v.size() == 2) {
      first_entry = StreamId::parse(v.element(0).str()).value_or(StreamId{});
      has_first = true;
    } else if (key == "length") {
      length = v.integer();
    } else if (key == "entries-added") {
      entries_added = v.integer();
    }
  }
  if (after > last_generated) {
    out.resync_reason = kResyncUnknown;
    return out;
  }
  if (after == last_generated) return out;  // nothing was missed (even if that entry is gone)
  // Entries newer than the id were trimmed away: a replay would have a gap.
  const bool trimmed = entries_added < 0 || entries_added > length;
  const bool too_old = (!max_deleted.zero() && after <= max_deleted) ||
                       (trimmed && (!has_first || after < first_entry));
  if (too_old) {
    out.resync_reason = kResyncTooOld;
    return out;
  }
  if (!after.zero()) {
    redis::Reply exact = redis.command({"XRANGE", kEventsStream, after.str(), after.str(), "COUNT", "1"});
    if (exact.size() == 0) {
      out.resync_reason = kResyncUnknown;
      return out;
    }
  }
  StreamId cursor = after;
  int64_t now = monotonic_ms();
  for (;;) {
    redis::Reply page =
        redis.command({"XRANGE", kEventsStream, "(" + cursor.str(), "+", "COUNT", std::to_string(kPage)});
    if (page.is_error()) throw redis::RedisError("XRANGE refused: " + page.str());
    std::vector<std::shared_ptr<StreamEvent>> entries;
    size_t n = parse_entries(page, now, entries, &cursor);
    out.events.insert(out.events.end(), entries.begin(), entries.end());
    if (out.events.size() > kMaxReplay) {
      out.events.clear();
      out.resync_reason = kResyncTooOld;
      return out;
    }
    if (n < kPage) break;
  }
  // Everything up to the newest id XINFO saw existed then, and XRANGE read past it.
  out.upto = std::max(cursor, last_generated);
  return out;
}

std::vector<std::pair<std::string, std::string>> refused_sessions(Context& ctx, const std::vector<std::string>& ids) {
  static constexpr db::Statement kRefused{
      "rt_refused_sessions",
      "SELECT s.id, CASE WHEN s.revoked_at IS NOT NULL THEN coalesce(s.revoke_reason, 'session_revoked') "
      "ELSE 'user_inactive' END AS reason FROM sessions s JOIN users u ON u.id = s.user_id "
      "WHERE s.id = ANY($1::uuid[]) AND (s.revoked_at IS NOT NULL OR " CHAT_USER_INACTIVE_SQL ")"};
  std::vector<std::pair<std::string, std::string>> out;
  constexpr size_t kChunk = 1000;
  for (size_t i = 0; i < ids.size(); i += kChunk) {
    std::vector<std::string> chunk(ids.begin() + static_cast<std::ptrdiff_t>(i),
                                   ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + kChunk)));
    auto r = ctx.db.exec(kRefused, {db::text_array(chunk)});
    for (int k = 0; k < r.rows(); ++k) out.emplace_back(r.str(k, "id"), r.str(k, "reason"));
  }
  return out;
}

AuthResult authenticate(Context& ctx, const AuthRequest& req) {
  AuthResult r;
  r.conn = req.conn;
  jwt::Error why = jwt::Error::kNone;
  auto claims = jwt::decode(ctx.config.jwt_secret, req.token, unix_now(), &why);
  if (!claims) {
    log::info("ws_token_refused", {{"reason", jwt::error_name(why)}});
    return refuse(std::move(r), 401, "Could not validate credentials");
  }
  if (!crypto::is_uuid(claims->sub) || !crypto::is_uuid(claims->sid)) {
    return refuse(std::move(r), 401, "Could not validate credentials");
  }
  try {
    auto p = ctx.db.exec(kLoadPrincipal, {claims->sub, claims->sid});
    if (p.empty()) return refuse(std::move(r), 401, "Could not validate credentials");
    // As require_user: a banned user's (revoked) sessions are refused as inactive while the ban lasts.
    if (p.boolean(0, "inactive")) return refuse(std::move(r), 403, "Inactive user");
    if (p.boolean(0, "revoked")) return refuse(std::move(r), 401, "Could not validate credentials");
    r.user_id = p.str(0, "id");
    r.username = p.str(0, "username");
    r.session_id = claims->sid;
    r.session_created_ms = p.int64(0, "session_created_ms");
    auto convs = ctx.db.exec(kUserConversations, {r.user_id});
    for (int i = 0; i < convs.rows(); ++i) r.conversations.push_back(convs.str(i, "id"));
  } catch (const std::exception& e) {
    log::error("ws_auth_db_failed", {{"error", e.what()}});
    return refuse(std::move(r), 503, "Service unavailable");
  }
  if (req.plan.kind == ResumePlan::Kind::kFetch) {
    try {
      r.fetched = fetch_missed(ctx.redis, req.plan.after);
    } catch (const std::exception& e) {
      log::warn("ws_replay_fetch_failed", {{"error", e.what()}});
      r.fetched = FetchedRange{};
      r.fetched->resync_reason = "replay_unavailable";
    }
  }
  return r;
}

std::vector<std::string> online_members(Context& ctx, const std::string& conversation_id) {
  std::vector<std::string> members;
  auto rows = ctx.db.exec(kConversationMembers, {conversation_id});
  for (int i = 0; i < rows.rows(); ++i) members.push_back(rows.str(i, "id"));
  if (members.empty()) return {};
  std::vector<std::string> args{"ZMSCORE", "presence:online"};
  args.insert(args.end(), members.begin(), members.end());
  redis::Reply scores = ctx.redis.command(args);
  std::vector<std::string> online;
  int64_t now = wall_ms();
  for (size_t i = 0; i < members.size() && i < scores.size(); ++i) {
    redis::Reply s = scores.element(i);
    if (s.is_nil()) continue;
    // A score is an expiry; a stale one belongs to a daemon that died and the sweep has not run yet.
    if (std::stod(s.str()) > static_cast<double>(now)) online.push_back(members[i]);
  }
  return online;
}

}  // namespace chat::realtime

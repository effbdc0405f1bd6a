// The blocking work of the daemon, off the loop thread: a small pool of threads, each with its own
// PostgreSQL and Redis connection, and the upgrade's authentication (JWT, session, user, membership,
// missed events for a resume). Results go back to the loop with EventLoop::post.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "core/context.hpp"
#include "realtime/resume.hpp"

namespace chat::realtime {

class WorkerPool {
 public:
  using Job = std::function<void(Context&)>;

  // `threads` threads named after `name` (the PostgreSQL application_name too).
  WorkerPool(const Config& config, std::string name, int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start();
  // Thread-safe. Jobs run in submission order on a one-thread pool (the ordered publishing lane).
  void submit(Job job);
  // Runs what is queued, then joins the threads.
  void stop();
  size_t pending() const;

 private:
  void run();

  const Config& config_;
  std::string name_;
  int threads_;
  std::vector<std::thread> workers_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
};

struct AuthRequest {
  uint64_t conn = 0;
  std::string token;
  ResumePlan plan;  // kFetch: read the missed entries from Redis
};

struct AuthResult {
  uint64_t conn = 0;
  int status = 0;  // 0: authenticated; else the HTTP status to refuse with (401, 403, 503)
  std::string detail;
  std::string user_id;
  std::string username;
  std::string session_id;
  int64_t session_created_ms = 0;  // wall clock: a revocation of every session spares those made after it
  std::vector<std::string> conversations;
  std::optional<FetchedRange> fetched;
};

// JWT (HS256, exp), then one query for user + session (the same SQL as domain/principal),
// then the user's conversations and, for a kFetch plan, the missed entries. Never throws.
AuthResult authenticate(Context& ctx, const AuthRequest& req);

// Of these session ids, the ones that may no longer hold a socket (revoked, or their user banned,
// suspended or deactivated), each with the reason for its force_disconnect.
std::vector<std::pair<std::string, std::string>> refused_sessions(Context& ctx, const std::vector<std::string>& ids);

// For a resume from `after` that the ring cannot serve: XINFO STREAM decides whether the id is still
// in the window and was ever issued, then XRANGE pages read everything newer. Throws RedisError.
FetchedRange fetch_missed(redis::Client& redis, StreamId after);

// Members of a conversation who are online anywhere (presence:online, see presence.hpp). Throws.
std::vector<std::string> online_members(Context& ctx, const std::string& conversation_id);

}  // namespace chat::realtime

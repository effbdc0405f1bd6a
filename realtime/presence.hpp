// Online/offline across tabs and daemons (docs/api.md#presence, user_status). Redis holds, per user, a sorted set
// presence:user:<uid> of daemon ids scored by expiry (now + 15 s, refreshed every 5 s by each daemon
// for its users), and presence:online (uid → latest expiry). Lua scripts claim the online and offline
// transitions atomically, so two daemons never both announce one; the winner stores the new state in
// PostgreSQL and then publishes user_status, so a client reading the user on that event sees it. (An
// offline comes at least 5 s after the last close, so an online and the next offline never cross.) When the user's last socket on a daemon closes, that daemon's
// entry is re-scored to now + 5 s and a check runs just after: `offline` goes out only when no entry is
// live, i.e. 5 s after the last close anywhere. Each daemon sweeps presence:online every 2 s for expired
// users, which covers a daemon that was killed. All Redis and PostgreSQL work runs on the ordered lane.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "realtime/event_loop.hpp"
#include "realtime/worker_pool.hpp"

namespace chat::realtime {

class Presence {
 public:
  static constexpr int64_t kTtlMs = 15'000;
  static constexpr int64_t kRefreshMs = 5'000;
  static constexpr int64_t kSweepMs = 2'000;
  static constexpr int64_t kOfflineGraceMs = 5'000;

  using UserList = std::function<std::vector<std::string>()>;

  // `lane` is a one-thread pool: presence jobs run in the order they were made.
  Presence(EventLoop& loop, WorkerPool& lane, std::string daemon_id, UserList local_users);

  void start();  // the refresh and sweep timers
  // The user's first socket on this daemon opened.
  void user_connected(const std::string& user_id);
  // The user's last socket on this daemon closed: offline in 5 s unless a socket is open somewhere.
  void user_disconnected(const std::string& user_id);
  // Asks Redis whether another daemon holds a live socket of the user, and calls `done` with the answer
  // on the loop thread (false when Redis does not answer).
  void held_elsewhere(const std::string& user_id, std::function<void(bool)> done);
  // Graceful stop: this daemon's users get the usual 5 s of grace, then the other daemons' sweeps
  // decide (they are online elsewhere, or offline).
  void shutdown(const std::vector<std::string>& users);

  // A unique id for this daemon process: host, pid and randomness.
  static std::string make_daemon_id();

 private:
  EventLoop& loop_;
  WorkerPool& lane_;
  std::string daemon_id_;
  UserList local_users_;
  std::unordered_map<std::string, uint64_t> pending_offline_;  // user → timer of the grace period
};

// The jobs, exposed for the integration tests' sake of naming; each runs on a worker thread.
namespace presence_jobs {
void announce_online(Context& ctx, const std::string& daemon_id, const std::string& user_id);
void local_gone(Context& ctx, const std::string& daemon_id, const std::string& user_id);
void check_offline(Context& ctx, const std::string& user_id);
void refresh(Context& ctx, const std::string& daemon_id, const std::vector<std::string>& user_ids);
void sweep(Context& ctx);
void release(Context& ctx, const std::string& daemon_id, const std::vector<std::string>& user_ids);
bool held_elsewhere(Context& ctx, const std::string& daemon_id, const std::string& user_id);
}  // namespace presence_jobs

}  // namespace chat::realtime

// The Redis wire format of the whole backend, defined once: every key and channel name, the entries of
// the events and jobs streams, the ephemeral envelope, the revocation message, and the queue statistics
// that /metrics and `chat-worker --stats` both show. The handlers, the realtime daemons and the workers
// use only this file to talk about Redis data; docs/events.md describes exactly what is here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chat::redis {
class Client;
class Reply;
}  // namespace chat::redis

namespace chat::stream {

// ---- keys and channels ---------------------------------------------------------------------------

inline constexpr const char* kEvents = "chat:events";            // stream of events for the sockets (§1)
inline constexpr const char* kJobs = "chat:jobs";                // stream of background jobs (§2)
inline constexpr const char* kGroup = "workers";                 // the jobs stream's consumer group
inline constexpr const char* kDelayed = "chat:jobs:delayed";     // sorted set: encoded job, score = run-at ms
inline constexpr const char* kDead = "chat:jobs:dead";           // dead-letter stream
inline constexpr const char* kDone = "chat:metrics:jobs:done";   // job counters since the data set was created
inline constexpr const char* kRetried = "chat:metrics:jobs:retried";
inline constexpr const char* kDeadLettered = "chat:metrics:jobs:dead_lettered";
inline constexpr const char* kByType = "chat:metrics:jobs:by_type";  // hash "<type>:<outcome>" -> count
inline constexpr const char* kSchedPrefix = "chat:sched:";       // + "<name>:<period number>": a period's claim
inline constexpr const char* kSchedRuns = "chat:sched:runs";     // list of run records (below), newest first
inline constexpr const char* kSchedLast = "chat:sched:last";     // hash name -> its last run record
// (A run record: "<name> <period> <consumer> <ms> ok|failed <duration ms>".)
inline constexpr const char* kPresence = "presence:online";      // sorted set user id -> expiry ms
inline constexpr const char* kPresenceUserPrefix = "presence:user:";  // + user id: sorted set daemon -> expiry ms
inline constexpr const char* kPresenceSwept = "chat:presence:swept_ms";  // string: the worker's last sweep, ms
inline constexpr const char* kEphemeral = "chat:ephemeral";      // pub/sub: typing, receipts, presence (§3)
inline constexpr const char* kRevoked = "chat:sessions:revoked";  // pub/sub: revoked sessions (§4)
// pub/sub: a user's role or username changed; the message is the user's id. The handlers' principal caches
// drop that user (revocations, above, drop theirs too).
inline constexpr const char* kUserChanged = "chat:users:changed";
inline constexpr const char* kHeartbeatWorker = "chat:heartbeat:worker";  // sorted set instance -> last beat ms
inline constexpr const char* kHeartbeatRealtime = "chat:heartbeat:realtime";
inline constexpr const char* kHttpMetrics = "chat:metrics:http";  // hash "<kind>|<program>|<label>" -> count
inline constexpr const char* kSendRatePrefix = "rl:send:";  // + user id: string, the send bucket's GCRA time (µs)
// + user id: string, the primary's WAL position after the user's last write, with a TTL (core/replica.hpp).
inline constexpr const char* kReadYourWritesPrefix = "chat:ryw:";
std::string read_your_writes_key(std::string_view user_id);
// Only with CHAT_WORKER_TEST_JOBS=1: the test jobs' records, + "ran:<key>:<job id>", "done:<key>",
// "runs:<key>", "by:<key>", "attempts:<key>" (docs/worker.md); the integration tests read them.
inline constexpr const char* kTestPrefix = "chat:test:";

// A safety cap of the events stream only: the worker trims it to its replay window (10 min, 100 000 events).
inline constexpr const char* kEventsCap = "1000000";

std::string presence_user_key(std::string_view user_id);
std::string send_rate_key(std::string_view user_id);

// ---- stream entries ------------------------------------------------------------------------------

// A stream entry id "<ms>-<seq>", ordered numerically (not as text).
struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;

  // "0", "0-0", "1795307486388" (seq 0) and "1795307486388-7"; nullopt for anything else.
  static std::optional<StreamId> parse(std::string_view text);
  std::string str() const { return std::to_string(ms) + "-" + std::to_string(seq); }
  bool zero() const { return ms == 0 && seq == 0; }
  auto operator<=>(const StreamId&) const = default;
};

// Who receives an event (the realtime daemons route by it; the outbox table's CHECK lists the same names).
enum class Audience : uint8_t {
  kConversation,  // every member of conversation_id at the time of the event (+ extra user_ids)
  kEveryone,      // every connected user (a public channel_created)
  kUsers,         // only the listed user_ids
};
const char* audience_name(Audience a);
// Unknown names are kConversation, the narrowest audience that still has a conversation to check.
Audience parse_audience(std::string_view name);

// User ids as the entries carry them: "a,b,c" (no spaces; empty for none).
std::string join_ids(const std::vector<std::string>& ids);
std::vector<std::string> split_ids(std::string_view list);

// One entry of chat:events or chat:jobs as the outbox relay appends it. Both streams have these fields;
// a job's `type` names the job and its payload is the job's own JSON.
struct Entry {
  std::string type;
  std::string conversation_id;  // "" when none
  Audience audience = Audience::kConversation;
  std::vector<std::string> user_ids;  // extra recipients, or the only ones for kUsers
  std::string payload;                // JSON object text: the client's event (without event_id) or the job
  std::string outbox_id;              // the outbox row: readers drop an id they saw before (a relay retried)
};
using Fields = std::vector<std::pair<std::string, std::string>>;

// The XADD command appending `e` to `stream` (kEvents is capped at kEventsCap).
std::vector<std::string> xadd(const char* stream, const Entry& e);
// An entry from its field/value pairs; nullopt when the payload is not a JSON object.
std::optional<Entry> parse_entry(const std::map<std::string, std::string>& fields);

// ---- pub/sub messages ----------------------------------------------------------------------------

// A message of chat:ephemeral: a signal for the sockets that is not kept anywhere.
struct Ephemeral {
  std::string type;
  std::string conversation_id;                // the conversation's members (but except_user_id)
  std::vector<std::string> user_ids;          // non-empty: only these users
  std::vector<std::string> conversation_ids;  // non-empty: users sharing one of these (user_status)
  std::string except_user_id;                 // never to this user (the typist, the user whose status it is)
  std::string payload;                        // the client's JSON object text
};
// The type of the message between realtime daemons that ends a user's typing everywhere (user_ids = the
// user whose last socket anywhere closed, empty payload); never delivered to a socket.
inline constexpr const char* kUserGone = "user_gone";
std::string encode(const Ephemeral& e);
// False when `text` is not an ephemeral message (not JSON, or no payload object).
bool parse(std::string_view text, Ephemeral& out);

// A message of chat:sessions:revoked: the session's sockets close. session_id "*" is every session of
// the user created before the message (a ban).
inline constexpr const char* kAllSessions = "*";
struct Revocation {
  std::string session_id;  // kAllSessions: every session of user_id
  std::string user_id;
  std::string reason;  // the close reason the sockets get; "session_revoked" when the message has none

  bool every_session() const { return session_id == kAllSessions; }
};
std::string encode(const Revocation& r);
// nullopt for anything but a JSON object naming a session (a string), or "*" with a user.
std::optional<Revocation> parse_revocation(std::string_view text);

// ---- the job queue's statistics ------------------------------------------------------------------

struct ConsumerStats {
  std::string name;
  int64_t pending = 0;  // taken, not acked yet
  int64_t idle_ms = 0;
};

struct QueueStats {
  int64_t depth = 0;    // entries in chat:jobs (waiting + in flight; acked jobs are deleted)
  int64_t pending = 0;  // in flight
  std::vector<ConsumerStats> consumers;
  int64_t delayed = 0;
  int64_t dead = 0;
  int64_t done = 0, retried = 0, dead_lettered = 0;
  std::map<std::string, std::map<std::string, int64_t>> by_type;  // type -> outcome -> count
  std::optional<int64_t> oldest_age_ms;                           // of the oldest entry in chat:jobs
  std::optional<int64_t> next_delayed_in_ms;                      // until the first delayed job is due
  std::vector<std::string> periodic;                              // chat:sched:last records, sorted
  int64_t now_ms = 0;                                             // Redis's clock when read
};
// Every figure in one pipelined round trip. Throws RedisError (also for a reply of the wrong shape).
QueueStats queue_stats(redis::Client& redis);

}  // namespace chat::stream

// Events and jobs through the transactional outbox: written in the same transaction as the change,
// appended to their Redis stream after commit (core/stream.hpp has the entries, docs/events.md the order).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/db.hpp"
#include "core/json.hpp"
#include "core/stream.hpp"

namespace chat::domain {

using stream::Audience;

struct Event {
  std::string type;             // "new_message", ...
  std::string conversation_id;  // "" when none
  Audience audience = Audience::kConversation;
  std::vector<std::string> user_ids;  // extra recipients (e.g. the user who left), or the only ones for kUsers
  json::Value payload;                // the event as the client sees it, without event_id
};

// Collects the outbox rows of one transaction and relays their conversations after commit.
class Outbox {
 public:
  // Appends an event row; `payload` gets its `type` and `timestamp` here.
  void event(db::Transaction& tx, Event e);
  // Appends a background job for the worker (stream chat:jobs).
  void job(db::Transaction& tx, const std::string& type, const std::string& conversation_id, json::Value payload);
  // After commit: appends the pending rows of the touched conversations to Redis, in order. Never throws;
  // when Redis is down, or this thread's relays are paused (RelayMemo::paused), the rows stay for the worker's
  // relay.
  void relay(Context& ctx);

 private:
  std::set<std::string> conversations_;  // "" for rows of no conversation
};

// Relays the pending outbox rows of one conversation ("" for the rows of none), oldest first and at most
// kRelayPage of them: returns how many were appended, -1 on failure (the rows stay). Never throws.
inline constexpr int kRelayPage = 500;
// The rule that keeps a Redis failover from losing an event: with REDIS_WAIT_REPLICAS = `required` > 0 the
// relay's XADDs are followed by WAIT, and the rows are deleted only when WAIT's reply (`acked`, nullopt when
// it was an error) counts at least `required` replicas. Otherwise they stay and are relayed again; the
// readers drop the repeated outbox ids (realtime/stream_event.cpp) and a repeated mention job inserts nothing twice (ON CONFLICT in worker/jobs.cpp).
bool may_delete_after_wait(std::optional<int64_t> acked, int required);

// What a relaying thread remembers while its WAITs come back short (no replica has caught up: after a failover
// the promoted master may have none until the old one rejoins). Rows it already appended on its current Redis
// connection are not appended again (WAIT counts every earlier write of the connection, so a later WAIT that
// succeeds covers them too), which keeps the stream from filling with copies; and the next WAIT is short, because
// the conversation's lock is held while it waits and the sends of that conversation queue behind it. A WAIT that
// succeeds ends both.
class RelayMemo {
 public:
  // Which connection an append went to: the Client, and its Client::opens() at the time.
  struct Connection {
    const void* client = nullptr;
    uint64_t opens = 0;
    bool operator==(const Connection&) const = default;
  };
  static constexpr int kShortWaitMs = 20;
  // After a short WAIT the sends of this thread leave their rows to the worker's relay (once a second) for this
  // long, then try again: a send that relays takes the conversation's lock and every pending row of it, and with
  // no replica to wait for that is the whole, growing backlog on every send.
  static constexpr int64_t kPauseMs = 1000;
  static constexpr size_t kMaxRows = 100'000;  // past this it forgets (rows are appended again: copies, no loss)

  bool needs_append(int64_t outbox_id, Connection on) const;
  void appended(int64_t outbox_id, Connection on, const std::string& conversation_id);
  void deleted(int64_t outbox_id) { appended_.erase(outbox_id); }
  // Where the conversation's next relay page starts while WAITs come back short: after the newest row appended on
  // `on`. Without it every relay would take the same oldest page again (the rows stay until a replica has them),
  // and past one page of waiting rows nothing newer would reach the stream. 0 otherwise (from the oldest row).
  int64_t resume_after(const std::string& conversation_id, Connection on) const;
  // A relay of the conversation committed: the next one starts from its oldest row again.
  void caught_up(const std::string& conversation_id) { high_.erase(conversation_id); }
  // WAIT's timeout: the configured one, or kShortWaitMs after a WAIT that came back short.
  int wait_timeout_ms(int configured) const;
  void waited(bool enough, int64_t now_ms) {
    short_ = !enough;
    short_at_ms_ = now_ms;
  }
  // Whether a send's relay should be left to the worker now.
  bool paused(int64_t now_ms) const { return short_ && now_ms - short_at_ms_ < kPauseMs; }
  size_t size() const { return appended_.size(); }

 private:
  struct High {
    int64_t id = 0;
    Connection on;
  };
  std::unordered_map<int64_t, Connection> appended_;
  std::unordered_map<std::string, High> high_;  // conversation → newest row appended, and where
  bool short_ = false;
  int64_t short_at_ms_ = 0;
};
int relay_conversation(Context& ctx, const std::string& conversation_id);

// The same relay in two parts, for a caller whose commit carries the relay's first flight
// (db::Connection::exec_committed_then: the send). relay_flight: the calls that take the conversation's lock
// and rows in an open transaction; none while this thread's relays are paused (RelayMemo::paused: the rows wait
// for the worker's relay). relay_after_commit: appends what they took and commits, or logs why not (the rows
// stay for the next relay). Never throws.
std::vector<db::Call> relay_flight(Context& ctx, const std::string& conversation_id);
void relay_after_commit(Context& ctx, const std::string& conversation_id, db::Connection::CommittedThen& sent);

// The conversations ("" for none) that have pending rows, the one with the oldest row first.
std::vector<std::string> pending_conversations(Context& ctx, int limit);

// The client-facing event text: `type` first, the payload's fields, `timestamp` last.
std::string stamped(const std::string& type, const json::Value& payload);

// Publishes an ephemeral signal (typing, read receipts, presence) on the Redis channel chat:ephemeral.
void publish_ephemeral(Context& ctx, const std::string& type, const std::vector<std::string>& user_ids,
                       const std::string& conversation_id, json::Value payload);

}  // namespace chat::domain

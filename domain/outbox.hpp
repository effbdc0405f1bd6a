// Events and jobs through the transactional outbox: written in the same transaction as the change,
// appended to their Redis stream after commit (docs/events.md has the stream format).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/db.hpp"
#include "core/json.hpp"

namespace chat::domain {

// Who receives an event (the realtime daemons route by it).
enum class Audience {
  kConversation,  // every member of conversation_id at the time of the event (+ extra user_ids)
  kEveryone,      // every connected user (a public channel_created)
  kUsers,         // only the listed user_ids
};

struct Event {
  std::string type;             // "new_message", ...
  std::string conversation_id;  // "" when none
  Audience audience = Audience::kConversation;
  std::vector<std::string> user_ids;  // extra recipients (e.g. the user who left), or the only ones for kUsers
  json::Value payload;                // the event as the client sees it, without event_id
};

// Collects the outbox rows of one transaction and relays their shards after commit.
class Outbox {
 public:
  // Appends an event row; `payload` gets its `type` and `timestamp` here.
  void event(db::Transaction& tx, Event e);
  // Appends a background job for the worker (stream chat:jobs).
  void job(db::Transaction& tx, const std::string& type, const std::string& conversation_id, json::Value payload);
  // After commit: appends the pending rows of the touched shards to Redis, in order. Never throws;
  // when Redis is down the rows stay for the worker's relay.
  void relay(Context& ctx);

 private:
  std::set<int> shards_;
};

// Relays every pending outbox row of one shard (0-15); returns how many were appended, -1 on failure.
int relay_shard(Context& ctx, int shard);

// The outbox shard of a conversation: its first hex digit (0 for none).
int shard_of(const std::string& conversation_id);

// Publishes an ephemeral signal (typing, read receipts, presence) on the Redis channel chat:ephemeral.
void publish_ephemeral(Context& ctx, const std::string& type, const std::vector<std::string>& user_ids,
                       const std::string& conversation_id, json::Value payload);

// The Redis keys of the streams and channels.
extern const char* const kEventsStream;
extern const char* const kJobsStream;
extern const char* const kEphemeralChannel;

}  // namespace chat::domain

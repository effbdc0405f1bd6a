// Events and jobs through the transactional outbox: written in the same transaction as the change,
// appended to their Redis stream after commit (core/stream.hpp has the entries, docs/events.md the order).
#pragma once

#include <map>
#include <set>
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

// A row the caller wrote itself (in SQL of its own, e.g. the send's single statement), with the entry it
// holds (`entry.outbox_id` is the row's id): the relay then appends it without reading its payload back
// from PostgreSQL.
struct WrittenRow {
  const char* stream;  // stream::kEvents or stream::kJobs
  stream::Entry entry;
};

// Collects the outbox rows of one transaction and relays their conversations after commit.
class Outbox {
 public:
  // Appends an event row; `payload` gets its `type` and `timestamp` here.
  void event(db::Transaction& tx, Event e);
  // Appends a background job for the worker (stream chat:jobs).
  void job(db::Transaction& tx, const std::string& type, const std::string& conversation_id, json::Value payload);
  // Rows written by the caller's own statement.
  void written(WrittenRow row);
  // After commit: appends the pending rows of the touched conversations to Redis, in order. Never throws;
  // when Redis is down the rows stay for the worker's relay.
  void relay(Context& ctx);

 private:
  std::set<std::string> conversations_;      // "" for rows of no conversation
  std::map<std::string, WrittenRow> known_;  // outbox id -> its entry
};

// Relays the pending outbox rows of one conversation ("" for the rows of none), oldest first and at most
// kRelayPage of them: returns how many were appended, -1 on failure (the rows stay). `known` gives the
// entries of rows whose payload the caller has already. Never throws.
inline constexpr int kRelayPage = 500;
int relay_conversation(Context& ctx, const std::string& conversation_id,
                       const std::map<std::string, WrittenRow>* known = nullptr);

// The conversations ("" for none) that have pending rows, the one with the oldest row first.
std::vector<std::string> pending_conversations(Context& ctx, int limit);

// The client-facing event text: `type` first, the payload's fields, `timestamp` last.
std::string stamped(const std::string& type, const json::Value& payload);

// Publishes an ephemeral signal (typing, read receipts, presence) on the Redis channel chat:ephemeral.
void publish_ephemeral(Context& ctx, const std::string& type, const std::vector<std::string>& user_ids,
                       const std::string& conversation_id, json::Value payload);

}  // namespace chat::domain

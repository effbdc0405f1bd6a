// Entries of the chat:events stream as the daemon keeps them: the routing fields of core/stream's Entry,
// the payload with its event_id spliced in, the WebSocket frame encoded once; and the ring of recent entries.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/stream.hpp"

namespace chat::redis {
class Reply;
}

namespace chat::realtime {

// One encoded server frame, shared by every socket it is queued on (never copied per recipient).
using Frame = std::shared_ptr<const std::string>;
Frame make_text_frame(std::string_view json_text);

// The wire format's names, so the daemon reads the same as before core/stream defined them.
using stream::Audience;
using stream::StreamId;

struct StreamEvent {
  StreamId id;
  std::string id_text;          // as Redis wrote it: the event_id clients see
  std::string type;             // new_message, user_joined, ...
  std::string conversation_id;  // "" when none
  Audience audience = Audience::kConversation;
  std::vector<std::string> user_ids;  // extra recipients, or the only ones for kUsers
  std::string outbox_id;
  bool duplicate = false;   // an outbox row relayed twice: keeps its place in the order, never delivered
  std::string payload;      // the client's JSON, event_id included
  Frame frame;              // payload as a text frame
  int64_t received_ms = 0;  // when the daemon read it (the ring's age bound)

  bool names_user(std::string_view user_id) const;
  // user_joined / user_left / conversation_created / channel_created that name `user_id` in user_ids.
  bool changes_membership_of(std::string_view user_id) const;
  bool adds_members() const;     // user_joined, conversation_created, channel_created
  bool removes_members() const;  // user_left
};
using EventPtr = std::shared_ptr<const StreamEvent>;

// Adds "event_id" to a JSON object text without re-serializing it: `{"a":1}` → `{"a":1,"event_id":"X"}`.
std::string splice_event_id(std::string_view payload, std::string_view event_id);

// Builds an event from an entry's id and field/value pairs (stream::parse_entry); nullopt when the id is
// not a stream id or the payload is not a JSON object.
std::optional<StreamEvent> make_event(std::string_view id, const std::map<std::string, std::string>& fields,
                                      int64_t now_ms);

// Appends the entries of an XRANGE reply ([[id, [field, value, ...]], ...]) to `out`; returns how
// many were read (malformed entries are skipped but still counted, so paging goes on).
size_t parse_entries(const redis::Reply& entries, int64_t now_ms, std::vector<std::shared_ptr<StreamEvent>>& out,
                     StreamId* last_seen);

// The recent entries, oldest first, bounded by count and age: every entry with id > floor() that
// the daemon has read is in here, so a resume from an id ≥ floor() needs no Redis round trip.
class EventRing {
 public:
  EventRing(size_t max_events, int64_t max_age_ms) : max_events_(max_events), max_age_ms_(max_age_ms) {}

  // Empties the ring: the stream position is `start` (the newest entry when the daemon started).
  void reset(StreamId start);
  // Appends (ids only grow) and evicts past the bounds. Marks an outbox id seen before as duplicate.
  void push(const std::shared_ptr<StreamEvent>& e, int64_t now_ms);
  void expire(int64_t now_ms);

  StreamId floor() const { return floor_; }
  StreamId newest() const { return newest_; }
  bool covers(StreamId after) const { return after >= floor_; }
  // True when `id` is floor() or an entry of the ring (an id this daemon saw issued).
  bool knows(StreamId id) const;
  // Entries with id > `after`, oldest first.
  std::vector<EventPtr> after(StreamId after) const;
  size_t size() const { return events_.size(); }

 private:
  void evict_front();

  size_t max_events_;
  int64_t max_age_ms_;
  StreamId floor_;
  StreamId newest_;
  std::deque<EventPtr> events_;
  std::map<std::string, int> outbox_ids_;  // outbox id → entries holding it, for duplicate detection
};

// What the stream reader found when its connection was reopened (a Redis restart, a Sentinel failover): whether
// the entry it read last is still in the stream, and the ids of the entries before it (the newest first, a bounded
// number). Redis replicates asynchronously, so a promoted replica may lack the newest entries the old master had.
struct StreamCheck {
  StreamId last;
  bool last_present = true;
  std::vector<StreamId> before;
};

// True when a socket of this daemon could have missed an event, so each is told resync_required:
// - an entry before `last` that this daemon never read (a new master whose clock is behind wrote it; the
//   reader, which goes on after `last`, would skip it);
// - `last` itself gone when the relay does not wait for replicas (REDIS_WAIT_REPLICAS=0): newer entries the daemon
//   had not read yet may be gone for good. With WAIT an entry is deleted from the outbox only once a replica has
//   it, so what the new master lacks is relayed again (and dropped here as a duplicate when it was delivered).
bool could_have_missed(const StreamCheck& check, const EventRing& ring, bool relay_waits_for_replicas);

}  // namespace chat::realtime

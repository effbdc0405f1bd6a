// Resume after a reconnect (docs/api.md#resume): where the missed events come from, and which of them the user
// would have received, with membership as it was when each event happened. Pure functions.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "realtime/stream_event.hpp"

namespace chat::realtime {

struct ResumePlan {
  enum class Kind { kNone, kRing, kFetch, kResync };
  Kind kind = Kind::kNone;
  StreamId after;      // kRing, kFetch: replay entries newer than this
  std::string reason;  // kResync
};

// resync_required reasons.
inline constexpr const char* kResyncTooOld = "event_id_too_old";
inline constexpr const char* kResyncUnknown = "unknown_event_id";
// The Redis stream changed under the daemon (a failover to a replica that lacked entries): see could_have_missed.
inline constexpr const char* kResyncStreamChanged = "stream_changed";

// Decides from the loop's own knowledge: no last_event_id → kNone; not a stream id → kResync;
// an id the ring covers → kRing when the ring saw it issued, else kResync (never issued); an id the
// ring does not cover (older than it, or newer than `position`) → kFetch: the auth worker asks Redis.
ResumePlan plan_resume(const std::optional<std::string>& last_event_id, const EventRing& ring, StreamId position);

// What the auth worker learnt from Redis for a kFetch plan.
struct FetchedRange {
  std::string resync_reason;    // non-empty: send resync_required instead of a replay
  std::vector<EventPtr> events;  // entries newer than the plan's id, oldest first
  StreamId upto;                 // every entry up to this id was read (the stream's newest at the time)
};

// The candidate events for a replay up to `position` (the loop's stream position when the socket is
// registered): the fetched range, topped up from the ring. Sets *resync_reason instead when the two do
// not meet (the ring lost entries the fetch did not get).
std::vector<EventPtr> replay_candidates(const ResumePlan& plan, const FetchedRange* fetched, const EventRing& ring,
                                        StreamId position, std::string* resync_reason);

// The events of `candidates` (oldest first) that `user_id` would have received had it stayed
// connected, in order, each once. `membership_now` is the user's membership after the newest
// candidate; walking backwards, the user's own joins and leaves are undone so each event is judged
// by the membership of its time. Duplicates (same outbox id) are dropped.
std::vector<EventPtr> replay_for(const std::string& user_id, std::set<std::string> membership_now,
                                 const std::vector<EventPtr>& candidates);

}  // namespace chat::realtime

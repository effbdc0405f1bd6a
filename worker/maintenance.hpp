// Periodic upkeep jobs: outbox relay, presence sweep, expiry of sessions and keys, events stream trim.
#pragma once

#include <cstdint>
#include <string>

#include "worker/jobs.hpp"

namespace chat::worker {

// The replay window of chat:events (docs/api.md#resume, docs/events.md §1): never trimmed below either bound.
inline constexpr int64_t kEventsKeepEntries = 100000;
inline constexpr int64_t kEventsKeepMs = 10 * 60 * 1000;

// The MINID bound of the time window: "<now - keep>-0".
std::string events_min_id(int64_t now_ms, int64_t keep_ms);

// Relays every conversation that has outbox rows, the one with the oldest row first.
void outbox_relay(JobContext& jc);
// Users whose presence:online score (expiry ms) has passed: is_online = false, last_seen_at = now().
void presence_sweep(JobContext& jc);
// Refresh tokens expired or used over 30 days ago; sessions revoked over 30 days ago.
void session_cleanup(JobContext& jc);
// Send idempotency keys older than 24 h.
void idempotency_cleanup(JobContext& jc);
// XTRIM chat:events MINID past both bounds of the replay window.
void events_trim(JobContext& jc);
// Consumers of the group with nothing pending and idle for an hour (workers that are gone).
void consumers_cleanup(JobContext& jc);

}  // namespace chat::worker

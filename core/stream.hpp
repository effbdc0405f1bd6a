// Redis key names of the job queue, its counters and the scheduler (shared with chat-system's /metrics).
#pragma once

namespace chat::stream {

inline constexpr const char* kJobs = "chat:jobs";                // the stream of jobs (docs/events.md §2)
inline constexpr const char* kGroup = "workers";                 // its consumer group
inline constexpr const char* kDelayed = "chat:jobs:delayed";     // sorted set: encoded job, score = run-at ms
inline constexpr const char* kDead = "chat:jobs:dead";           // dead-letter stream
inline constexpr const char* kDone = "chat:metrics:jobs:done";   // counters since the data set was created
inline constexpr const char* kRetried = "chat:metrics:jobs:retried";
inline constexpr const char* kDeadLettered = "chat:metrics:jobs:dead_lettered";
inline constexpr const char* kByType = "chat:metrics:jobs:by_type";  // hash "<type>:<outcome>" -> count
inline constexpr const char* kSchedPrefix = "chat:sched:";       // + "<name>:<period number>": the claim
inline constexpr const char* kSchedRuns = "chat:sched:runs";     // list of "<name> <period> <consumer> <ms>", newest first
inline constexpr const char* kSchedLast = "chat:sched:last";     // hash name -> "<period> <consumer> <ms>"
inline constexpr const char* kPresence = "presence:online";      // sorted set user id -> expiry ms (realtime daemons)
inline constexpr const char* kPresenceSwept = "chat:presence:swept_ms";
inline constexpr const char* kEvents = "chat:events";

}  // namespace chat::stream

// A resume the ring cannot serve (docs/api.md#resume): the missed entries read from the chat:events stream itself,
// or the reason a replay would have a gap. Runs on a worker thread.
#pragma once

#include "core/redis.hpp"
#include "realtime/resume.hpp"

namespace chat::realtime {

// XINFO STREAM decides whether `after` is still in the window and was ever issued, then XRANGE pages
// read everything newer. Throws RedisError.
FetchedRange fetch_missed(redis::Client& redis, StreamId after);

}  // namespace chat::realtime

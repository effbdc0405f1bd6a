// The missed entries of a resume from Redis: XINFO STREAM for the window's edges (what was trimmed or
// deleted, what was ever issued), then XRANGE pages, bounded so a huge gap becomes a resync instead.
#include "realtime/replay_fetch.hpp"

#include <algorithm>

#include "core/stream.hpp"
#include "realtime/event_loop.hpp"

namespace chat::realtime {
namespace {

constexpr size_t kPage = 1000;
// The contract's window is 10 minutes and at least 100 000 events; past twice that a resync is cheaper.
constexpr size_t kMaxReplay = 200'000;

}  // namespace

FetchedRange fetch_missed(redis::Client& redis, StreamId after) {
  FetchedRange out;
  out.upto = after;
  redis::Reply info = redis.command({"XINFO", "STREAM", stream::kEvents});
  if (info.is_error()) {  // no stream at all: only "0" was ever handed out
    if (!after.zero()) out.resync_reason = kResyncUnknown;
    return out;
  }
  StreamId last_generated, max_deleted, first_entry;
  bool has_first = false;
  int64_t length = 0, entries_added = -1;
  for (size_t i = 0; i + 1 < info.size(); i += 2) {
    std::string key = info.element(i).str();
    redis::Reply v = info.element(i + 1);
    if (key == "last-generated-id") {
      last_generated = StreamId::parse(v.str()).value_or(StreamId{});
    } else if (key == "max-deleted-entry-id") {  // Redis ≥ 7.0; XDEL moves it, trimming may not
      max_deleted = StreamId::parse(v.str()).value_or(StreamId{});
    } else if (key == "first-entry" && v.is_array() && v.size() == 2) {
      first_entry = StreamId::parse(v.element(0).str()).value_or(StreamId{});
      has_first = true;
    } else if (key == "length") {
      length = v.integer();
    } else if (key == "entries-added") {
      entries_added = v.integer();
    }
  }
  if (after > last_generated) {
    out.resync_reason = kResyncUnknown;
    return out;
  }
  if (after == last_generated) return out;  // nothing was missed (even if that entry is gone)
  // Entries newer than the id were trimmed away: a replay would have a gap.
  const bool trimmed = entries_added < 0 || entries_added > length;
  const bool too_old = (!max_deleted.zero() && after <= max_deleted) ||
                       (trimmed && (!has_first || after < first_entry));
  if (too_old) {
    out.resync_reason = kResyncTooOld;
    return out;
  }
  if (!after.zero()) {
    redis::Reply exact = redis.command({"XRANGE", stream::kEvents, after.str(), after.str(), "COUNT", "1"});
    if (exact.size() == 0) {
      out.resync_reason = kResyncUnknown;
      return out;
    }
  }
  StreamId cursor = after;
  int64_t now = monotonic_ms();
  for (;;) {
    redis::Reply page =
        redis.command({"XRANGE", stream::kEvents, "(" + cursor.str(), "+", "COUNT", std::to_string(kPage)});
    if (page.is_error()) throw redis::RedisError("XRANGE refused: " + page.str());
    std::vector<std::shared_ptr<StreamEvent>> entries;
    size_t n = parse_entries(page, now, entries, &cursor);
    out.events.insert(out.events.end(), entries.begin(), entries.end());
    if (out.events.size() > kMaxReplay) {
      out.events.clear();
      out.resync_reason = kResyncTooOld;
      return out;
    }
    if (n < kPage) break;
  }
  // Everything up to the newest id XINFO saw existed then, and XRANGE read past it.
  out.upto = std::max(cursor, last_generated);
  return out;
}

}  // namespace chat::realtime

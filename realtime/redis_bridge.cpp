// The two Redis reader threads. Errors are logged and retried after a pause: the daemon outlives a
// Redis restart (pub/sub messages sent meanwhile are lost; the stream is re-read from the last id).
#include "realtime/redis_bridge.hpp"

#include <chrono>

#include "core/log.hpp"
#include "core/stream.hpp"

namespace chat::realtime {
namespace {

// Under hiredis' 1 s socket timeout (core/redis.cpp), so a quiet stream never looks like a dead link.
constexpr const char* kBlockMs = "500";
constexpr const char* kBatch = "1000";
// Entries before the last one read that a reopened reader checks against the ring: a new master writes at most a
// failover's worth of entries below the old position (its clock behind the old master's).
constexpr int kCheckDepth = 1000;

}  // namespace

RedisBridge::RedisBridge(redis::Target redis, EventLoop& loop, EventHandler on_events, MessageHandler on_messages,
                         CheckHandler on_reopened)
    : target_(std::move(redis)),
      loop_(loop),
      on_events_(std::move(on_events)),
      on_messages_(std::move(on_messages)),
      on_reopened_(std::move(on_reopened)) {}

RedisBridge::~RedisBridge() { stop(); }

StreamId RedisBridge::newest_event_id(redis::Client& redis) {
  redis::Reply r = redis.command({"XREVRANGE", stream::kEvents, "+", "-", "COUNT", "1"});
  if (r.is_error()) throw redis::RedisError("XREVRANGE refused: " + r.str());
  if (r.size() == 0) return StreamId{};
  return StreamId::parse(r.element(0).element(0).str()).value_or(StreamId{});
}

StreamCheck RedisBridge::check_stream(redis::Client& redis, StreamId last, int count) {
  StreamCheck check;
  check.last = last;
  std::vector<redis::Reply> r =
      redis.pipeline({{"XRANGE", stream::kEvents, last.str(), last.str()},
                      {"XREVRANGE", stream::kEvents, "(" + last.str(), "-", "COUNT", std::to_string(count)}});
  for (const redis::Reply& x : r) {
    if (x.is_error()) throw redis::RedisError("XRANGE refused: " + x.str());
  }
  check.last_present = r[0].size() > 0;
  for (size_t i = 0; i < r[1].size(); ++i) {
    if (auto id = StreamId::parse(r[1].element(i).element(0).str())) check.before.push_back(*id);
  }
  return check;
}

void RedisBridge::start(StreamId from) {
  stopping_ = false;
  stream_thread_ = std::thread([this, from] { read_stream(from); });
  pubsub_thread_ = std::thread([this] { read_pubsub(); });
}

void RedisBridge::stop() {
  stopping_ = true;
  if (stream_thread_.joinable()) stream_thread_.join();
  if (pubsub_thread_.joinable()) pubsub_thread_.join();
}

bool RedisBridge::pause(int ms) {
  for (int waited = 0; waited < ms && !stopping_; waited += 50) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !stopping_;
}

void RedisBridge::read_stream(StreamId from) {
  redis::Client redis(target_);
  StreamId last = from;
  bool failing = false;
  uint64_t opens = 0;
  while (!stopping_) {
    try {
      redis::Reply r =
          redis.command({"XREAD", "COUNT", kBatch, "BLOCK", kBlockMs, "STREAMS", stream::kEvents, last.str()});
      if (r.is_error()) throw redis::RedisError("XREAD refused: " + r.str());
      if (failing) log::info("stream_reader_recovered", {{"last_id", last.str()}});
      failing = false;
      if (redis.opens() != opens) {
        // A new connection (not the first): the stream it reads may be another master's, whose history
        // differs from what this reader saw. The loop compares it with the ring.
        if (opens != 0 && !last.zero()) {
          StreamCheck check = check_stream(redis, last, kCheckDepth);
          if (!check.last_present) log::warn("stream_history_changed", {{"last_id", last.str()}});
          loop_.post([this, c = std::move(check)]() mutable { on_reopened_(std::move(c)); });
        }
        opens = redis.opens();
      }
      if (r.is_nil() || r.size() == 0) continue;  // BLOCK timed out
      // [[stream, [[id, [field, value, ...]], ...]]]
      // Mutable until the loop has put them in the ring (which marks outbox duplicates).
      EventBatch batch;
      parse_entries(r.element(0).element(1), monotonic_ms(), batch, &last);
      if (batch.empty()) continue;
      loop_.post([this, b = std::move(batch)]() mutable { on_events_(std::move(b)); });
    } catch (const std::exception& e) {
      if (!failing) log::error("stream_reader_failed", {{"call", "XREAD"}, {"error", e.what()}});
      failing = true;
      pause(500);
    }
  }
}

void RedisBridge::read_pubsub() {
  redis::Subscriber sub(target_);
  bool subscribed = false;
  bool failing = false;
  while (!stopping_) {
    try {
      if (!subscribed) {
        sub.subscribe({stream::kEphemeral, stream::kRevoked});
        subscribed = true;
        if (failing) log::info("pubsub_reader_recovered");
        failing = false;
      }
      auto m = sub.next(500);
      if (!m) continue;
      MessageBatch batch;
      batch.push_back(std::move(*m));
      // Whatever else is already buffered goes in the same hand-over.
      while (batch.size() < 256) {
        auto more = sub.next(0);
        if (!more) break;
        batch.push_back(std::move(*more));
      }
      loop_.post([this, b = std::move(batch)]() mutable { on_messages_(std::move(b)); });
    } catch (const std::exception& e) {
      if (!failing) log::error("pubsub_reader_failed", {{"call", "SUBSCRIBE"}, {"error", e.what()}});
      failing = true;
      subscribed = false;
      pause(500);
    }
  }
}

}  // namespace chat::realtime

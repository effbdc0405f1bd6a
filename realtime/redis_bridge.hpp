// Redis → loop: one thread reads chat:events with XREAD BLOCK, one SUBSCRIBEs chat:ephemeral and
// chat:sessions:revoked; each has its own hiredis connection and hands batches to the loop through
// EventLoop::post (a mutex queue + eventfd), so the loop thread never blocks on Redis.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/redis.hpp"
#include "realtime/event_loop.hpp"
#include "realtime/stream_event.hpp"

namespace chat::realtime {

class RedisBridge {
 public:
  using EventBatch = std::vector<std::shared_ptr<StreamEvent>>;
  using MessageBatch = std::vector<redis::Subscriber::Message>;
  // Run on the loop thread.
  using EventHandler = std::function<void(EventBatch)>;
  using MessageHandler = std::function<void(MessageBatch)>;
  // After the stream reader's connection was reopened (could_have_missed decides what it means).
  using CheckHandler = std::function<void(StreamCheck)>;

  RedisBridge(redis::Target redis, EventLoop& loop, EventHandler on_events, MessageHandler on_messages,
              CheckHandler on_reopened);
  ~RedisBridge();

  // The newest entry id of chat:events ("0-0" when the stream is empty or missing). Blocking: call it
  // before the loop runs. Throws RedisError.
  static StreamId newest_event_id(redis::Client& redis);
  // Whether `last` is still in chat:events, and the ids of up to `count` entries before it, newest first.
  static StreamCheck check_stream(redis::Client& redis, StreamId last, int count);

  // Starts both threads; the stream is read from the entry after `from`.
  void start(StreamId from);
  // Stops and joins both threads (each notices within half a second).
  void stop();

 private:
  void read_stream(StreamId from);
  void read_pubsub();
  // Sleeps up to `ms` unless stopping; false when stopping.
  bool pause(int ms);

  redis::Target target_;
  EventLoop& loop_;
  EventHandler on_events_;
  MessageHandler on_messages_;
  CheckHandler on_reopened_;
  std::atomic<bool> stopping_{false};
  std::thread stream_thread_;
  std::thread pubsub_thread_;
};

}  // namespace chat::realtime

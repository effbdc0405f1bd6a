// What an open socket sends, acted on by the loop: RFC 6455 control frames (§5.5) and protocol errors
// (§7.1.7), and the messages of docs/api.md#client-frames client_messages.hpp decides about — typing goes to
// the relay, get_online_users to a worker. Loop thread only.
#pragma once

#include <cstdint>
#include <string>

#include "realtime/connection.hpp"
#include "realtime/connection_table.hpp"
#include "realtime/event_loop.hpp"
#include "realtime/hub.hpp"
#include "realtime/metrics.hpp"
#include "realtime/typing_relay.hpp"
#include "realtime/worker_pool.hpp"

namespace chat::realtime {

class ClientFrames {
 public:
  ClientFrames(EventLoop& loop, ConnectionTable& table, Hub& hub, Metrics& metrics, TypingRelay& typing,
               WorkerPool& pool);

  // Handles every complete frame the connection's decoder holds (it may finish the connection).
  void process(Connection& c);

 private:
  void on_message(Connection& c, const std::string& text, bool binary);
  // Asks a worker who of the conversation is online, and answers on the loop.
  void answer_online_users(uint64_t conn_id, const std::string& conversation_id);

  EventLoop& loop_;
  ConnectionTable& table_;
  Hub& hub_;
  Metrics& metrics_;
  TypingRelay& typing_;
  WorkerPool& pool_;
};

}  // namespace chat::realtime

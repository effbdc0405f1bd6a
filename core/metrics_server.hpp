// A small HTTP listener of its own thread that answers GET /metrics with a page rendered on each request, for a
// program with no HTTP server of its own (chat-worker, on WORKER_METRICS_PORT). One connection at a time,
// Connection: close, a 2 s limit to read the request and write the answer: a scrape every few seconds is all it
// serves, and a stalled peer cannot hold it longer than that. (The realtime daemon answers /metrics in its own
// event loop, which must never block; it shares the page format and the path rule, core/prom_text.)
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "core/unique_fd.hpp"

namespace chat {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // Binds address:port (port 0: a free one, see port()) and starts serving. Throws std::runtime_error, naming
  // the address, when it cannot listen.
  MetricsServer(const std::string& address, int port, Render render);
  ~MetricsServer();  // stops and joins the thread
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }

 private:
  void run();
  void serve(int fd);

  Render render_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;  // an eventfd: the destructor's stop
  int port_ = 0;
  std::thread thread_;
};

// The answer to one HTTP request head (through its blank line): 200 with `render()` for GET /metrics, 405 for
// another method there, 404 elsewhere, 400 for what is no request line. Pure, for the unit tests.
std::string metrics_http_answer(const std::string& head, const MetricsServer::Render& render);

}  // namespace chat

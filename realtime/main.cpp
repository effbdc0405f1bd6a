// chat-realtime: the epoll WebSocket daemon (API.md §9).
// Usage: chat-realtime [--port N] [--socket PATH] (or REALTIME_PORT, REALTIME_SOCKET).
#include <signal.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/config.hpp"
#include "core/log.hpp"
#include "realtime/server.hpp"

int main(int argc, char** argv) {
  chat::log::set_program("chat-realtime");
  // Block the stop signals before any thread starts: every thread inherits the mask, and the loop
  // reads them from a signalfd. A peer that vanished must not kill the process with SIGPIPE.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // One descriptor per socket: take all the kernel allows (the soft limit is often 1024).
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  chat::realtime::ServerOptions options;
  if (const char* p = std::getenv("REALTIME_PORT")) options.port = std::atoi(p);
  if (const char* p = std::getenv("REALTIME_SOCKET")) options.unix_socket = p;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) options.port = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--socket") == 0 && i + 1 < argc) options.unix_socket = argv[++i];
  }
  if (options.port <= 0 || options.port > 65535) {
    chat::log::error("bad_port", {{"detail", "set REALTIME_PORT or pass --port N"}});
    return 2;
  }
  try {
    const chat::Config config = chat::load_config();
    chat::log::set_level(config.log_level);
    if (const char* t = std::getenv("REALTIME_AUTH_THREADS")) options.auth_threads = std::atoi(t);
    chat::realtime::Server server(config, options);
    return server.run();
  } catch (const chat::ConfigError& e) {
    for (const auto& p : e.problems()) chat::log::error("config_error", {{"problem", p}});
    return 2;
  } catch (const std::exception& e) {
    chat::log::error("fatal", {{"error", e.what()}});
    return 1;
  }
}

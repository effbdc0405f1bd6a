// chat-realtime: the epoll WebSocket daemon (docs/api.md#websocket).
// Usage: chat-realtime [--port N] [--socket PATH] (or REALTIME_PORT, REALTIME_SOCKET; core/config.hpp reads them).
#include <signal.h>
#include <sys/resource.h>

#include <string>
#include <string_view>

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

  chat::Config config;
  try {
    config = chat::load_config();
  } catch (const chat::ConfigError& e) {
    for (const auto& p : e.problems()) chat::log::error("config_error", {{"problem", p}});
    return 2;
  }
  chat::log::set_level(config.log_level);

  // The flags win over REALTIME_PORT and REALTIME_SOCKET, by the same rule for numbers as the settings.
  chat::realtime::ServerOptions options;
  options.port = config.realtime.port;
  options.unix_socket = config.realtime.unix_socket;
  options.auth_threads = config.realtime.auth_threads;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      auto port = chat::parse_int(argv[++i], 1, 65535);
      if (!port) {
        chat::log::error("bad_port", {{"detail", "--port must be an integer from 1 to 65535"}, {"got", argv[i]}});
        return 2;
      }
      options.port = static_cast<int>(*port);
    } else if (arg == "--socket" && i + 1 < argc) {
      options.unix_socket = argv[++i];
    }
  }
  if (options.port == 0) {
    chat::log::error("bad_port", {{"detail", "set REALTIME_PORT or pass --port N"}});
    return 2;
  }
  try {
    chat::realtime::Server server(config, options);
    return server.run();
  } catch (const std::exception& e) {
    chat::log::error("fatal", {{"error", e.what()}});
    return 1;
  }
}

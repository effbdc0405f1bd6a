// chat-worker: the background-job daemon (consumer pool + scheduler), or the operator command with --stats / --dead-letter.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics_server.hpp"
#include "worker/admin.hpp"
#include "worker/consumer.hpp"
#include "worker/metrics.hpp"
#include "worker/scheduler.hpp"

namespace {

using namespace chat;

constexpr auto kStopDeadline = std::chrono::seconds(9);  // SIGTERM: exit within 10 s whatever runs

// "host:pid": unique among the workers of one Redis, and says where to look.
std::string consumer_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "localhost");
  return std::string(host) + ":" + std::to_string(getpid());
}

// Waits for SIGTERM or SIGINT (blocked in every thread, so only this wait sees them).
int wait_for_stop(const sigset_t& set) {
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) == 0) return sig;
  }
}

int run_daemon() {
  Config config;
  try {
    config = load_config();
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "chat-worker: %s\n", e.what());
    return 2;
  }
  log::set_level(config.log_level);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread started below

  std::atomic<bool> stopping{false};
  std::atomic<int> running{0};
  worker::Metrics metrics;
  worker::Consumer consumer(config, consumer_name(), stopping, metrics);
  worker::Scheduler scheduler(config, consumer, stopping);
  std::optional<MetricsServer> metrics_server;
  if (config.worker.metrics_port > 0) {
    try {
      metrics_server.emplace("127.0.0.1", config.worker.metrics_port,
                             [&metrics, &consumer] { return metrics.render(consumer.in_flight().size()); });
    } catch (const std::runtime_error& e) {
      // A port taken by another program is a setup error to see at once, not a worker without metrics.
      log::error("metrics_listen_failed", {{"error", e.what()}});
      return 2;
    }
  }
  std::vector<std::thread> threads;
  auto guarded = [&running](const char* what, auto fn) {
    return [&running, what, fn]() {
      try {
        fn();
      } catch (const std::exception& e) {
        log::error("thread_failed", {{"thread", what}, {"error", e.what()}});
      }
      running.fetch_sub(1);
    };
  };
  for (int i = 0; i < config.worker.concurrency; ++i) {
    running.fetch_add(1);
    threads.emplace_back(guarded("consumer", [&consumer, i] { consumer.run_thread(i); }));
  }
  running.fetch_add(1);
  threads.emplace_back(guarded("scheduler", [&scheduler] { scheduler.run(); }));
  log::info("worker_started", {{"consumer", consumer.name()},
                               {"concurrency", std::to_string(config.worker.concurrency)},
                               {"job_timeout_ms", std::to_string(config.worker.job_timeout_ms)},
                               {"max_attempts", std::to_string(config.worker.max_attempts)},
                               {"test_jobs", config.worker.test_jobs ? "on" : "off"},
                               {"metrics_port", std::to_string(config.worker.metrics_port)}});

  int sig = wait_for_stop(set);
  log::info("worker_stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                                {"in_flight", std::to_string(consumer.in_flight().size())}});
  stopping.store(true);
  auto deadline = std::chrono::steady_clock::now() + kStopDeadline;
  while (running.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (running.load() > 0) {
    // A job still runs: it is not acked, so another worker takes it again after the timeout.
    log::warn("worker_stopped_with_jobs_running", {{"in_flight", std::to_string(consumer.in_flight().size())}});
    std::fflush(nullptr);
    std::_Exit(0);
  }
  for (auto& t : threads) t.join();
  log::info("worker_stopped", {{"consumer", consumer.name()}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("chat-worker");
  std::signal(SIGPIPE, SIG_IGN);  // a Redis or PostgreSQL socket closed under us is an error, not a death
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      std::fputs(worker::kAdminUsage, stdout);
      return 0;
    }
  }
  if (worker::is_admin_invocation(args)) {
    std::string error;
    auto cmd = worker::parse_admin_args(args, &error);
    if (!cmd) {
      std::fprintf(stderr, "chat-worker: %s\n%s", error.c_str(), worker::kAdminUsage);
      return 2;
    }
    try {
      Config config = load_config();
      log::set_level("warn");
      return worker::run_admin(*cmd, config);
    } catch (const ConfigError& e) {
      std::fprintf(stderr, "chat-worker: %s\n", e.what());
      return 2;
    }
  }
  if (!args.empty()) {
    std::fprintf(stderr, "chat-worker: unknown argument %s\n%s", args[0].c_str(), worker::kAdminUsage);
    return 2;
  }
  return run_daemon();
}

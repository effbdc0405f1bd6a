// The scheduler (Celery beat inside every worker): periodic jobs run once per period across all
// workers, delayed jobs move into the stream when due, running jobs keep their claim.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/context.hpp"
#include "worker/consumer.hpp"
#include "worker/queue.hpp"

namespace chat::worker {

struct Periodic {
  std::string_view type;  // a job type of the job table
  int64_t period_ms;
};

std::span<const Periodic> periodic_table();

// Periods are numbered on Redis's clock, so every worker agrees on them: floor(now / period).
int64_t period_number(int64_t now_ms, int64_t period_ms);
// The claim of one period: SET <key> <consumer> NX PX <period> decides the only worker that runs it.
std::string claim_key(std::string_view type, int64_t period);
// One line of the runs log: "<type> <period> <consumer> <ms> <ok|failed> <duration ms>".
std::string run_record(std::string_view type, int64_t period, const std::string& consumer, int64_t now_ms, bool ok,
                       int64_t duration_ms);

class Scheduler {
 public:
  Scheduler(const Config& config, const Consumer& consumer, const std::atomic<bool>& stopping);

  // Ticks until the worker stops; also beats the worker's heartbeat (core/heartbeat.hpp), and removes it
  // when the worker stops cleanly.
  void run();

 private:
  void tick(Context& ctx, Queue& queue);
  void run_periodic(Context& ctx, const Periodic& p, int64_t period, int64_t now_ms);

  const Config& config_;
  const Consumer& consumer_;
  const std::atomic<bool>& stopping_;
  std::map<std::string_view, int64_t> last_period_;
  int64_t next_heartbeat_ms_ = 0;  // of the claims of running jobs
  std::string instance_;           // this worker's id in chat:heartbeat:worker
  int64_t next_beat_ms_ = 0;
};

}  // namespace chat::worker

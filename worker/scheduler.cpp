// Scheduler thread: every tick it moves due delayed jobs, refreshes the claim of running jobs, and
// claims and runs the periodic jobs whose period has turned.
#include "worker/scheduler.hpp"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/heartbeat.hpp"
#include "core/log.hpp"
#include "worker/jobs.hpp"
#include "core/stream.hpp"

namespace chat::worker {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kTickMs = 50;          // delayed jobs run at most this late
constexpr int kMoveBatch = 200;
constexpr int kMoveRounds = 20;
constexpr int kRunsKept = 1000;

const Periodic kPeriodic[] = {
    {"outbox_relay", 1000},         // rows left behind while Redis was down
    {"presence_sweep", 5000},       // users whose realtime daemon went away
    {"session_cleanup", 30000},
    {"idempotency_cleanup", 30000},
    {"events_trim", 30000},         // chat:events to its replay window
    {"consumers_cleanup", 60000},
};

}  // namespace

std::span<const Periodic> periodic_table() { return kPeriodic; }

int64_t period_number(int64_t now_ms, int64_t period_ms) { return now_ms / period_ms; }

std::string claim_key(std::string_view type, int64_t period) {
  return std::string(stream::kSchedPrefix) + std::string(type) + ":" + std::to_string(period);
}

std::string run_record(std::string_view type, int64_t period, const std::string& consumer, int64_t now_ms, bool ok,
                       int64_t duration_ms) {
  return std::string(type) + " " + std::to_string(period) + " " + consumer + " " + std::to_string(now_ms) + " " +
         (ok ? "ok" : "failed") + " " + std::to_string(duration_ms);
}

Scheduler::Scheduler(const Config& config, const Consumer& consumer, const std::atomic<bool>& stopping)
    : config_(config),
      consumer_(consumer),
      stopping_(stopping),
      instance_(heartbeat::instance_id(config.instance.empty() ? std::to_string(getpid()) : config.instance)) {}

void Scheduler::run() {
  db::Connection db(config_.database_url, "chat-worker-scheduler");
  redis::Client redis(redis::target_of(config_));
  Context ctx{config_, db, redis};
  Queue queue(redis, consumer_.name());
  bool redis_down = false;
  while (!stopping_.load()) {
    auto started = Clock::now();
    try {
      tick(ctx, queue);
      if (redis_down) log::info("scheduler_resumed", {{"consumer", consumer_.name()}});
      redis_down = false;
    } catch (const redis::RedisError& e) {
      if (!redis_down) log::warn("scheduler_redis_unavailable", {{"error", e.what()}});
      redis_down = true;
    } catch (const std::exception& e) {
      log::error("scheduler_error", {{"error", e.what()}});
    }
    auto next = started + std::chrono::milliseconds(redis_down ? 500 : kTickMs);
    while (!stopping_.load() && Clock::now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  try {
    heartbeat::gone(redis, heartbeat::Kind::kWorker, instance_);  // a clean stop is not a dead worker
  } catch (const redis::RedisError&) {
  }
}

void Scheduler::tick(Context& ctx, Queue& queue) {
  int64_t now = queue.server_time_ms();
  for (int i = 0; i < kMoveRounds && queue.move_due(now, kMoveBatch) == kMoveBatch; ++i) {
  }
  if (now >= next_beat_ms_) {
    heartbeat::beat(ctx.redis, heartbeat::Kind::kWorker, instance_);
    next_beat_ms_ = now + heartbeat::kIntervalMs;
  }
  if (now >= next_heartbeat_ms_) {
    queue.heartbeat(consumer_.in_flight());
    next_heartbeat_ms_ = now + std::max<int64_t>(config_.worker.job_timeout_ms / 3, 20);
  }
  for (const Periodic& p : kPeriodic) {
    if (stopping_.load()) return;
    int64_t period = period_number(now, p.period_ms);
    auto [it, fresh] = last_period_.try_emplace(p.type, period);
    if (!fresh && it->second == period) continue;
    it->second = period;
    redis::Reply won = ctx.redis.command({"SET", claim_key(p.type, period), consumer_.name(), "NX", "PX",
                                          std::to_string(p.period_ms)});
    if (won.is_error()) throw redis::RedisError("SET NX refused: " + won.str());
    if (won.is_nil()) continue;  // another worker runs this period
    run_periodic(ctx, p, period, now);
    now = queue.server_time_ms();
  }
}

void Scheduler::run_periodic(Context& ctx, const Periodic& p, int64_t period, int64_t now_ms) {
  std::string type(p.type);
  const JobSpec* spec = find_job(type, false);
  if (!spec) return;
  Job job = make_job("", {{"type", type}, {"job_id", "sched:" + type + ":" + std::to_string(period)}}, 1);
  auto started = Clock::now();
  bool ok = true;
  try {
    JobContext jc{ctx, job, config_.worker, consumer_.name(), stopping_, nullptr, &consumer_.metrics()};
    spec->run(jc);
  } catch (const std::exception& e) {
    ok = false;
    log::warn("periodic_job_failed", {{"type", type}, {"period", std::to_string(period)}, {"error", e.what()}});
  }
  consumer_.metrics().periodic(type, ok);
  int64_t took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  std::string record = run_record(p.type, period, consumer_.name(), now_ms, ok, took);
  try {
    ctx.redis.command({"LPUSH", stream::kSchedRuns, record});
    ctx.redis.command({"LTRIM", stream::kSchedRuns, "0", std::to_string(kRunsKept - 1)});
    ctx.redis.command({"HSET", stream::kSchedLast, type, record});
  } catch (const redis::RedisError& e) {
    log::warn("periodic_record_failed", {{"type", type}, {"error", e.what()}});
  }
  log::debug("periodic_job_ran", {{"type", type}, {"period", std::to_string(period)}, {"ms", std::to_string(took)}});
}

}  // namespace chat::worker

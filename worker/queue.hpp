// The reliable job queue: a consumer group on the Redis stream chat:jobs, a delayed set, a dead-letter stream.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/redis.hpp"
#include "core/stream.hpp"

namespace chat::worker {

// A stream entry's fields, in order.
using Fields = stream::Fields;

// One delivery of a job.
struct Job {
  std::string entry_id;   // the stream entry (changes when the job is re-queued)
  Fields fields;          // as stored: type, payload, and what the producer added (outbox_id, ...)
  std::string type;
  std::string payload;    // JSON text
  std::string job_id;     // stable across re-queues: field job_id, else "outbox:<outbox_id>", else entry_id
  int attempt = 1;        // 1 for the first run: field `attempt` (set on re-queue) + deliveries - 1
  int64_t deliveries = 1; // the group's delivery count of this entry (more than 1 after XAUTOCLAIM)

  // The value of a field, "" when absent.
  std::string field(std::string_view name) const;
};

// Fields the dead-letter stream adds to a job's own fields.
inline constexpr const char* kDeadOnlyFields[] = {"error", "attempts", "failed_at", "failed_by", "entry_id"};

// ---- pure parts (unit tested)

Job make_job(std::string entry_id, Fields fields, int64_t deliveries);
// The largest delay before retrying after failed attempt `attempt` (1-based): min(cap, base * 2^(attempt-1)).
int64_t backoff_ceiling_ms(int attempt, int64_t base_ms, int64_t cap_ms);
// Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): uniform in [0, ceiling].
int64_t backoff_delay_ms(int attempt, int64_t base_ms, int64_t cap_ms, std::mt19937_64& rng);
// The job's fields for its next run: job_id and attempt set, everything else kept.
Fields requeue_fields(const Job& job, int next_attempt);
// The dead-letter entry: the job's fields (attempt dropped) plus the last error and the attempt count.
Fields dead_fields(const Job& job, const std::string& error, int attempts, const std::string& consumer,
                   const std::string& failed_at);
// A dead entry back to a job: dead-only fields and attempt dropped (attempts start again at 1).
Fields revive_fields(const Fields& dead);
// The delayed set's member for a job: a JSON array [name, value, ...] that the move script XADDs as is.
std::string encode_fields(const Fields& fields);
// A stream entry's [id, [f, v, ...]] reply as fields (empty for a nil entry).
Fields fields_of(const redis::Reply& entry);

// Redis's clock (TIME) in ms, so that every worker agrees on periods and due times.
int64_t redis_time_ms(redis::Client& redis);

// ---- the queue, over one Redis connection (one per thread)

class Queue {
 public:
  Queue(redis::Client& redis, std::string consumer) : redis_(redis), consumer_(std::move(consumer)) {}

  // XGROUP CREATE chat:jobs workers 0 MKSTREAM; an existing group (BUSYGROUP) is fine.
  void ensure_group();
  // XREADGROUP ... BLOCK block_ms: one new job for this consumer, or nullopt.
  std::optional<Job> read(int block_ms);
  // XAUTOCLAIM: one job idle for min_idle_ms in any consumer (one that died), or nullopt. Sets
  // *scan_done when the whole pending list was scanned (the next call starts again at its head).
  std::optional<Job> autoclaim(int64_t min_idle_ms, bool* scan_done);
  // XCLAIM ... JUSTID of this consumer's jobs still running: resets their idle time so that no
  // other worker takes a long job while it runs.
  void heartbeat(const std::vector<std::string>& entry_ids);

  // Each of these first XACKs the entry and does nothing more (returns false) when it was no longer
  // pending (another worker took it over and finished it).
  bool ack(const Job& job);  // + XDEL, counts done
  bool retry(const Job& job, int next_attempt, int64_t run_at_ms);  // into the delayed set, counts retried
  bool dead_letter(const Job& job, const std::string& error, int attempts, const std::string& failed_at);

  // Moves up to `limit` delayed jobs due at now_ms into the stream, atomically; returns how many.
  int move_due(int64_t now_ms, int limit);
  // XADD chat:jobs * fields; returns the entry id.
  std::string enqueue(const Fields& fields);
  int64_t server_time_ms() { return redis_time_ms(redis_); }

  const std::string& consumer() const { return consumer_; }

 private:
  std::optional<Job> job_from_entry(const redis::Reply& entry, int64_t deliveries);
  int64_t delivery_count(const std::string& entry_id);
  redis::Reply checked(const std::vector<std::string>& args);

  redis::Client& redis_;
  std::string consumer_;
  std::string autoclaim_cursor_ = "0-0";
};

}  // namespace chat::worker

// The job table: job type -> function, like Redis's command table. Every job is safe to run twice.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/context.hpp"
#include "worker/metrics.hpp"
#include "worker/queue.hpp"

namespace chat::worker {

struct JobContext;

// Relays outbox conversations for the threads of one worker: while a thread relays a conversation, the
// others go on with their next job and the relaying thread relays that conversation once more for them
// (domain's relay_conversation takes the rows of every committed transaction, in order), so a busy pool
// relays in batches.
class Relayer {
 public:
  void relay(JobContext& jc, const std::string& conversation_id);

 private:
  struct State {
    bool busy = false;
    bool again = false;
  };
  std::mutex mu_;
  std::map<std::string, State> conversations_;  // only those being relayed now
};

// What a job function gets: the job, this thread's connections, and whether the worker is stopping.
struct JobContext {
  Context& ctx;
  const Job& job;
  const WorkerSettings& settings;
  const std::string& consumer;
  const std::atomic<bool>& stopping;
  Relayer* relayer = nullptr;  // nullptr: relay in this thread
  Metrics* metrics = nullptr;  // this process's /metrics (nullptr: not counted)
};

// domain::relay_conversation, counted in jc.metrics: the rows moved, 0 for none, -1 when deferred.
int relay_conversation(JobContext& jc, const std::string& conversation_id);

using JobFn = void (*)(JobContext&);

struct JobSpec {
  std::string_view type;
  JobFn run;
  bool test_only;  // enabled only with CHAT_WORKER_TEST_JOBS=1
};

// A failure that no retry can fix (malformed payload, unknown type): straight to the dead-letter stream.
class PermanentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The worker is stopping in the middle of this job: it is not acked, so another worker takes it again.
class HandedBack : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::span<const JobSpec> job_table();
// nullptr for an unknown type, or a test job while test jobs are disabled.
const JobSpec* find_job(std::string_view type, bool test_jobs);

// The payload of a mention_notification job (docs/events.md §2).
struct MentionJob {
  std::string message_id;
  std::string conversation_id;
  std::string sender_id;
  std::vector<std::string> user_ids;  // valid UUIDs, each once
};
// nullopt when the payload is not such an object with UUIDs where they belong.
std::optional<MentionJob> parse_mention_job(std::string_view payload);

// The payload of a test_sleep job: sleep `ms`, then count key `key` once per job id.
struct SleepJob {
  int64_t ms = 0;
  std::string key;
};
std::optional<SleepJob> parse_sleep_job(std::string_view payload);

// The job functions (periodic ones live in maintenance.hpp).
void mention_notification(JobContext& jc);
void test_sleep(JobContext& jc);
void test_fail(JobContext& jc);

}  // namespace chat::worker

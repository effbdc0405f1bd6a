// Configuration of every program, read once from the environment (and a .env file) into one struct; all problems reported at once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chat {

using EnvMap = std::map<std::string, std::string>;

struct Argon2Params {
  unsigned time_cost = 2;         // OWASP minimum for Argon2id: t=2, m=19 MiB, p=1
  unsigned memory_kib = 19456;
  unsigned parallelism = 1;
};

// chat-worker (docs/worker.md).
struct WorkerSettings {
  int concurrency = 4;                // WORKER_CONCURRENCY: jobs in flight per process (threads)
  int64_t job_timeout_ms = 30000;     // WORKER_JOB_TIMEOUT_MS: a job idle this long in a consumer is taken again
  int max_attempts = 5;               // WORKER_MAX_ATTEMPTS: then the dead-letter stream
  int64_t backoff_base_ms = 1000;     // WORKER_BACKOFF_BASE_MS: first retry within this
  int64_t backoff_cap_ms = 300000;    // WORKER_BACKOFF_CAP_MS: no retry waits longer
  bool test_jobs = false;             // CHAT_WORKER_TEST_JOBS=1: enables test_sleep and test_fail
  int metrics_port = 0;               // WORKER_METRICS_PORT: GET /metrics on 127.0.0.1:port (0: none)
};

// chat-realtime; its --port and --socket flags win over the first two.
struct RealtimeSettings {
  int port = 0;              // REALTIME_PORT (0: not set)
  std::string unix_socket;   // REALTIME_SOCKET (empty: none)
  int auth_threads = 2;      // REALTIME_AUTH_THREADS: threads that check tokens against PostgreSQL
};

// chat-migrate.
struct MigrateSettings {
  std::string database_url;           // MIGRATE_DATABASE_URL, else DATABASE_URL: the owner of the schema
  std::string app_role = "chat_app";  // CHAT_DB_APP_ROLE: who sql/grants.sql grants to (set but empty: nobody)
};

struct Config {
  std::string environment = "development";  // development | test | production
  std::string database_url;
  std::string redis_url;
  // Past one machine (docs/scale-out.md). With REDIS_SENTINELS set, every program asks those Sentinels for
  // the master named REDIS_MASTER_NAME; REDIS_URL then gives only the password and the database number.
  std::vector<std::string> redis_sentinels;  // REDIS_SENTINELS: host:port[,host:port...] (empty: REDIS_URL only)
  std::string redis_master_name = "chat";    // REDIS_MASTER_NAME
  // Replicas an outbox or job entry must reach (Redis WAIT) before its PostgreSQL row is deleted, and for how
  // long the relay waits for them: REDIS_WAIT_REPLICAS (default 1 with Sentinel, else 0), REDIS_WAIT_MS.
  int redis_wait_replicas = 0;
  int redis_wait_ms = 200;
  std::string database_replica_url;  // DATABASE_REPLICA_URL: a streaming replica for reads (empty: none)
  int replica_max_lag_ms = 1000;     // REPLICA_MAX_LAG_MS: a replica whose last replayed commit is older serves no read
  std::string jwt_secret;
  int access_token_expire_minutes = 30;
  int refresh_token_expire_days = 30;
  int refresh_reuse_grace_seconds = 5;  // a rotated refresh token used again this soon gets the same new pair
  int moderation_hour_seconds = 3600;   // the length of an "hour" of a ban or suspension (tests shorten it)
  std::vector<std::string> cors_origins;  // "*" allows every origin
  int handler_threads = 2;
  int principal_cache_ms = 1000;   // how long a handler process may answer from a verified principal (0: never)
  int rate_limit_send = 10;        // message sends per second per user (leaky bucket)
  int rate_limit_send_burst = 30;
  std::string log_level = "info";
  Argon2Params argon2;
  // The name a supervisor gave this process: CHAT_INSTANCE, else supervisord's SUPERVISOR_PROCESS_NAME;
  // empty when neither is set.
  std::string instance;
  WorkerSettings worker;
  RealtimeSettings realtime;
  MigrateSettings migrate;

  bool production() const { return environment == "production"; }
  bool origin_allowed(const std::string& origin) const;
};

// What a program cannot start without. Every value that is given is checked whatever the program, so one
// bad line of chat.env is reported by the first program that reads it, and by the same rule everywhere.
enum class Require {
  kService,   // the handlers, chat-realtime, chat-worker: DATABASE_URL, REDIS_URL; in production a strong secret
  kOperator,  // chat-admin: DATABASE_URL and REDIS_URL (it signs no token: no secret rules)
  kMigrate,   // chat-migrate: MIGRATE_DATABASE_URL or DATABASE_URL
  kNothing,   // chat-migrate --print-cors: only that what is given is well-formed
};

// Thrown with every problem found, one per line.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::vector<std::string>& problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// Parses KEY=VALUE lines (comments, blank lines, `export `, single or double quotes); later keys win.
EnvMap parse_env_file(const std::string& text);

// Builds the config from a variable map; throws ConfigError listing all problems.
Config config_from(const EnvMap& vars, Require require = Require::kService);

// The process environment over the .env file named by CHAT_ENV_FILE (default ./.env): the environment wins.
EnvMap load_env();
// config_from(load_env(), require).
Config load_config(Require require = Require::kService);

// A whole decimal integer in [lo, hi] (no sign other than '-', no spaces, no trailing junk), else nullopt:
// the rule of every numeric setting, and of the command-line flags that override one.
std::optional<int64_t> parse_int(std::string_view text, int64_t lo, int64_t hi);

// Accepts a JSON list (["a","b"]), a comma list (a,b) or "*"; drops empty items and trailing slashes.
std::vector<std::string> parse_origin_list(const std::string& value);
// "*", or scheme://host[:port] as a browser sends it in Origin (no path, no spaces).
bool is_origin(std::string_view origin);

}  // namespace chat

// The one reader of every program's settings: names follow the clients' ecosystem (DATABASE_URL, JWT_SECRET_KEY, ...).
#include "core/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/redis.hpp"

extern char** environ;

namespace chat {
namespace {

constexpr const char* kDefaultSecret = "change-me-in-production";
constexpr size_t kMinSecretBytes = 32;

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

using Problems = std::vector<std::string>;

const std::string* lookup(const EnvMap& vars, const char* name) {
  auto it = vars.find(name);
  if (it == vars.end() || it->second.empty()) return nullptr;
  return &it->second;
}

// Reads an integer in [lo, hi] into `out`, or records a problem naming the variable.
template <typename T>
void read_int(const EnvMap& vars, const char* name, T lo, T hi, T& out, Problems& problems) {
  const std::string* v = lookup(vars, name);
  if (!v) return;
  if (auto n = parse_int(*v, static_cast<int64_t>(lo), static_cast<int64_t>(hi))) {
    out = static_cast<T>(*n);
    return;
  }
  problems.push_back(std::string(name) + " must be an integer from " + std::to_string(lo) + " to " +
                     std::to_string(hi) + " (got \"" + *v + "\")");
}

bool scheme_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '.' || c == '-'; }

// What may follow "scheme://" in an origin: a host (a name, an IPv4 address or a [bracketed] IPv6 one), ":port".
bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("[]._~:@%+-").find(c) != std::string_view::npos;
}

}  // namespace

ConfigError::ConfigError(const std::vector<std::string>& problems)
    : std::runtime_error([&] {
        std::string msg = "invalid configuration:";
        for (const auto& p : problems) msg += "\n  - " + p;
        return msg;
      }()),
      problems_(problems) {}

bool Config::origin_allowed(const std::string& origin) const {
  for (const auto& o : cors_origins) {
    if (o == "*" || o == origin) return true;
  }
  return false;
}

EnvMap parse_env_file(const std::string& text) {
  EnvMap out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      // A quoted value ends at its closing quote; anything after it (a comment) is not part of it.
      auto close = value.find(value.front(), 1);
      if (close != std::string::npos) value = value.substr(1, close - 1);
    } else if (auto hash = value.find(" #"); hash != std::string::npos) {
      value = trim(value.substr(0, hash));  // an unquoted value may carry a trailing comment
    }
    if (!key.empty()) out[key] = value;
  }
  return out;
}

std::vector<std::string> parse_origin_list(const std::string& value) {
  std::string v = trim(value);
  if (!v.empty() && v.front() == '[' && v.back() == ']') v = v.substr(1, v.size() - 2);
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(v);
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (item.size() >= 2 && (item.front() == '"' || item.front() == '\'') && item.back() == item.front()) {
      item = trim(item.substr(1, item.size() - 2));
    }
    while (item.size() > 1 && item.back() == '/') item.pop_back();  // "http://a/" names the origin "http://a"
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::optional<int64_t> parse_int(std::string_view text, int64_t lo, int64_t hi) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < lo || value > hi) {
    return std::nullopt;
  }
  return value;
}

bool is_origin(std::string_view origin) {
  if (origin == "*") return true;
  const auto sep = origin.find("://");
  if (sep == std::string_view::npos || sep == 0 || !std::isalpha(static_cast<unsigned char>(origin[0]))) return false;
  const auto scheme = origin.substr(0, sep), host = origin.substr(sep + 3);
  return std::all_of(scheme.begin(), scheme.end(), scheme_char) && !host.empty() &&
         std::all_of(host.begin(), host.end(), host_char);
}

namespace {

// ENVIRONMENT, the database and Redis, the signing key: what a program needs to start depends on `require`.
void read_identity(const EnvMap& vars, Require require, Config& c, Problems& problems) {
  if (const auto* v = lookup(vars, "ENVIRONMENT")) c.environment = *v;
  if (c.environment != "development" && c.environment != "test" && c.environment != "production" &&
      c.environment != "local" && c.environment != "staging") {
    problems.push_back("ENVIRONMENT must be one of local, development, test, staging, production (got \"" +
                       c.environment + "\")");
  }
  const bool service = require == Require::kService;
  const bool connects = service || require == Require::kOperator;

  if (const auto* v = lookup(vars, "DATABASE_URL")) c.database_url = *v;
  else if (connects) problems.push_back("DATABASE_URL is not set");
  if (const auto* v = lookup(vars, "REDIS_URL")) c.redis_url = *v;
  else if (connects) problems.push_back("REDIS_URL is not set");
  if (!c.redis_url.empty() && c.redis_url.rfind("redis://", 0) != 0 && c.redis_url.rfind("unix://", 0) != 0) {
    problems.push_back("REDIS_URL must start with redis:// or unix:// (got \"" + c.redis_url + "\")");
  }
  if (const auto* v = lookup(vars, "REDIS_SENTINELS")) {
    std::string item;
    for (size_t i = 0; i <= v->size(); ++i) {
      if (i == v->size() || (*v)[i] == ',') {
        item = trim(item);
        if (!item.empty()) c.redis_sentinels.push_back(item);
        item.clear();
      } else {
        item += (*v)[i];
      }
    }
  }
  if (!redis::parse_sentinels(c.redis_sentinels)) {
    problems.push_back("REDIS_SENTINELS must be a comma list of host:port (got \"" + *lookup(vars, "REDIS_SENTINELS") +
                       "\")");
  }
  if (const auto* v = lookup(vars, "REDIS_MASTER_NAME")) c.redis_master_name = *v;
  if (c.redis_master_name.find_first_of(" \t\r\n") != std::string::npos) {
    problems.push_back("REDIS_MASTER_NAME must not contain spaces (got \"" + c.redis_master_name + "\")");
  }
  c.redis_wait_replicas = c.redis_sentinels.empty() ? 0 : 1;
  read_int(vars, "REDIS_WAIT_REPLICAS", 0, 16, c.redis_wait_replicas, problems);
  read_int(vars, "REDIS_WAIT_MS", 1, 10000, c.redis_wait_ms, problems);
  if (const auto* v = lookup(vars, "DATABASE_REPLICA_URL")) c.database_replica_url = *v;
  read_int(vars, "REPLICA_MAX_LAG_MS", 1, 600000, c.replica_max_lag_ms, problems);

  const std::string* secret = lookup(vars, "JWT_SECRET_KEY");
  if (!secret) secret = lookup(vars, "SECRET_KEY");
  if (service && c.production()) {
    if (!secret) problems.push_back("JWT_SECRET_KEY (or SECRET_KEY) must be set in production");
    else if (*secret == kDefaultSecret) problems.push_back("JWT_SECRET_KEY must not be the default value in production");
    else if (secret->size() < kMinSecretBytes) {
      problems.push_back("JWT_SECRET_KEY must be at least " + std::to_string(kMinSecretBytes) +
                         " characters in production");
    }
  }
  c.jwt_secret = secret ? *secret : kDefaultSecret;

  const std::string* alg = lookup(vars, "JWT_ALGORITHM");
  if (!alg) alg = lookup(vars, "ALGORITHM");
  if (alg && *alg != "HS256") problems.push_back("JWT_ALGORITHM must be HS256 (got \"" + *alg + "\")");
}

// The settings of the handlers (and of whatever else signs in, hashes or logs).
void read_api(const EnvMap& vars, Config& c, Problems& problems) {
  read_int(vars, "ACCESS_TOKEN_EXPIRE_MINUTES", 1, 60 * 24 * 30, c.access_token_expire_minutes, problems);
  read_int(vars, "REFRESH_TOKEN_EXPIRE_DAYS", 1, 365, c.refresh_token_expire_days, problems);
  read_int(vars, "REFRESH_REUSE_GRACE_SECONDS", 0, 60, c.refresh_reuse_grace_seconds, problems);
  read_int(vars, "MODERATION_HOUR_SECONDS", 1, 3600, c.moderation_hour_seconds, problems);
  read_int(vars, "HANDLER_THREADS", 1, 64, c.handler_threads, problems);
  read_int(vars, "PRINCIPAL_CACHE_MS", 0, 10000, c.principal_cache_ms, problems);
  read_int(vars, "RATE_LIMIT_SEND", 1, 1000000, c.rate_limit_send, problems);
  read_int(vars, "RATE_LIMIT_SEND_BURST", 0, 1000000, c.rate_limit_send_burst, problems);
  read_int(vars, "ARGON2_TIME_COST", 1u, 10u, c.argon2.time_cost, problems);
  read_int(vars, "ARGON2_MEMORY_KIB", 8192u, 1048576u, c.argon2.memory_kib, problems);
  read_int(vars, "ARGON2_PARALLELISM", 1u, 16u, c.argon2.parallelism, problems);

  // The one parser of BACKEND_CORS_ORIGINS: the dev stack asks `chat-migrate --print-cors` for the result.
  if (const auto* v = lookup(vars, "BACKEND_CORS_ORIGINS")) {
    c.cors_origins = parse_origin_list(*v);
    for (const auto& o : c.cors_origins) {
      if (!is_origin(o)) {
        problems.push_back("BACKEND_CORS_ORIGINS: \"" + o + "\" is not an origin like http://host:port (nor *)");
      }
    }
  } else {
    c.cors_origins = {"http://localhost:3000", "http://127.0.0.1:3000"};
  }

  if (const auto* v = lookup(vars, "LOG_LEVEL")) {
    std::string l = *v;
    std::transform(l.begin(), l.end(), l.begin(), ::tolower);
    if (l != "debug" && l != "info" && l != "warn" && l != "warning" && l != "error") {
      problems.push_back("LOG_LEVEL must be debug, info, warn or error (got \"" + *v + "\")");
    }
    c.log_level = l;
  }
}

void read_worker(const EnvMap& vars, WorkerSettings& w, Problems& problems) {
  read_int(vars, "WORKER_CONCURRENCY", 1, 64, w.concurrency, problems);
  read_int<int64_t>(vars, "WORKER_JOB_TIMEOUT_MS", 100, 86400000, w.job_timeout_ms, problems);
  read_int(vars, "WORKER_MAX_ATTEMPTS", 1, 100, w.max_attempts, problems);
  read_int<int64_t>(vars, "WORKER_BACKOFF_BASE_MS", 1, 3600000, w.backoff_base_ms, problems);
  read_int<int64_t>(vars, "WORKER_BACKOFF_CAP_MS", 1, 86400000, w.backoff_cap_ms, problems);
  read_int(vars, "WORKER_METRICS_PORT", 0, 65535, w.metrics_port, problems);
  if (w.backoff_cap_ms < w.backoff_base_ms) {
    problems.push_back("WORKER_BACKOFF_CAP_MS must not be below WORKER_BACKOFF_BASE_MS");
  }
  if (const auto* v = lookup(vars, "CHAT_WORKER_TEST_JOBS")) {
    if (*v == "1") w.test_jobs = true;
    else if (*v != "0") problems.push_back("CHAT_WORKER_TEST_JOBS must be 0 or 1 (got \"" + *v + "\")");
  }
}

void read_realtime(const EnvMap& vars, RealtimeSettings& r, Problems& problems) {
  read_int(vars, "REALTIME_PORT", 1, 65535, r.port, problems);
  if (const auto* v = lookup(vars, "REALTIME_SOCKET")) r.unix_socket = *v;
  read_int(vars, "REALTIME_AUTH_THREADS", 1, 64, r.auth_threads, problems);
}

void read_migrate(const EnvMap& vars, Require require, const Config& c, MigrateSettings& m, Problems& problems) {
  const std::string* url = lookup(vars, "MIGRATE_DATABASE_URL");
  m.database_url = url ? *url : c.database_url;
  if (require == Require::kMigrate && m.database_url.empty()) {
    problems.push_back("neither MIGRATE_DATABASE_URL nor DATABASE_URL is set");
  }
  // Set but empty is a choice here (grant nothing), not a missing value.
  if (auto it = vars.find("CHAT_DB_APP_ROLE"); it != vars.end()) m.app_role = it->second;
}

}  // namespace

Config config_from(const EnvMap& vars, Require require) {
  Config c;
  Problems problems;
  read_identity(vars, require, c, problems);
  read_api(vars, c, problems);
  read_worker(vars, c.worker, problems);
  read_realtime(vars, c.realtime, problems);
  read_migrate(vars, require, c, c.migrate, problems);
  if (const auto* v = lookup(vars, "CHAT_INSTANCE")) c.instance = *v;
  else if (const auto* s = lookup(vars, "SUPERVISOR_PROCESS_NAME")) c.instance = *s;
  if (!problems.empty()) throw ConfigError(problems);
  return c;
}

EnvMap load_env() {
  EnvMap vars;
  const char* file = std::getenv("CHAT_ENV_FILE");
  std::ifstream in(file && *file ? file : ".env");
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    vars = parse_env_file(ss.str());
  }
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return vars;
}

Config load_config(Require require) { return config_from(load_env(), require); }

}  // namespace chat

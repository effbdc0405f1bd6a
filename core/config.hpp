// Configuration read once from the environment (and a .env file) into one struct; all problems reported at once.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace chat {

using EnvMap = std::map<std::string, std::string>;

struct Argon2Params {
  unsigned time_cost = 2;         // OWASP minimum for Argon2id: t=2, m=19 MiB, p=1
  unsigned memory_kib = 19456;
  unsigned parallelism = 1;
};

struct Config {
  std::string environment = "development";  // development | test | production
  std::string database_url;
  std::string redis_url;
  std::string jwt_secret;
  int access_token_expire_minutes = 30;
  int refresh_token_expire_days = 30;
  int refresh_reuse_grace_seconds = 5;  // a rotated refresh token used again this soon gets the same new pair
  int moderation_hour_seconds = 3600;   // the length of an "hour" of a ban or suspension (tests shorten it)
  std::vector<std::string> cors_origins;  // "*" allows every origin
  int handler_threads = 2;
  int rate_limit_send = 10;        // message sends per second per user (leaky bucket)
  int rate_limit_send_burst = 30;
  std::string log_level = "info";
  Argon2Params argon2;

  bool production() const { return environment == "production"; }
  bool origin_allowed(const std::string& origin) const;
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
Config config_from(const EnvMap& vars);

// The process environment over the .env file named by CHAT_ENV_FILE (default ./.env): the environment wins.
EnvMap load_env();
// config_from(load_env()).
Config load_config();

// Accepts a JSON list (["a","b"]), a comma list (a,b) or "*".
std::vector<std::string> parse_origin_list(const std::string& value);

}  // namespace chat

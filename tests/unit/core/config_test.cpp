// Tests core/config.hpp: config_from with every problem reported at once, the numbers rule of every setting, what each
// kind of program requires, production secret rules, the realtime and migrate settings, .env parsing and CORS origins.
#include "core/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chat {
namespace {

EnvMap minimal() { return {{"DATABASE_URL", "postgresql://chat@localhost/chat"}, {"REDIS_URL", "redis://localhost:6379/0"}}; }

const std::string kLongSecret = "0123456789abcdef0123456789abcdef-long-enough";

// Runs config_from and returns the problems it reported (empty when it succeeded).
std::vector<std::string> problems_of(const EnvMap& vars) {
  try {
    config_from(vars);
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

bool mentions(const std::vector<std::string>& problems, const std::string& word) {
  return std::any_of(problems.begin(), problems.end(), [&](const std::string& p) { return p.find(word) != std::string::npos; });
}

TEST(Config, MinimalValidMap) {
  Config c = config_from(minimal());
  EXPECT_EQ(c.database_url, "postgresql://chat@localhost/chat");
  EXPECT_EQ(c.redis_url, "redis://localhost:6379/0");
  EXPECT_EQ(c.environment, "development");
  EXPECT_FALSE(c.production());
  EXPECT_EQ(c.access_token_expire_minutes, 30);
  EXPECT_EQ(c.refresh_token_expire_days, 30);
  EXPECT_FALSE(c.jwt_secret.empty());
  EXPECT_EQ(c.argon2.time_cost, 2u);
  EXPECT_EQ(c.argon2.memory_kib, 19456u);
  EXPECT_EQ(c.argon2.parallelism, 1u);
  EXPECT_EQ(c.cors_origins, (std::vector<std::string>{"http://localhost:3000", "http://127.0.0.1:3000"}));
}

TEST(Config, ReadsTheNumbersGiven) {
  EnvMap v = minimal();
  v["ACCESS_TOKEN_EXPIRE_MINUTES"] = "15";
  v["HANDLER_THREADS"] = "8";
  v["BACKEND_CORS_ORIGINS"] = "https://chat.example.com";
  Config c = config_from(v);
  EXPECT_EQ(c.access_token_expire_minutes, 15);
  EXPECT_EQ(c.handler_threads, 8);
  EXPECT_EQ(c.cors_origins, std::vector<std::string>{"https://chat.example.com"});
}

TEST(Config, RefreshReuseGraceDefaultsToFiveSecondsAndZeroTurnsItOff) {
  EXPECT_EQ(config_from(minimal()).refresh_reuse_grace_seconds, 5);
  EnvMap v = minimal();
  v["REFRESH_REUSE_GRACE_SECONDS"] = "0";
  EXPECT_EQ(config_from(v).refresh_reuse_grace_seconds, 0);
  for (const char* bad : {"-1", "61", "soon"}) {
    v["REFRESH_REUSE_GRACE_SECONDS"] = bad;
    EXPECT_TRUE(mentions(problems_of(v), "REFRESH_REUSE_GRACE_SECONDS")) << bad;
  }
}

TEST(Config, ModerationHourIsAnHourUnlessTestsShortenIt) {
  EXPECT_EQ(config_from(minimal()).moderation_hour_seconds, 3600);
  EnvMap v = minimal();
  v["MODERATION_HOUR_SECONDS"] = "1";
  EXPECT_EQ(config_from(v).moderation_hour_seconds, 1);
  v["MODERATION_HOUR_SECONDS"] = "0";
  EXPECT_TRUE(mentions(problems_of(v), "MODERATION_HOUR_SECONDS"));
}

TEST(Config, ReportsAllProblemsAtOnce) {
  EnvMap v{{"ACCESS_TOKEN_EXPIRE_MINUTES", "soon"}};
  try {
    config_from(v);
    FAIL() << "config_from accepted a map without DATABASE_URL";
  } catch (const ConfigError& e) {
    const auto& p = e.problems();
    EXPECT_EQ(p.size(), 3u);
    EXPECT_TRUE(mentions(p, "DATABASE_URL"));
    EXPECT_TRUE(mentions(p, "REDIS_URL"));
    EXPECT_TRUE(mentions(p, "ACCESS_TOKEN_EXPIRE_MINUTES"));
    // The message lists every problem too.
    std::string what = e.what();
    EXPECT_NE(what.find("DATABASE_URL"), std::string::npos);
    EXPECT_NE(what.find("ACCESS_TOKEN_EXPIRE_MINUTES"), std::string::npos);
  }
}

TEST(Config, RefusesOutOfRangeAndTrailingJunkNumbers) {
  for (const char* bad : {"0", "-5", "30m", "1e3", "99999999999999999999"}) {
    EnvMap v = minimal();
    v["ACCESS_TOKEN_EXPIRE_MINUTES"] = bad;
    auto p = problems_of(v);
    EXPECT_TRUE(mentions(p, "ACCESS_TOKEN_EXPIRE_MINUTES")) << bad;
  }
}

TEST(Config, RefusesARedisUrlOfAnotherScheme) {
  EnvMap v = minimal();
  v["REDIS_URL"] = "http://localhost:6379";
  EXPECT_TRUE(mentions(problems_of(v), "REDIS_URL"));
}

TEST(Config, ProductionRefusesAMissingSecret) {
  EnvMap v = minimal();
  v["ENVIRONMENT"] = "production";
  auto p = problems_of(v);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(mentions(p, "JWT_SECRET_KEY"));
}

TEST(Config, ProductionRefusesTheDefaultSecret) {
  EnvMap v = minimal();
  v["ENVIRONMENT"] = "production";
  v["JWT_SECRET_KEY"] = "change-me-in-production";
  auto p = problems_of(v);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(mentions(p, "JWT_SECRET_KEY"));
}

TEST(Config, ProductionRefusesAShortSecret) {
  EnvMap v = minimal();
  v["ENVIRONMENT"] = "production";
  v["JWT_SECRET_KEY"] = std::string(31, 'x');
  EXPECT_EQ(problems_of(v).size(), 1u);
  v["JWT_SECRET_KEY"] = std::string(32, 'x');
  EXPECT_TRUE(problems_of(v).empty());
}

TEST(Config, ProductionAcceptsALongSecret) {
  EnvMap v = minimal();
  v["ENVIRONMENT"] = "production";
  v["JWT_SECRET_KEY"] = kLongSecret;
  Config c = config_from(v);
  EXPECT_TRUE(c.production());
  EXPECT_EQ(c.jwt_secret, kLongSecret);
}

TEST(Config, DevelopmentToleratesAShortSecret) {
  EnvMap v = minimal();
  v["JWT_SECRET_KEY"] = "short";
  EXPECT_EQ(config_from(v).jwt_secret, "short");
}

TEST(Config, SecretKeyIsUsedWhenJwtSecretKeyIsAbsent) {
  EnvMap v = minimal();
  v["SECRET_KEY"] = kLongSecret;
  EXPECT_EQ(config_from(v).jwt_secret, kLongSecret);
  v["ENVIRONMENT"] = "production";
  EXPECT_EQ(config_from(v).jwt_secret, kLongSecret);
}

TEST(Config, JwtSecretKeyWinsOverSecretKey) {
  EnvMap v = minimal();
  v["SECRET_KEY"] = "the-generic-one-the-generic-one-the-generic-one";
  v["JWT_SECRET_KEY"] = kLongSecret;
  EXPECT_EQ(config_from(v).jwt_secret, kLongSecret);
}

TEST(Config, RefusesAnAlgorithmOtherThanHs256) {
  EnvMap v = minimal();
  v["JWT_ALGORITHM"] = "HS512";
  EXPECT_TRUE(mentions(problems_of(v), "HS256"));
  v.erase("JWT_ALGORITHM");
  v["ALGORITHM"] = "none";
  EXPECT_TRUE(mentions(problems_of(v), "HS256"));
  v["ALGORITHM"] = "HS256";
  EXPECT_TRUE(problems_of(v).empty());
}

TEST(Config, RefusesAnUnknownEnvironment) {
  EnvMap v = minimal();
  v["ENVIRONMENT"] = "prod";
  EXPECT_TRUE(mentions(problems_of(v), "ENVIRONMENT"));
}

// Every numeric setting of every program, with its range: one rule for all (no atoi that reads "12abc" as 12).
struct NumericSetting {
  const char* name;
  int64_t lo, hi;
};
constexpr NumericSetting kNumericSettings[] = {
    {"ACCESS_TOKEN_EXPIRE_MINUTES", 1, 43200}, {"REFRESH_TOKEN_EXPIRE_DAYS", 1, 365},
    {"REFRESH_REUSE_GRACE_SECONDS", 0, 60},    {"MODERATION_HOUR_SECONDS", 1, 3600},
    {"HANDLER_THREADS", 1, 64},                {"RATE_LIMIT_SEND", 1, 1000000},
    {"RATE_LIMIT_SEND_BURST", 0, 1000000},     {"ARGON2_TIME_COST", 1, 10},
    {"ARGON2_MEMORY_KIB", 8192, 1048576},      {"ARGON2_PARALLELISM", 1, 16},
    {"WORKER_CONCURRENCY", 1, 64},             {"WORKER_JOB_TIMEOUT_MS", 100, 86400000},
    {"WORKER_MAX_ATTEMPTS", 1, 100},           {"WORKER_BACKOFF_BASE_MS", 1, 3600000},
    {"WORKER_BACKOFF_CAP_MS", 1, 86400000},    {"REALTIME_PORT", 1, 65535},
    {"REALTIME_AUTH_THREADS", 1, 64},          {"WORKER_METRICS_PORT", 0, 65535},
};

TEST(Config, EveryNumericSettingTakesItsBoundsAndRefusesAnythingElseByName) {
  for (const auto& s : kNumericSettings) {
    EnvMap base = minimal();
    // The backoff's base and cap are also checked against each other: keep the other one out of the way.
    base["WORKER_BACKOFF_BASE_MS"] = "1";
    base["WORKER_BACKOFF_CAP_MS"] = "86400000";
    for (int64_t ok : {s.lo, s.hi}) {
      EnvMap v = base;
      v[s.name] = std::to_string(ok);
      EXPECT_TRUE(problems_of(v).empty()) << s.name << "=" << ok;
    }
    for (const std::string& bad : {std::to_string(s.lo - 1), std::to_string(s.hi + 1), std::string("12abc"),
                                   std::string(" 12"), std::string("+12"), std::string("1.5"), std::string("ten"),
                                   std::string("99999999999999999999")}) {
      EnvMap v = base;
      v[s.name] = bad;
      auto p = problems_of(v);
      ASSERT_EQ(p.size(), 1u) << s.name << "=" << bad;
      EXPECT_EQ(p[0], std::string(s.name) + " must be an integer from " + std::to_string(s.lo) + " to " +
                          std::to_string(s.hi) + " (got \"" + bad + "\")");
    }
  }
}

TEST(ParseInt, WholeDecimalNumbersInRangeOnly) {
  EXPECT_EQ(parse_int("8101", 1, 65535), 8101);
  EXPECT_EQ(parse_int("-3", -5, 5), -3);
  EXPECT_EQ(parse_int("0", 1, 65535), std::nullopt);
  EXPECT_EQ(parse_int("65536", 1, 65535), std::nullopt);
  EXPECT_EQ(parse_int("80x", 1, 65535), std::nullopt);
  EXPECT_EQ(parse_int("", 0, 1), std::nullopt);
  EXPECT_EQ(parse_int(" 1", 0, 1), std::nullopt);
}

TEST(Config, RealtimeSettings) {
  Config c = config_from(minimal());
  EXPECT_EQ(c.realtime.port, 0);  // none: chat-realtime then wants --port
  EXPECT_EQ(c.realtime.unix_socket, "");
  EXPECT_EQ(c.realtime.auth_threads, 2);
  EnvMap v = minimal();
  v["REALTIME_PORT"] = "8101";
  v["REALTIME_SOCKET"] = "/run/chat-realtime-8101/realtime.sock";
  v["REALTIME_AUTH_THREADS"] = "6";
  c = config_from(v);
  EXPECT_EQ(c.realtime.port, 8101);
  EXPECT_EQ(c.realtime.unix_socket, "/run/chat-realtime-8101/realtime.sock");
  EXPECT_EQ(c.realtime.auth_threads, 6);
}

TEST(Config, RealtimeBadNumbersAreReportedWithTheRest) {
  EnvMap v = minimal();
  v["REALTIME_PORT"] = "80a";  // atoi read this as 80
  v["REALTIME_AUTH_THREADS"] = "0";
  v["HANDLER_THREADS"] = "x";
  auto p = problems_of(v);
  EXPECT_EQ(p.size(), 3u);
  EXPECT_TRUE(mentions(p, "REALTIME_PORT must be an integer from 1 to 65535 (got \"80a\")"));
  EXPECT_TRUE(mentions(p, "REALTIME_AUTH_THREADS"));
  EXPECT_TRUE(mentions(p, "HANDLER_THREADS"));
}

TEST(Config, MigrateSettings) {
  Config c = config_from(minimal());
  EXPECT_EQ(c.migrate.database_url, "postgresql://chat@localhost/chat");  // DATABASE_URL when unset
  EXPECT_EQ(c.migrate.app_role, "chat_app");
  EnvMap v = minimal();
  v["MIGRATE_DATABASE_URL"] = "postgresql://chat_owner@localhost/chat";
  v["CHAT_DB_APP_ROLE"] = "";  // set but empty: no grants
  c = config_from(v);
  EXPECT_EQ(c.migrate.database_url, "postgresql://chat_owner@localhost/chat");
  EXPECT_EQ(c.migrate.app_role, "");
}

TEST(Require, MigrateNeedsOnlyADatabaseUrl) {
  EXPECT_NO_THROW(config_from({{"MIGRATE_DATABASE_URL", "postgresql:///chat"}}, Require::kMigrate));
  EXPECT_NO_THROW(config_from({{"DATABASE_URL", "postgresql:///chat"}}, Require::kMigrate));
  try {
    config_from({}, Require::kMigrate);
    FAIL() << "accepted no database at all";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.problems().size(), 1u);
    EXPECT_EQ(e.problems()[0], "neither MIGRATE_DATABASE_URL nor DATABASE_URL is set");
  }
  // What is given is checked all the same.
  EnvMap v{{"DATABASE_URL", "postgresql:///chat"}, {"WORKER_MAX_ATTEMPTS", "lots"}};
  EXPECT_THROW(config_from(v, Require::kMigrate), ConfigError);
}

TEST(Require, OperatorSkipsTheSecretRulesButNotTheConnections) {
  EnvMap v = minimal();
  v["ENVIRONMENT"] = "production";  // chat-admin signs nothing
  Config c = config_from(v, Require::kOperator);
  EXPECT_TRUE(c.production());
  EXPECT_EQ(problems_of(v).size(), 1u);  // a service refuses it
  auto p = [](const EnvMap& m) {
    try {
      config_from(m, Require::kOperator);
    } catch (const ConfigError& e) {
      return e.problems();
    }
    return std::vector<std::string>{};
  }(EnvMap{{"ENVIRONMENT", "production"}});
  EXPECT_EQ(p.size(), 2u);
  EXPECT_TRUE(mentions(p, "DATABASE_URL"));
  EXPECT_TRUE(mentions(p, "REDIS_URL"));
}

TEST(Require, NothingChecksOnlyWhatIsGiven) {
  EXPECT_NO_THROW(config_from({{"ENVIRONMENT", "production"}}, Require::kNothing));
  EXPECT_EQ(config_from({}, Require::kNothing).cors_origins,
            (std::vector<std::string>{"http://localhost:3000", "http://127.0.0.1:3000"}));
  EXPECT_THROW(config_from({{"BACKEND_CORS_ORIGINS", "not an origin"}}, Require::kNothing), ConfigError);
  EXPECT_THROW(config_from({{"REDIS_URL", "http://x"}}, Require::kNothing), ConfigError);
}

TEST(ParseEnvFile, CommentsExportQuotesAndLaterKeysWin) {
  const std::string text =
      "# a comment\n"
      "\n"
      "DATABASE_URL=postgresql://first\n"
      "export REDIS_URL=redis://localhost:6379\n"
      "JWT_SECRET_KEY=\"a quoted # secret\"\n"
      "SINGLE='single quoted'\n"
      "PLAIN=value # trailing comment\n"
      "  SPACED = spaced value  \n"
      "   # indented comment\n"
      "NOEQUALS\n"
      "EMPTY=\n"
      "URL=http://host/path#fragment\n"
      "DATABASE_URL=postgresql://second\n";
  EnvMap m = parse_env_file(text);
  EXPECT_EQ(m["DATABASE_URL"], "postgresql://second");
  EXPECT_EQ(m["REDIS_URL"], "redis://localhost:6379");
  EXPECT_EQ(m["JWT_SECRET_KEY"], "a quoted # secret");
  EXPECT_EQ(m["SINGLE"], "single quoted");
  EXPECT_EQ(m["PLAIN"], "value");
  EXPECT_EQ(m["SPACED"], "spaced value");
  EXPECT_EQ(m["URL"], "http://host/path#fragment");
  EXPECT_EQ(m.count("NOEQUALS"), 0u);
  EXPECT_EQ(m.count("EXPORT REDIS_URL"), 0u);
  EXPECT_EQ(m.count("export REDIS_URL"), 0u);
  ASSERT_EQ(m.count("EMPTY"), 1u);
  EXPECT_EQ(m["EMPTY"], "");
  EXPECT_EQ(m.size(), 8u);
}

TEST(ParseEnvFile, QuotedValueWithATrailingComment) {
  EnvMap m = parse_env_file("JWT_SECRET_KEY=\"s3cret value\" # the signing key\nOTHER='x' # note\n");
  EXPECT_EQ(m["JWT_SECRET_KEY"], "s3cret value");
  EXPECT_EQ(m["OTHER"], "x");
}

TEST(ParseEnvFile, CrLfLines) {
  EnvMap m = parse_env_file("A=1\r\nB=\"two\"\r\n");
  EXPECT_EQ(m["A"], "1");
  EXPECT_EQ(m["B"], "two");
}

TEST(ParseOriginList, JsonList) {
  EXPECT_EQ(parse_origin_list(R"(["http://localhost:3000", "https://chat.example.com"])"),
            (std::vector<std::string>{"http://localhost:3000", "https://chat.example.com"}));
}

TEST(ParseOriginList, CommaList) {
  EXPECT_EQ(parse_origin_list("http://a.example, http://b.example:8080 ,,"),
            (std::vector<std::string>{"http://a.example", "http://b.example:8080"}));
}

TEST(ParseOriginList, Star) { EXPECT_EQ(parse_origin_list("*"), std::vector<std::string>{"*"}); }

TEST(ParseOriginList, TrailingSlashesAreDropped) {
  EXPECT_EQ(parse_origin_list(R"(["http://a.example/", "http://b.example//"])"),
            (std::vector<std::string>{"http://a.example", "http://b.example"}));
  EXPECT_EQ(parse_origin_list("http://c.example/"), std::vector<std::string>{"http://c.example"});
}

TEST(ParseOriginList, EmptyJsonList) { EXPECT_TRUE(parse_origin_list("[]").empty()); }

TEST(ParseOriginList, JsonListWithSingleQuotesAndSpaces) {
  EXPECT_EQ(parse_origin_list(" [ 'http://a.example' ,\"http://b.example:81/\" ] "),
            (std::vector<std::string>{"http://a.example", "http://b.example:81"}));
}

TEST(IsOrigin, SchemeHostAndPortOnly) {
  for (const char* ok : {"*", "http://localhost:3000", "https://chat.example.com", "http://[::1]:8080",
                         "http://127.0.0.1", "app+x.y-z://host", "capacitor://localhost"}) {
    EXPECT_TRUE(is_origin(ok)) << ok;
  }
  for (const char* bad : {"", "not an origin", "localhost:3000", "://host", "http://", "http://a/path",
                          "http://a b", "1http://a", "http://a?q", "**", "\"http://a\"", "[\"http://a\""}) {
    EXPECT_FALSE(is_origin(bad)) << bad;
  }
}

TEST(Config, CorsFormsGiveTheSameOrigins) {
  const std::vector<std::string> both{"http://localhost:3000", "http://allowed.example"};
  for (const char* form : {"http://localhost:3000,http://allowed.example", " http://localhost:3000 , http://allowed.example/ ",
                           R"(["http://localhost:3000", "http://allowed.example"])",
                           R"(["http://localhost:3000/","http://allowed.example"])"}) {
    EnvMap v = minimal();
    v["BACKEND_CORS_ORIGINS"] = form;
    EXPECT_EQ(config_from(v).cors_origins, both) << form;
  }
  EnvMap v = minimal();
  v["BACKEND_CORS_ORIGINS"] = "*";
  EXPECT_EQ(config_from(v).cors_origins, std::vector<std::string>{"*"});
  v["BACKEND_CORS_ORIGINS"] = R"(["*"])";
  EXPECT_EQ(config_from(v).cors_origins, std::vector<std::string>{"*"});
  v["BACKEND_CORS_ORIGINS"] = "[]";  // no browser origin at all (empty: the default)
  EXPECT_TRUE(config_from(v).cors_origins.empty());
}

TEST(Config, AnInvalidOriginIsAProblemNamingBackendCorsOrigins) {
  for (const char* bad : {"not an origin", "http://ok.example,localhost:3000", R"(["http://a.example/path"])",
                          R"(["http://a.example")"}) {
    EnvMap v = minimal();
    v["BACKEND_CORS_ORIGINS"] = bad;
    auto p = problems_of(v);
    ASSERT_EQ(p.size(), 1u) << bad;
    EXPECT_EQ(p[0].rfind("BACKEND_CORS_ORIGINS: \"", 0), 0u) << p[0];
    EXPECT_NE(p[0].find("is not an origin like http://host:port"), std::string::npos) << p[0];
  }
  EnvMap v = minimal();
  v["BACKEND_CORS_ORIGINS"] = "not an origin";
  EXPECT_EQ(problems_of(v)[0], "BACKEND_CORS_ORIGINS: \"not an origin\" is not an origin like http://host:port (nor *)");
}

TEST(OriginAllowed, ExactMatchesOnly) {
  EnvMap v = minimal();
  v["BACKEND_CORS_ORIGINS"] = R"(["http://localhost:3000/", "https://chat.example.com"])";
  Config c = config_from(v);
  EXPECT_TRUE(c.origin_allowed("http://localhost:3000"));
  EXPECT_TRUE(c.origin_allowed("https://chat.example.com"));
  EXPECT_FALSE(c.origin_allowed("http://localhost:3001"));
  EXPECT_FALSE(c.origin_allowed("https://evil.example.com"));
  EXPECT_FALSE(c.origin_allowed("http://chat.example.com"));
  EXPECT_FALSE(c.origin_allowed(""));
}

TEST(OriginAllowed, StarAllowsEveryOrigin) {
  Config c;
  c.cors_origins = parse_origin_list("*");
  EXPECT_TRUE(c.origin_allowed("https://anything.example"));
  c.cors_origins = {};
  EXPECT_FALSE(c.origin_allowed("https://anything.example"));
}

TEST(OriginAllowed, DefaultsAllowTheLocalDevServer) {
  Config c = config_from(minimal());
  EXPECT_TRUE(c.origin_allowed("http://localhost:3000"));
  EXPECT_TRUE(c.origin_allowed("http://127.0.0.1:3000"));
  EXPECT_FALSE(c.origin_allowed("http://localhost:8000"));
}

// ---- the worker's settings (Config::worker): WORKER_* defaults, ranges, problems reported with the rest ----

TEST(WorkerSettings, Defaults) {
  Config c = config_from(minimal());
  EXPECT_EQ(c.worker.concurrency, 4);
  EXPECT_EQ(c.worker.job_timeout_ms, 30000);
  EXPECT_EQ(c.worker.max_attempts, 5);
  EXPECT_EQ(c.worker.backoff_base_ms, 1000);
  EXPECT_EQ(c.worker.backoff_cap_ms, 300000);
  EXPECT_FALSE(c.worker.test_jobs);
  EXPECT_EQ(c.redis_url, "redis://localhost:6379/0");
  EXPECT_EQ(c.instance, "");
}

TEST(WorkerSettings, ReadsEverySetting) {
  EnvMap v = minimal();
  v["WORKER_CONCURRENCY"] = "8";
  v["WORKER_JOB_TIMEOUT_MS"] = "1500";
  v["WORKER_MAX_ATTEMPTS"] = "3";
  v["WORKER_BACKOFF_BASE_MS"] = "50";
  v["WORKER_BACKOFF_CAP_MS"] = "400";
  v["CHAT_WORKER_TEST_JOBS"] = "1";
  WorkerSettings s = config_from(v).worker;
  EXPECT_EQ(s.concurrency, 8);
  EXPECT_EQ(s.job_timeout_ms, 1500);
  EXPECT_EQ(s.max_attempts, 3);
  EXPECT_EQ(s.backoff_base_ms, 50);
  EXPECT_EQ(s.backoff_cap_ms, 400);
  EXPECT_TRUE(s.test_jobs);
  v["CHAT_WORKER_TEST_JOBS"] = "0";
  EXPECT_FALSE(config_from(v).worker.test_jobs);
}

TEST(WorkerSettings, MillisecondsBeyondInt32AreRead) {
  EnvMap v = minimal();
  v["WORKER_JOB_TIMEOUT_MS"] = "86400000";
  v["WORKER_BACKOFF_CAP_MS"] = "86400000";
  Config c = config_from(v);
  EXPECT_EQ(c.worker.job_timeout_ms, 86400000);
  EXPECT_EQ(c.worker.backoff_cap_ms, 86400000);
  v["WORKER_JOB_TIMEOUT_MS"] = "86400001";
  EXPECT_TRUE(mentions(problems_of(v), "WORKER_JOB_TIMEOUT_MS"));
}

TEST(WorkerSettings, BadNumbersNameTheVariable) {
  for (const char* bad : {"0", "-1", "4 ", " 4", "+4", "4x", "0x10", "", "65"}) {
    EnvMap v = minimal();
    v["WORKER_CONCURRENCY"] = bad;
    auto p = problems_of(v);
    if (std::string(bad).empty()) {
      EXPECT_TRUE(p.empty()) << "an empty value is an unset one";
      continue;
    }
    ASSERT_EQ(p.size(), 1u) << bad;
    EXPECT_NE(p[0].find("WORKER_CONCURRENCY must be an integer from 1 to 64"), std::string::npos) << p[0];
    EXPECT_NE(p[0].find(std::string("\"") + bad + "\""), std::string::npos) << p[0];
  }
}

TEST(WorkerSettings, EveryProblemIsReportedAtOnceWithCoreOnes) {
  EnvMap v;  // no DATABASE_URL nor REDIS_URL either
  v["WORKER_CONCURRENCY"] = "0";
  v["WORKER_JOB_TIMEOUT_MS"] = "fast";
  v["WORKER_BACKOFF_BASE_MS"] = "500";
  v["WORKER_BACKOFF_CAP_MS"] = "100";
  v["CHAT_WORKER_TEST_JOBS"] = "yes";
  v["REALTIME_AUTH_THREADS"] = "many";
  auto p = problems_of(v);
  EXPECT_EQ(p.size(), 7u);
  EXPECT_TRUE(mentions(p, "DATABASE_URL"));
  EXPECT_TRUE(mentions(p, "REDIS_URL"));
  EXPECT_TRUE(mentions(p, "WORKER_CONCURRENCY"));
  EXPECT_TRUE(mentions(p, "WORKER_JOB_TIMEOUT_MS"));
  EXPECT_TRUE(mentions(p, "WORKER_BACKOFF_CAP_MS"));
  EXPECT_TRUE(mentions(p, "CHAT_WORKER_TEST_JOBS"));
  EXPECT_TRUE(mentions(p, "REALTIME_AUTH_THREADS"));
}

TEST(WorkerSettings, InstanceNameFromTheSupervisor) {
  EnvMap v = minimal();
  v["SUPERVISOR_PROCESS_NAME"] = "chat-worker-2";
  EXPECT_EQ(config_from(v).instance, "chat-worker-2");
  v["CHAT_INSTANCE"] = "chat-worker-7";  // the systemd unit's name wins
  EXPECT_EQ(config_from(v).instance, "chat-worker-7");
}

}  // namespace
}  // namespace chat

// Tests core/config.hpp: config_from with every problem reported at once, production secret rules, .env parsing and CORS origins.
#include "core/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

}  // namespace
}  // namespace chat

// chat-admin COMMAND ...: the operator's side of the admin group (the same executable serves /api/v1/admin when
// it is started with no arguments on a FastCGI socket). It needs only DATABASE_URL and REDIS_URL; every change it
// makes is audited with the actor `system`.
#include "handlers/admin_cli.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/crypto.hpp"
#include "core/log.hpp"
#include "domain/moderation.hpp"

namespace chat::handlers {
using namespace chat::domain;  // the handlers are the HTTP face of the domain layer

const char* const kAdminCliUsage =
    "usage: chat-admin COMMAND [ARGUMENTS]        (DATABASE_URL and REDIS_URL from the environment or CHAT_ENV_FILE)\n"
    "\n"
    "  create-user USERNAME EMAIL [--role member|moderator|admin] [--password PASSWORD]\n"
    "                       a new user (prints a generated password when none is given; the very first user of a\n"
    "                       server is an admin whatever --role says)\n"
    "  set-role USER ROLE   member, moderator or admin\n"
    "  reset-password USER  prints a new password to hand over once; every session of the user is revoked\n"
    "  ban USER [--reason TEXT] [--hours N]        until unbanned, or for N hours\n"
    "  suspend USER [--reason TEXT] [--hours N]    for N hours (default 24)\n"
    "  unban USER [--reason TEXT]                  lifts a ban or a suspension\n"
    "  audit-log [--limit N] [--actor USER|system] [--target USER] [--action NAME] [--json]\n"
    "                       newest first (default 50)\n"
    "\n"
    "USER is an id, a username or an email. Exit status: 0 done, 1 refused or failed, 2 usage.\n";

namespace {

constexpr db::Statement kAuditRows{
    "cli_audit_rows",
    "SELECT a.id, rfc3339(a.created_at) AS at, a.actor, a.action, coalesce(a.target_kind, '') AS target_kind, "
    "coalesce(a.target_id::text, '') AS target_id, coalesce(u.username, '') AS target_name, "
    "coalesce(a.reason, '') AS reason, a.details::text AS details "
    "FROM audit_log a LEFT JOIN users u ON u.id = a.target_id AND a.target_kind = 'user' "
    "WHERE ($1::uuid IS NULL OR a.actor_id = $1) AND ($2::text IS NULL OR a.actor = $2) "
    "AND ($3::uuid IS NULL OR a.target_id = $3) AND ($4::text IS NULL OR a.action = $4) ORDER BY a.id DESC LIMIT $5"};
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // "--role" -> "admin"; flags -> ""
};

bool parse(int argc, char** argv, const std::vector<std::string>& with_value, const std::vector<std::string>& flags,
           Args* out, std::string* error) {
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      out->positional.push_back(a);
      continue;
    }
    if (std::find(flags.begin(), flags.end(), a) != flags.end()) {
      out->options[a] = "";
    } else if (std::find(with_value.begin(), with_value.end(), a) != with_value.end()) {
      if (i + 1 >= argc) {
        *error = a + " needs a value";
        return false;
      }
      out->options[a] = argv[++i];
    } else {
      *error = "unknown option " + a;
      return false;
    }
  }
  return true;
}

std::optional<std::string> option(const Args& a, const char* name) {
  auto it = a.options.find(name);
  if (it == a.options.end()) return std::nullopt;
  return it->second;
}

std::string user_or_fail(Context& ctx, const std::string& who) {
  auto id = find_user_id(ctx, who);
  if (!id) http::not_found("User not found: " + who);
  return *id;
}

void print_user(const json::Value& u) { std::printf("%s\n", u.dump().c_str()); }

int run(Context& ctx, const std::string& cmd, const Args& a) {
  const Actor system = Actor::system();
  auto need = [&a](size_t n) {
    if (a.positional.size() != n) throw std::invalid_argument("wrong number of arguments");
  };
  if (cmd == "create-user") {
    need(2);
    std::string role = option(a, "--role").value_or("member");
    if (role != "member" && role != "moderator" && role != "admin") throw std::invalid_argument("bad --role");
    auto given = option(a, "--password");
    std::string password = given ? *given : crypto::random_token(15);  // 20 URL-safe characters
    std::string id = create_user(ctx, system, a.positional[0], a.positional[1], password, role);
    std::printf("created user %s (%s)\n", a.positional[0].c_str(), id.c_str());
    if (!given) std::printf("password: %s\n", password.c_str());
    return 0;
  }
  if (cmd == "set-role") {
    need(2);
    const std::string& role = a.positional[1];
    if (role != "member" && role != "moderator" && role != "admin") throw std::invalid_argument("bad role");
    print_user(set_role(ctx, system, user_or_fail(ctx, a.positional[0]), role));
    return 0;
  }
  if (cmd == "reset-password") {
    need(1);
    std::string password = reset_password(ctx, system, user_or_fail(ctx, a.positional[0]));
    std::printf("new password for %s: %s\n(hand it over once; the user's sessions are revoked)\n",
                a.positional[0].c_str(), password.c_str());
    return 0;
  }
  if (cmd == "ban" || cmd == "suspend") {
    need(1);
    std::optional<double> hours;
    if (auto h = option(a, "--hours")) {
      char* end = nullptr;
      double v = std::strtod(h->c_str(), &end);
      if (h->empty() || *end || !(v > 0) || v > 24.0 * 365 * 100) throw std::invalid_argument("bad --hours");
      hours = v;
    } else if (cmd == "suspend") {
      hours = 24;
    }
    print_user(restrict_user(ctx, system, user_or_fail(ctx, a.positional[0]),
                             cmd == "ban" ? Restriction::kBan : Restriction::kSuspend, option(a, "--reason"), hours));
    return 0;
  }
  if (cmd == "unban") {
    need(1);
    print_user(lift_restriction(ctx, system, user_or_fail(ctx, a.positional[0]), option(a, "--reason")));
    return 0;
  }
  if (cmd == "audit-log") {
    need(0);
    int64_t limit = 50;
    if (auto l = option(a, "--limit")) {
      limit = std::atoll(l->c_str());
      if (limit < 1 || limit > 10000) throw std::invalid_argument("bad --limit");
    }
    AuditFilter f;
    f.limit = limit;
    f.action = option(a, "--action");
    if (auto actor = option(a, "--actor")) {
      if (*actor == "system") f.actor = *actor;
      else f.actor_id = user_or_fail(ctx, *actor);
    }
    if (auto t = option(a, "--target")) f.target_id = user_or_fail(ctx, *t);
    if (option(a, "--json")) {
      std::printf("%s\n", audit_log_json(ctx, f).c_str());
      return 0;
    }
    auto r = ctx.db.exec(kAuditRows, {f.actor_id, f.actor, f.target_id, f.action, f.limit});
    for (int i = 0; i < r.rows(); ++i) {
      std::printf("%s  %-6s %-20s %-20s %s %s %s%s\n", r.text(i, "at").data(), r.str(i, "id").c_str(),
                  r.str(i, "actor").c_str(), r.str(i, "action").c_str(), r.str(i, "target_kind").c_str(),
                  r.str(i, "target_name").empty() ? r.str(i, "target_id").c_str() : r.str(i, "target_name").c_str(),
                  r.str(i, "details").c_str(),
                  r.str(i, "reason").empty() ? "" : ("  reason: " + r.str(i, "reason")).c_str());
    }
    return 0;
  }
  throw std::invalid_argument("unknown command " + cmd);
}

}  // namespace

int admin_command(int argc, char** argv) {
  log::set_program("chat-admin");
  log::set_level("warn");
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kAdminCliUsage, stdout);
    return 0;
  }
  Args args;
  std::string error;
  if (!parse(argc, argv, {"--role", "--password", "--reason", "--hours", "--limit", "--actor", "--target", "--action"},
             {"--json"}, &args, &error)) {
    std::fprintf(stderr, "chat-admin: %s\n%s", error.c_str(), kAdminCliUsage);
    return 2;
  }
  // The command signs no token, so production's secret checks do not concern it: DATABASE_URL and REDIS_URL
  // are all it needs.
  Config config;
  try {
    config = load_config(Require::kOperator);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "chat-admin: %s\n", e.what());
    return 2;
  }
  db::Connection db(config.database_url, "chat-admin");
  redis::Client redis(redis::target_of(config));
  Context ctx{config, db, redis};
  try {
    return run(ctx, cmd, args);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "chat-admin: %s\n%s", e.what(), kAdminCliUsage);
    return 2;
  } catch (const http::HttpError& e) {
    std::fprintf(stderr, "chat-admin: %s\n", e.detail().c_str());
    for (const auto& fe : e.errors()) std::fprintf(stderr, "  %s\n", fe.msg.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chat-admin: %s\n", e.what());
    return 1;
  }
}

}  // namespace chat::handlers

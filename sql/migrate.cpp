// chat-migrate DIR: applies the migrations in DIR (NNN_name.sql) that schema_migrations lacks, in order, then
// DIR/grants.sql (the application role's rights, every time). Safe to run twice and from two hosts at once:
// an advisory lock serializes runs. It connects as the owner of the schema: MIGRATE_DATABASE_URL, else
// DATABASE_URL; the application role is CHAT_DB_APP_ROLE (default chat_app; empty: no grants).
// chat-migrate --print-cors: BACKEND_CORS_ORIGINS as the programs read it, one origin per line (nothing for an
// empty list), or the configuration's problems on stderr and status 2. It is here because chat-migrate is the
// program that runs before all others (the dev stack and chat-migrate.service run it before anything serves),
// needs no service to answer, and is a command rather than a daemon: deploy/stack.sh renders nginx's CORS map
// and chat.env from its answer instead of parsing the list a second time.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/crypto.hpp"
#include "core/db.hpp"
#include "core/log.hpp"

namespace {

constexpr chat::db::Statement kCreateTable{
    "migrate_create",
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"};
constexpr chat::db::Statement kLock{"migrate_lock", "SELECT pg_advisory_xact_lock(727274)"};
constexpr chat::db::Statement kApplied{"migrate_applied", "SELECT checksum FROM schema_migrations WHERE version = $1"};
constexpr chat::db::Statement kRecord{"migrate_record",
                                      "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)"};
// grants.sql reads the role's name from this setting: an identifier is never spliced into SQL text here.
constexpr chat::db::Statement kAppRole{"migrate_app_role", "SELECT set_config('chat.app_role', $1, false)"};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Prints the normalised origins, one a line; every setting given is checked too, so the stack stops on any
// bad value before it starts a program. Nothing is required: the stack asks before it writes chat.env.
int print_cors() {
  try {
    const chat::Config config = chat::load_config(chat::Require::kNothing);
    for (const auto& origin : config.cors_origins) std::printf("%s\n", origin.c_str());
    return 0;
  } catch (const chat::ConfigError& e) {
    std::fprintf(stderr, "chat-migrate: %s\n", e.what());
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  chat::log::set_program("chat-migrate");
  const std::string dir = argc > 1 ? argv[1] : "sql";
  if (dir == "--print-cors") return print_cors();
  // Only a database URL is required here (environment over .env), so a half-configured host can still migrate;
  // a value that is given must be valid all the same.
  chat::Config config;
  try {
    config = chat::load_config(chat::Require::kMigrate);
  } catch (const chat::ConfigError& e) {
    std::fprintf(stderr, "chat-migrate: %s\n", e.what());
    return 2;
  }
  const std::string& url = config.migrate.database_url;
  const std::string& app_role = config.migrate.app_role;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() == ".sql" && name.size() > 4 && std::isdigit(static_cast<unsigned char>(name[0]))) {
      files.push_back(entry.path());
    }
  }
  if (ec) {
    std::fprintf(stderr, "chat-migrate: cannot read %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  std::sort(files.begin(), files.end());
  try {
    chat::db::Connection db(url, "chat-migrate");
    db.exec(kCreateTable);
    int applied = 0;
    for (const auto& path : files) {
      const std::string version = path.stem().string();
      const std::string sql = read_file(path);
      const std::string checksum = chat::crypto::sha256_hex(sql);
      chat::db::Transaction tx(db);
      tx.exec(kLock);
      auto done = tx.exec(kApplied, {version});
      if (!done.empty()) {
        if (done.text(0, "checksum") != checksum) {
          chat::log::warn("migration_changed", {{"version", version}});
        }
        continue;  // the lock is released with the transaction
      }
      db.exec_script(sql.c_str());  // a fixed file of the project, never input
      tx.exec(kRecord, {version, checksum});
      tx.commit();
      chat::log::info("migration_applied", {{"version", version}});
      ++applied;
    }
    if (!app_role.empty()) {
      const std::filesystem::path grants = std::filesystem::path(dir) / "grants.sql";
      const std::string sql = read_file(grants);
      if (sql.empty()) {
        std::fprintf(stderr, "chat-migrate: %s is missing\n", grants.c_str());
        return 1;
      }
      chat::db::Transaction tx(db);
      tx.exec(kLock);
      tx.exec(kAppRole, {app_role});
      db.exec_script(sql.c_str());  // a fixed file of the project; the role name is a setting, not SQL text
      tx.commit();
    }
    std::printf("chat-migrate: %d applied, %zu known, grants for %s\n", applied, files.size(),
                app_role.empty() ? "nobody (CHAT_DB_APP_ROLE empty)" : app_role.c_str());
  } catch (const chat::db::DbError& e) {
    std::fprintf(stderr, "chat-migrate: %s\n", e.what());
    return 1;
  }
  return 0;
}

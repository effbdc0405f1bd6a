// libpq session: statements are prepared lazily per connection, and a dropped connection is reopened.
#include "core/db.hpp"

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>

#include "core/log.hpp"

namespace chat::db {

std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    out.push_back('"');
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

void ResultDeleter::operator()(pg_result* r) const { PQclear(r); }
void ConnDeleter::operator()(pg_conn* c) const { PQfinish(c); }

int Result::rows() const { return r_ ? PQntuples(r_.get()) : 0; }

int Result::column(const char* name) const {
  int c = PQfnumber(r_.get(), name);
  if (c < 0) throw std::logic_error(std::string("no column ") + name);
  return c;
}

bool Result::is_null(int row, const char* col) const { return PQgetisnull(r_.get(), row, column(col)) != 0; }

std::string_view Result::text(int row, const char* col) const {
  int c = column(col);
  return std::string_view(PQgetvalue(r_.get(), row, c), static_cast<size_t>(PQgetlength(r_.get(), row, c)));
}

std::optional<std::string> Result::opt(int row, const char* col) const {
  if (is_null(row, col)) return std::nullopt;
  return str(row, col);
}

int64_t Result::int64(int row, const char* col) const { return std::strtoll(PQgetvalue(r_.get(), row, column(col)), nullptr, 10); }

bool Result::boolean(int row, const char* col) const { return text(row, col) == "t"; }

int Result::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::atoi(n) : 0;
}

Connection::Connection(std::string url, std::string application_name)
    : url_(std::move(url)), app_name_(std::move(application_name)) {}

void Connection::connect() {
  prepared_.clear();
  in_tx_ = false;
  // expand_dbname=1 expands the URL; the keywords after it override what it says.
  const char* keys[] = {"dbname", "application_name", "options", "connect_timeout", nullptr};
  const char* vals[] = {url_.c_str(), app_name_.c_str(), "-c TimeZone=UTC", "5", nullptr};
  conn_.reset(PQconnectdbParams(keys, vals, 1));
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string msg = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    conn_.reset();
    log::error("db_connect_failed", {{"call", "PQconnectdbParams"}, {"error", msg}});
    throw DbError("could not connect to PostgreSQL: " + msg, "08001", true);
  }
}

void Connection::ensure_connected() {
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) connect();
}

Result Connection::exec(const Statement& st, std::initializer_list<Param> params) {
  return exec(st, std::vector<Param>(params));
}

Result Connection::exec(const Statement& st, const std::vector<Param>& params) {
  try {
    return run(st, params);
  } catch (const DbError& e) {
    // A connection lost between requests (server restart, idle timeout) is retried once on a new
    // connection; inside a transaction the work is gone, so the caller must fail.
    if (!e.connection_lost() || in_tx_) throw;
    log::warn("db_reconnect", {{"statement", st.name}});
    return run(st, params);
  }
}

namespace {

std::string trimmed_error(pg_conn* c, const PGresult* r) {
  std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
  if (msg.empty() && c) msg = PQerrorMessage(c);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

// Whether an error means the session is gone rather than that the statement failed. The first error on
// a connection whose server crashed or restarted comes from libpq itself ("server closed the connection
// unexpectedly"): it has no SQLSTATE, and PQstatus may still say CONNECTION_OK at that moment. Class 08
// is a connection exception; 57P01-57P03 are the server shutting down, crashing or still starting.
bool session_lost(pg_conn* c, const char* state) {
  if (PQstatus(c) != CONNECTION_OK || !state || !*state) return true;
  std::string_view s(state);
  return s.substr(0, 2) == "08" || s == "57P01" || s == "57P02" || s == "57P03";
}

// Turns a failed result into a DbError that says whether the connection itself is gone.
DbError error_from(pg_conn* c, const PGresult* r, const char* call, const char* statement) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  bool lost = session_lost(c, state);
  std::string sqlstate = state && *state ? state : "08006";
  DbError e(trimmed_error(c, r), sqlstate, lost);
  if (const char* cons = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : nullptr) e.set_constraint(cons);
  log::Level level = e.unique_violation() || sqlstate.rfind("23", 0) == 0 ? log::Level::kDebug : log::Level::kError;
  log::write(level, "db_error", {{"call", call}, {"statement", statement}, {"sqlstate", sqlstate}, {"error", e.what()}});
  return e;
}

bool ok(const PGresult* r) {
  auto s = PQresultStatus(r);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

}  // namespace

Result Connection::run(const Statement& st, const std::vector<Param>& params) {
  ensure_connected();
  pg_conn* c = conn_.get();
  if (!prepared_.count(st.name)) {
    Result prep(PQprepare(c, st.name, st.sql, 0, nullptr));
    if (!ok(prep.raw())) fail(prep.raw(), "PQprepare", st.name);
    prepared_.insert(st.name);
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.value ? p.value->c_str() : nullptr);
  Result r(PQexecPrepared(c, st.name, static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0));
  if (!ok(r.raw())) fail(r.raw(), "PQexecPrepared", st.name);
  return r;
}

void Connection::fail(const pg_result* r, const char* call, const char* statement) {
  DbError e = error_from(conn_.get(), r, call, statement);
  // A lost session is never used again: the next statement opens a new one, and a Transaction that
  // is unwinding does not try to roll back on it.
  if (e.connection_lost()) conn_.reset();
  throw e;
}

void Connection::exec_script(const char* sql) {
  for (int attempt = 0;; ++attempt) {
    ensure_connected();
    Result r(PQexec(conn_.get(), sql));
    if (ok(r.raw())) return;
    try {
      fail(r.raw(), "PQexec", "script");
    } catch (const DbError& e) {
      if (!e.connection_lost() || in_tx_ || attempt > 0) throw;
      // reopened on the next pass, like exec()
    }
  }
}

bool Connection::ping() {
  static constexpr Statement kPing{"ping", "SELECT 1"};
  try {
    exec(kPing);
    return true;
  } catch (const DbError&) {
    return false;
  }
}

Transaction::Transaction(Connection& c) : c_(c) {
  c_.exec_script("BEGIN");
  c_.in_tx_ = true;
}

Transaction::~Transaction() {
  if (done_) return;
  c_.in_tx_ = false;
  try {
    if (c_.conn_ && PQstatus(c_.conn_.get()) == CONNECTION_OK) c_.exec_script("ROLLBACK");
  } catch (const DbError&) {
    c_.conn_.reset();  // a connection that cannot roll back is not reused
  }
}

void Transaction::commit() {
  c_.exec_script("COMMIT");
  c_.in_tx_ = false;
  done_ = true;
}

}  // namespace chat::db

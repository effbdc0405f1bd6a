// libpq session: statements are prepared lazily per connection, and a dropped connection is reopened.
#include "core/db.hpp"

#include <libpq-fe.h>

#include <poll.h>

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

bool Result::is_null(int row, const char* col) const { return is_null(row, column(col)); }

std::string_view Result::text(int row, const char* col) const { return text(row, column(col)); }

bool Result::is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }

std::string_view Result::text(int row, int col) const {
  return std::string_view(PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col)));
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
  const char* vals[] = {url_.c_str(), app_name_.c_str(), kSessionOptions, "5", nullptr};
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
  // An idle session has nothing to say: a readable socket means the server ended it (a restart, a crash,
  // pg_terminate_backend, an idle timeout: its FATAL and its close are waiting). Found here, before a flight
  // is sent, it costs a reconnect; found in the flight's first result, a flight that holds a COMMIT could not
  // be retried (whether it committed would be unknown) and the request would fail. Inside a transaction the
  // work is gone either way, and the flight reports it.
  if (conn_ && !in_tx_) {
    pollfd p{PQsocket(conn_.get()), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0) {
      log::warn("db_reconnect", {{"reason", "the server closed the idle session"}});
      conn_.reset();
    }
  }
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) connect();
}

Result Connection::exec(const Statement& st, std::initializer_list<Param> params) {
  return exec(st, std::vector<Param>(params));
}

Result Connection::exec(const Statement& st, const std::vector<Param>& params) {
  return std::move(run_calls({Call{&st, params}}).back());
}

std::vector<Result> Connection::run_calls(const std::vector<Call>& calls) {
  // A connection lost between requests (server restart, idle timeout) is retried once on a new
  // connection; inside a transaction the work is gone, so the caller must fail. A transaction's first
  // statements carry its BEGIN, and nothing can have committed yet: those are retried too.
  if (!tx_pending_) return flight_retried(calls, !in_tx_);
  std::vector<Call> with_begin{Call{nullptr, {}, "BEGIN"}};
  with_begin.insert(with_begin.end(), calls.begin(), calls.end());
  auto results = flight_retried(with_begin, true);
  results.erase(results.begin());
  return results;
}

void Connection::abandon_transaction() {
  in_tx_ = false;
  try {
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) exec_script("ROLLBACK");
  } catch (const DbError&) {
    conn_.reset();  // a connection that cannot roll back is not reused
  }
}

Connection::CommittedThen Connection::exec_committed_then(const Statement& st, const std::vector<Param>& params,
                                                          const std::vector<Call>& then) {
  if (in_tx_ || tx_pending_) throw std::logic_error("exec_committed_then inside a transaction");
  std::vector<Call> calls{Call{nullptr, {}, "BEGIN"}, Call{&st, params}, Call{nullptr, {}, "COMMIT"}};
  if (!then.empty()) calls.push_back(Call{nullptr, {}, "BEGIN"});
  calls.insert(calls.end(), then.begin(), then.end());
  std::optional<DbError> error;
  std::vector<Result> results = flight(calls, &error);
  constexpr size_t kCommitted = 3;  // BEGIN, the statement and COMMIT answered
  if (results.size() < kCommitted) {
    // The statement or its COMMIT failed, and what came after was skipped: the transaction is open and aborted.
    if (in_tx_) abandon_transaction();
    throw error ? *error : DbError("the commit did not answer", "08006", true);
  }
  CommittedThen out{std::move(results[1]), {}, std::nullopt};
  if (error) {
    if (in_tx_) abandon_transaction();
    out.then_error = std::move(error);
    return out;
  }
  for (size_t i = kCommitted + 1; i < results.size(); ++i) out.then.push_back(std::move(results[i]));
  return out;
}

std::vector<Result> Connection::flight_retried(const std::vector<Call>& calls, bool retry) {
  try {
    return flight(calls);
  } catch (const DbError& e) {
    // Only a session found lost at the flight's first call is retried: a stale connection fails there.
    // One lost while a later call ran (a transaction's statement, after its BEGIN) lost work in progress,
    // and the caller must say so (503), as it would without the pipeline.
    if (!e.connection_lost() || !retry || failed_call_ != 0) throw;
    log::warn("db_reconnect", {{"statement", calls.back().st ? calls.back().st->name : calls.back().sql}});
    return flight(calls);
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

std::vector<Result> Connection::flight(const std::vector<Call>& calls, std::optional<DbError>* error_out) {
  ensure_connected();
  pg_conn* c = conn_.get();
  ++round_trips_;
  failed_call_ = 0;  // a failure while sending: nothing ran
  // Pipeline mode for every flight, even of one statement: an unprepared statement's Parse then travels
  // with its first execution, so preparing never costs a round trip of its own.
  if (PQenterPipelineMode(c) != 1) fail(nullptr, "PQenterPipelineMode", "flight");
  struct Sent {
    size_t call;
    bool prepare;
  };
  std::vector<Sent> sent;
  std::vector<const char*> values;
  for (size_t i = 0; i < calls.size(); ++i) {
    const Call& call = calls[i];
    int ok_send;
    if (call.st) {
      if (!prepared_.count(call.st->name)) {
        if (PQsendPrepare(c, call.st->name, call.st->sql, 0, nullptr) != 1) fail(nullptr, "PQsendPrepare", call.st->name);
        sent.push_back({i, true});
      }
      values.clear();
      for (const auto& p : call.params) values.push_back(p.value ? p.value->c_str() : nullptr);
      ok_send = PQsendQueryPrepared(c, call.st->name, static_cast<int>(values.size()), values.data(), nullptr,
                                    nullptr, 0);
    } else {
      ok_send = PQsendQueryParams(c, call.sql, 0, nullptr, nullptr, nullptr, nullptr, 0);
    }
    if (ok_send != 1) fail(nullptr, "PQsendQuery", call.st ? call.st->name : call.sql);
    sent.push_back({i, false});
  }
  if (PQpipelineSync(c) != 1) fail(nullptr, "PQpipelineSync", "flight");

  // Every result is read, the failed one and the skipped ones after it included, up to the sync: only
  // then is the connection ready for the next flight.
  std::vector<Result> results;
  std::optional<DbError> error;
  for (const Sent& s : sent) {
    const Call& call = calls[s.call];
    const char* name = call.st ? call.st->name : call.sql;
    Result r(PQgetResult(c));
    if (!r.raw()) {  // the connection broke: no more results will come
      if (!error) error = error_from(c, nullptr, "PQgetResult", name), failed_call_ = s.call;
      break;
    }
    while (PGresult* extra = PQgetResult(c)) PQclear(extra);  // the NULL that ends each command's results
    ExecStatusType st = PQresultStatus(r.raw());
    if (error || st == PGRES_PIPELINE_ABORTED) continue;
    if (!ok(r.raw())) {
      error = error_from(c, r.raw(), s.prepare ? "PQsendPrepare" : "PQsendQueryPrepared", name);
      failed_call_ = s.call;
      if (call.sql && std::strcmp(call.sql, "COMMIT") == 0) in_tx_ = false;  // a failed COMMIT ends it too
      continue;
    }
    if (s.prepare) {
      prepared_.insert(call.st->name);
      continue;
    }
    if (call.sql && std::strcmp(call.sql, "BEGIN") == 0) in_tx_ = true, tx_pending_ = false;
    if (call.sql && (std::strcmp(call.sql, "COMMIT") == 0 || std::strcmp(call.sql, "ROLLBACK") == 0)) in_tx_ = false;
    results.push_back(std::move(r));
  }
  if (conn_ && PQstatus(c) == CONNECTION_OK) {
    Result sync(PQgetResult(c));
    if (sync.raw() && PQresultStatus(sync.raw()) == PGRES_PIPELINE_SYNC && PQexitPipelineMode(c) == 1) {
      if (error) {
        if (error->connection_lost()) conn_.reset();
        if (!error_out) throw *error;
        *error_out = std::move(error);
      }
      return results;
    }
  }
  // The pipeline did not end at its sync: the session cannot be trusted with another statement.
  conn_.reset();
  in_tx_ = false;
  DbError lost = error ? DbError(error->what(), error->sqlstate(), true) : DbError("the pipeline did not end", "08006", true);
  if (!error_out) throw lost;
  *error_out = std::move(lost);
  return results;
}

void Connection::fail(const pg_result* r, const char* call, const char* statement) {
  DbError e = error_from(conn_.get(), r, call, statement);
  // A lost session is never used again: the next statement opens a new one, and a Transaction that
  // is unwinding does not try to roll back on it.
  if (e.connection_lost()) conn_.reset();
  throw e;
}

void Connection::exec_script(const char* sql) {
  if (tx_pending_) {  // a Transaction whose first statement is a script: its BEGIN goes first
    tx_pending_ = false;
    exec_script("BEGIN");
    in_tx_ = true;
  }
  for (int attempt = 0;; ++attempt) {
    ensure_connected();
    ++round_trips_;
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
  if (c_.in_tx_ || c_.tx_pending_) throw std::logic_error("nested transaction");
  c_.tx_pending_ = true;
}

Transaction::Transaction(Connection& c, Opened) : c_(c) {
  if (!c_.in_tx_ || c_.tx_pending_) throw std::logic_error("no open transaction to adopt");
}

Transaction::~Transaction() {
  if (done_) return;
  c_.tx_pending_ = false;
  if (c_.in_tx_) c_.abandon_transaction();  // else BEGIN never sent, or the session is gone
}

std::vector<Result> Transaction::exec_all(const std::vector<Call>& calls) {
  if (!c_.tx_pending_ && !c_.in_tx_) throw DbError("the transaction's connection was lost", "08006", true);
  return c_.run_calls(calls);
}

void Transaction::commit() {
  done_ = true;
  if (c_.tx_pending_) {  // nothing ran: nothing to commit
    c_.tx_pending_ = false;
    return;
  }
  c_.exec_script("COMMIT");
  c_.in_tx_ = false;
}

}  // namespace chat::db

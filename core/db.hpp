// PostgreSQL through libpq: one Connection per thread, named prepared statements, reconnect, transactions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;

namespace chat::db {

// The settings of every session (libpq's `options`; tests/integration/test_query_plans.py reads this line):
// - TimeZone=UTC, DateStyle=ISO: timestamps are rendered as "YYYY-MM-DD HH:MM:SS[.ffffff]+00" (core/timefmt.cpp's
//   pg_to_rfc3339 relies on it; the server's default DateStyle could be another);
// - plan_cache_mode=force_generic_plan: a prepared statement is planned once per connection, not on every
//   run. Left to itself PostgreSQL plans the first five runs for their values and then keeps re-planning the
//   page and send statements (the generic plan's estimate, with LIMIT $n and the conversation unknown, looks
//   worse than the custom ones), and planning the big JSON-building statements costs about as much as running
//   them. Their plans do not depend on the values: each reads one conversation or user through its index
//   (tests/integration/test_query_plans.py checks the generic plans, and that planning stays below running);
// - jit=off: the statements are short, and compiling never pays. A misestimated cost passes jit_above_cost
//   all the same (/channels/my over one large conversation compiled with LLVM for 60-90 ms a request to run
//   8 ms of query), and with generic plans it would on every run;
// - idle_in_transaction_session_timeout=5000: a session quiet inside a transaction for 5 s is ended by the server.
//   The outbox relay holds its conversation's lock while it talks to Redis (at most a few seconds, with Sentinel
//   failover included); when its host drops off the network the server would otherwise keep that lock until TCP
//   gives up, hours, and every send of the conversation on every host would wait for it
//   (tests/integration/test_idle_transaction.py; the third fault of tests/cluster).
inline constexpr const char* kSessionOptions =
    "-c TimeZone=UTC -c DateStyle=ISO -c plan_cache_mode=force_generic_plan -c jit=off -c idle_in_transaction_session_timeout=5000";

// A named SQL constant, prepared once per connection on first use; run only with $n parameters.
struct Statement {
  const char* name;
  const char* sql;
};

// A text parameter or SQL NULL.
struct Param {
  std::optional<std::string> value;
  Param(std::nullopt_t) {}  // NOLINT: implicit by design, so call sites read like the SQL
  Param(const char* s) : value(s) {}
  Param(std::string s) : value(std::move(s)) {}
  Param(std::string_view s) : value(std::string(s)) {}
  Param(const std::optional<std::string>& s) : value(s) {}
  Param(int v) : value(std::to_string(v)) {}
  Param(int64_t v) : value(std::to_string(v)) {}
  Param(bool b) : value(b ? "true" : "false") {}
};

// One statement of a flight: a prepared Statement with its parameters, or fixed SQL without any
// (BEGIN, COMMIT).
struct Call {
  const Statement* st = nullptr;
  std::vector<Param> params;
  const char* sql = nullptr;  // when st is null
};

// A PostgreSQL array literal ({"a","b"}) for a text[] parameter; elements are quoted and escaped.
std::string text_array(const std::vector<std::string>& items);

class DbError : public std::runtime_error {
 public:
  DbError(std::string message, std::string sqlstate, bool connection_lost)
      : std::runtime_error(std::move(message)), sqlstate_(std::move(sqlstate)), connection_lost_(connection_lost) {}
  const std::string& sqlstate() const { return sqlstate_; }
  bool connection_lost() const { return connection_lost_; }
  bool unique_violation() const { return sqlstate_ == "23505"; }
  // The constraint named in the error (for unique violations), "" when absent.
  const std::string& constraint() const { return constraint_; }
  void set_constraint(std::string c) { constraint_ = std::move(c); }

 private:
  std::string sqlstate_;
  bool connection_lost_;
  std::string constraint_;
};

struct ResultDeleter {
  void operator()(pg_result* r) const;
};

class Result {
 public:
  explicit Result(pg_result* r) : r_(r) {}
  int rows() const;
  bool empty() const { return rows() == 0; }
  int column(const char* name) const;  // throws std::logic_error for an unknown name
  bool is_null(int row, const char* col) const;
  std::string_view text(int row, const char* col) const;
  // By column number (column() once per result, not per row: a lookup by name copies and scans the names).
  bool is_null(int row, int col) const;
  std::string_view text(int row, int col) const;
  std::string str(int row, const char* col) const { return std::string(text(row, col)); }
  std::optional<std::string> opt(int row, const char* col) const;  // nullopt for NULL
  int64_t int64(int row, const char* col) const;
  bool boolean(int row, const char* col) const;
  int affected() const;  // rows touched by INSERT/UPDATE/DELETE
  const pg_result* raw() const { return r_.get(); }

 private:
  std::unique_ptr<pg_result, ResultDeleter> r_;
};

struct ConnDeleter {
  void operator()(pg_conn* c) const;
};

class Connection {
 public:
  // `url` is a libpq URI or key=value string; the session always runs in UTC.
  Connection(std::string url, std::string application_name);

  // Runs a prepared statement. A lost connection outside a transaction is reopened and the
  // statement retried once; anything else throws DbError.
  Result exec(const Statement& st, std::initializer_list<Param> params = {});
  Result exec(const Statement& st, const std::vector<Param>& params);
  // Runs fixed SQL without parameters (BEGIN, COMMIT, migrations). Never pass input here.
  void exec_script(const char* sql);
  // BEGIN, the statement and COMMIT (a transaction that is one data-modifying statement), and in the same
  // round trip the BEGIN and `then` of a second transaction that stays open for the caller to go on with
  // (Transaction(c, db::kOpened)): the first flight of the work that must follow the commit (the outbox relay
  // after a send). When the first transaction did not commit this throws DbError and nothing is committed;
  // never retried: when the connection is lost after the COMMIT was sent, whether it committed is unknown,
  // and the caller must say so (503). When only `then` failed, the second transaction is already rolled back
  // and `then_error` says why. With `then` empty there is no second transaction.
  struct CommittedThen {
    Result first;
    std::vector<Result> then;
    std::optional<DbError> then_error;
  };
  CommittedThen exec_committed_then(const Statement& st, const std::vector<Param>& params,
                                    const std::vector<Call>& then);

  // Round trips to the server so far (a flight of pipelined statements is one), for /metrics.
  uint64_t round_trips() const { return round_trips_; }

  bool in_transaction() const { return in_tx_; }
  bool ping();  // a cheap round trip; reconnects when needed

 private:
  friend class Transaction;
  void ensure_connected();
  void connect();
  // Sends the calls in one round trip (libpq pipeline mode, statements prepared on first use in the same
  // flight) and returns their results; the first failure throws, and the calls after it did not run. With
  // `error`, the failure is put there instead and the results of the calls before it are returned.
  std::vector<Result> flight(const std::vector<Call>& calls, std::optional<DbError>* error = nullptr);
  // The calls as the connection's state wants them: with the pending BEGIN of a Transaction in front, and
  // retried on a new connection when nothing of them can have committed.
  std::vector<Result> run_calls(const std::vector<Call>& calls);
  // ROLLBACK of an open transaction; a connection that cannot is dropped.
  void abandon_transaction();
  // flight() again once when the session was lost and `retry` (nothing of the flight can have committed).
  std::vector<Result> flight_retried(const std::vector<Call>& calls, bool retry);
  // Throws the DbError of a failed result; drops the connection when the session is lost.
  [[noreturn]] void fail(const pg_result* r, const char* call, const char* statement);

  std::string url_;
  std::string app_name_;
  std::unique_ptr<pg_conn, ConnDeleter> conn_;
  std::set<std::string> prepared_;
  bool in_tx_ = false;
  bool tx_pending_ = false;  // a Transaction was opened: its BEGIN goes with the first statement
  uint64_t round_trips_ = 0;
  size_t failed_call_ = 0;  // of the last flight that failed: which call
};

// A transaction: its BEGIN travels with the first statement (one round trip, not two); ROLLBACK in the
// destructor unless commit() ran.
struct Opened {};
inline constexpr Opened kOpened{};  // the transaction exec_committed_then left open
class Transaction {
 public:
  explicit Transaction(Connection& c);
  Transaction(Connection& c, Opened);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Result exec(const Statement& st, std::initializer_list<Param> params = {}) { return c_.exec(st, params); }
  Result exec(const Statement& st, const std::vector<Param>& params) { return c_.exec(st, params); }
  // Several statements in one round trip; the results in order.
  std::vector<Result> exec_all(const std::vector<Call>& calls);
  void commit();

 private:
  Connection& c_;
  bool done_ = false;
};

}  // namespace chat::db

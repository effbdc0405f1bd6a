// libfcgi accept loop; the only file that includes fcgiapp.h.
#include "core/fcgi.hpp"

#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "core/crypto.hpp"
#include "core/http_metrics.hpp"
#include "core/limits.hpp"
#include "core/log.hpp"

namespace chat::fcgi {
namespace {

constexpr int kListenFd = 0;  // FastCGI convention (spawn-fcgi, systemd StandardInput=socket)

std::atomic<int> g_running_threads{0};

const char* param(FCGX_Request& r, const char* name) {
  const char* v = FCGX_GetParam(name, r.envp);
  return v ? v : "";
}

// HTTP_X_REQUEST_ID -> "x-request-id".
std::string header_name(std::string_view env_name) {
  std::string out(env_name.substr(5));
  for (char& c : out) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Returns false when the body is over the limit: nginx says so with CHAT_BODY_TOO_LARGE (it refused the
// body and sends none), or Content-Length does. The body is then not read.
bool read_request(FCGX_Request& r, http::Request& req) {
  req.method = param(r, "REQUEST_METHOD");
  req.path = param(r, "DOCUMENT_URI");
  if (req.path.empty()) {
    std::string uri = param(r, "REQUEST_URI");
    req.path = http::url_decode(uri.substr(0, uri.find('?')), false);
  }
  req.query_string = param(r, "QUERY_STRING");
  req.query = http::parse_urlencoded(req.query_string);
  req.remote_addr = param(r, "REMOTE_ADDR");
  for (char** e = r.envp; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.rfind("HTTP_", 0) != 0) continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    req.headers[header_name(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  if (const char* ct = FCGX_GetParam("CONTENT_TYPE", r.envp); ct && *ct) req.headers["content-type"] = ct;
  if (const std::string* id = req.header("x-request-id"); id && !id->empty()) req.request_id = id->substr(0, 128);
  else req.request_id = crypto::random_token(12);

  if (*param(r, "CHAT_BODY_TOO_LARGE")) return false;
  long long length = std::atoll(param(r, "CONTENT_LENGTH"));
  if (length < 0) length = 0;
  if (static_cast<size_t>(length) > limits::kBodyMaxBytes) return false;  // docs/api.md#conventions: a 413
  req.body.resize(static_cast<size_t>(length));
  int got = length > 0 ? FCGX_GetStr(req.body.data(), static_cast<int>(length), r.in) : 0;
  req.body.resize(static_cast<size_t>(std::max(got, 0)));
  return true;
}

void write_response(FCGX_Request& r, const http::Response& resp) {
  std::string head = "Status: " + std::to_string(resp.status) + " " + http::reason_phrase(resp.status) + "\r\n";
  if (resp.has_body) {
    head += "Content-Type: " + resp.content_type + "\r\nContent-Length: " + std::to_string(resp.body.size()) + "\r\n";
  }
  for (const auto& [k, v] : resp.headers) head += k + ": " + v + "\r\n";
  head += "\r\n";
  FCGX_PutStr(head.data(), static_cast<int>(head.size()), r.out);
  if (resp.has_body) FCGX_PutStr(resp.body.data(), static_cast<int>(resp.body.size()), r.out);
}

// A body over the limit: the route is resolved first, since an unknown path (404) or a wrong method (405)
// is the answer whatever the body (docs/api.md#order-of-checks); a known route is a 413.
http::Response too_large(const http::Router& router, const http::Request& req) {
  http::Match m = router.match(req.method, req.path);
  if (m.kind == http::Match::Kind::kNotFound) return http::render_error(http::HttpError(404, "Not Found"));
  if (m.kind == http::Match::Kind::kMethodNotAllowed) {
    return http::render_error(http::HttpError(405, "Method Not Allowed").with_header("Allow", m.allow));
  }
  return http::render_error(http::HttpError(413, "Request body too large"));
}

void on_wake(int) {}  // SIGUSR2 only interrupts accept(); libfcgi then sees shutdownPending

void worker(const Config& config, const http::Router& router, const char* program, int index,
            http::RequestMetrics& metrics) {
  db::Connection db(config.database_url, program);
  redis::Client redis(redis::target_of(config));
  db::Replica replica(config, program);
  Context ctx{config, db, redis};
  if (replica.configured()) ctx.replica = &replica;
  FCGX_Request r;
  FCGX_InitRequest(&r, kListenFd, 0);
  while (FCGX_Accept_r(&r) >= 0) {
    auto started = std::chrono::steady_clock::now();
    http::Request req;
    http::Response resp;
    bool within_limit = read_request(r, req);
    log::set_request_id(req.request_id);
    const uint64_t db_before = db.round_trips(), redis_before = redis.round_trips();
    const uint64_t cached_before = ctx.principal_cache_hits;
    ctx.caller_id.clear();
    resp = within_limit ? dispatch(ctx, router, req) : too_large(router, req);
    // Before the answer leaves: the caller's next read must find the position of what this one acknowledged.
    if (ctx.replica && !ctx.caller_id.empty() && resp.status < 300 && req.method != "GET" && req.method != "HEAD") {
      ctx.replica->wrote(db, redis, ctx.caller_id);
    }
    const uint64_t db_trips = db.round_trips() - db_before, redis_trips = redis.round_trips() - redis_before;
    const uint64_t cached = ctx.principal_cache_hits - cached_before;
    write_response(r, resp);
    FCGX_Finish_r(&r);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    metrics.record(resp.status, us.count());
    if (req.route) metrics.record_round_trips(req.method, req.route, db_trips, redis_trips, cached);
    log::write(resp.status >= 500 ? log::Level::kError : log::Level::kDebug, "request",
               {{"method", req.method}, {"path", req.path}, {"status", std::to_string(resp.status)},
                {"us", std::to_string(us.count())}, {"thread", std::to_string(index)}});
    log::set_request_id("");
  }
  g_running_threads.fetch_sub(1);
}

// Adds the process's request metrics to Redis once a second until `stop`, then once more.
class MetricsFlusher {
 public:
  MetricsFlusher(const Config& config, http::RequestMetrics& metrics)
      : redis_(redis::target_of(config)), metrics_(metrics), thread_([this] { run(); }) {}
  ~MetricsFlusher() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
      lock.unlock();
      metrics_.flush(redis_);
      lock.lock();
    }
    metrics_.flush(redis_, /*force=*/true);
  }

  redis::Client redis_;
  http::RequestMetrics& metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members it uses exist
};

}  // namespace

http::Response dispatch(Context& ctx, const http::Router& router, http::Request& req) {
  try {
    http::Match m = router.match(req.method, req.path);
    if (m.kind == http::Match::Kind::kNotFound) http::not_found();
    if (m.kind == http::Match::Kind::kMethodNotAllowed) {
      throw http::HttpError(405, "Method Not Allowed").with_header("Allow", m.allow);
    }
    for (auto& [k, v] : m.params) req.params[k] = v;
    req.route = m.route->pattern;
    return m.handler(ctx, req);
  } catch (const http::HttpError& e) {
    return http::render_error(e);
  } catch (const db::DbError& e) {
    // SQLSTATE -> HTTP for what the handler did not translate itself.
    if (e.connection_lost()) return http::render_error(http::HttpError(503, "Service unavailable"));
    if (e.unique_violation()) return http::render_error(http::HttpError(409, "Resource already exists"));
    if (e.sqlstate() == "23503") return http::render_error(http::HttpError(404, "Not Found"));
    if (e.sqlstate() == "22P02") return http::render_error(http::HttpError(422, "Invalid value"));
    if (e.sqlstate() == "22021" || e.sqlstate() == "22P05") {
      // Text that is not UTF-8 reached the database: every input is checked before that, so this is a
      // reader that forgot to; still the client's bytes, never a 500.
      log::error("unchecked_text_input", {{"path", req.path}, {"sqlstate", e.sqlstate()}});
      http::HttpError bad(422, "Text must be valid UTF-8");
      bad.set_errors({{{"request"}, "Text must be valid UTF-8", "string_unicode"}});
      return http::render_error(bad);
    }
    return http::render_error(http::HttpError(500, "Internal server error"));
  } catch (const redis::RedisError& e) {
    return http::render_error(http::HttpError(503, "Service unavailable"));
  } catch (const std::exception& e) {
    log::error("unhandled_exception", {{"error", e.what()}, {"path", req.path}});
    return http::render_error(http::HttpError(500, "Internal server error"));
  }
}

int serve(const char* program, std::vector<http::Route> routes) {
  log::set_program(program);
  Config config;
  try {
    config = load_config();
  } catch (const ConfigError& e) {
    log::error("config_invalid", {{"error", e.what()}});
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 2;
  }
  log::set_level(config.log_level);
  struct stat st{};
  if (fstat(kListenFd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    std::fprintf(stderr,
                 "%s: expects its listening socket on fd 0; run it under spawn-fcgi or a systemd socket unit\n",
                 program);
    return 1;
  }
  if (FCGX_Init() != 0) {
    log::error("fcgi_init_failed", {{"call", "FCGX_Init"}});
    return 1;
  }
  // libfcgi's own SIGTERM handler only sets a flag that threads blocked in accept() never see, so
  // TERM/INT/HUP are blocked everywhere and taken with sigwait() here; SIGUSR2 (installed without
  // SA_RESTART) then interrupts each accept() so libfcgi returns -1 once shutdown is pending.
  struct sigaction sa{};
  sa.sa_handler = on_wake;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR2, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  http::Router router(std::move(routes));
  http::RequestMetrics metrics(program);
  MetricsFlusher flusher(config, metrics);
  std::vector<std::thread> threads;
  g_running_threads = config.handler_threads;
  for (int i = 0; i < config.handler_threads; ++i) {
    threads.emplace_back(worker, std::cref(config), std::cref(router), program, i, std::ref(metrics));
  }
  log::info("started", {{"threads", std::to_string(config.handler_threads)}});
  int sig = 0;
  sigwait(&stop, &sig);
  log::info("stopping", {{"signal", strsignal(sig)}});
  FCGX_ShutdownPending();
  // Keep nudging until every thread is out: a thread busy with a request finishes it first.
  while (g_running_threads.load() > 0) {
    for (auto& t : threads) pthread_kill(t.native_handle(), SIGUSR2);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& t : threads) t.join();
  log::info("stopped");
  return 0;
}

int run_program(const char* program, int argc, char** argv, std::vector<http::Route> routes, Command command) {
  const std::string_view arg = argc > 1 ? argv[1] : "";
  if (argc == 2 && arg == "--routes") {
    std::printf("%s\n", http::routes_json(routes).c_str());
    return 0;
  }
  if (argc == 2 && arg == "--schema") {
    std::printf("%s\n", limits::limits_json().c_str());
    return 0;
  }
  if (argc <= 1) return serve(program, std::move(routes));
  if (command) return command(argc, argv);
  const bool help = argc == 2 && (arg == "-h" || arg == "--help");
  std::fprintf(help ? stdout : stderr,
               "usage: %s            serve on the FastCGI listening socket on fd 0\n"
               "       %s --routes   print the route table as JSON\n"
               "       %s --schema   print the input limits as JSON\n",
               program, program, program);
  return help ? 0 : 2;
}

}  // namespace chat::fcgi

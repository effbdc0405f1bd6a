// hiredis wrapper: the only file that includes hiredis.h; timeouts keep a hung Redis from hanging requests.
#include "core/redis.hpp"

#include <hiredis.h>

#include <poll.h>

#include <cerrno>
#include <cstdlib>

#include "core/http.hpp"
#include "core/log.hpp"

namespace chat::redis {

void ReplyDeleter::operator()(redisReply* r) const { freeReplyObject(r); }
void ContextDeleter::operator()(redisContext* c) const { redisFree(c); }

bool Reply::is_nil() const { return !node() || node()->type == REDIS_REPLY_NIL; }
bool Reply::is_error() const { return node() && node()->type == REDIS_REPLY_ERROR; }
bool Reply::is_string() const {
  return node() && (node()->type == REDIS_REPLY_STRING || node()->type == REDIS_REPLY_STATUS);
}
bool Reply::is_integer() const { return node() && node()->type == REDIS_REPLY_INTEGER; }
bool Reply::is_array() const { return node() && node()->type == REDIS_REPLY_ARRAY; }
std::string Reply::str() const {
  const redisReply* n = node();
  if (!n || !n->str) return "";
  return std::string(n->str, n->len);
}
int64_t Reply::integer() const { return is_integer() ? node()->integer : 0; }
size_t Reply::size() const { return is_array() ? node()->elements : 0; }
Reply Reply::element(size_t i) const { return Reply(i < size() ? node()->element[i] : nullptr, Borrowed{}); }

std::optional<Endpoint> parse_url(const std::string& url) {
  Endpoint ep;
  auto query_value = [](const std::string& q, const std::string& key) -> std::optional<std::string> {
    auto params = http::parse_urlencoded(q);
    auto it = params.find(key);
    if (it == params.end()) return std::nullopt;
    return it->second;
  };
  if (url.rfind("unix://", 0) == 0) {
    ep.unix_socket = true;
    std::string rest = url.substr(7);
    std::string query;
    if (auto q = rest.find('?'); q != std::string::npos) {
      query = rest.substr(q + 1);
      rest = rest.substr(0, q);
    }
    if (rest.empty() || rest[0] != '/') return std::nullopt;
    ep.path = rest;
    if (auto pw = query_value(query, "password")) ep.password = *pw;
    if (auto db = query_value(query, "db")) ep.db = std::atoi(db->c_str());
    return ep;
  }
  if (url.rfind("redis://", 0) != 0) return std::nullopt;
  std::string rest = url.substr(8);
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string auth = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = auth.find(':');
    ep.password = http::url_decode(colon == std::string::npos ? auth : auth.substr(colon + 1), false);
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    std::string db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty()) ep.db = std::atoi(db.c_str());
  }
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    ep.port = std::atoi(rest.substr(colon + 1).c_str());
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) ep.host = rest;
  if (ep.port <= 0 || ep.port > 65535) return std::nullopt;
  return ep;
}

namespace {

// Runs one command as binary-safe argv. hiredis leaves a context unusable after an I/O error, so
// the context is dropped then and the caller reconnects.
Reply run_argv(std::unique_ptr<redisContext, ContextDeleter>& ctx, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void* r = redisCommandArgv(ctx.get(), static_cast<int>(args.size()), argv.data(), lens.data());
  if (!r) {
    std::string msg = ctx->errstr;
    ctx.reset();
    throw RedisError("Redis command failed: " + msg);
  }
  return Reply(static_cast<redisReply*>(r));
}

// Appends every command to the output buffer, then reads the replies in order (hiredis writes the buffer
// on the first redisGetReply).
std::vector<Reply> run_pipeline(std::unique_ptr<redisContext, ContextDeleter>& ctx,
                                const std::vector<std::vector<std::string>>& commands) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& args : commands) {
    argv.clear();
    lens.clear();
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx.get(), static_cast<int>(args.size()), argv.data(), lens.data()) != REDIS_OK) {
      std::string msg = ctx->errstr;
      ctx.reset();
      throw RedisError("Redis pipeline failed: " + msg);
    }
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* r = nullptr;
    if (redisGetReply(ctx.get(), &r) != REDIS_OK || !r) {
      std::string msg = ctx->errstr;
      ctx.reset();  // the replies still due would be read as answers to the next commands
      throw RedisError("Redis pipeline failed: " + msg);
    }
    replies.emplace_back(static_cast<redisReply*>(r));
  }
  return replies;
}

// Connects with a 1 s connect and I/O timeout (a hung Redis must not hang a request), then AUTH and
// SELECT as the endpoint says.
std::unique_ptr<redisContext, ContextDeleter> open_context(const Endpoint& ep) {
  timeval timeout{1, 0};
  std::unique_ptr<redisContext, ContextDeleter> ctx(
      ep.unix_socket ? redisConnectUnixWithTimeout(ep.path.c_str(), timeout)
                     : redisConnectWithTimeout(ep.host.c_str(), ep.port, timeout));
  if (!ctx || ctx->err) {
    std::string msg = ctx ? ctx->errstr : "out of memory";
    log::error("redis_connect_failed", {{"call", "redisConnect"}, {"error", msg}});
    throw RedisError("could not connect to Redis: " + msg);
  }
  redisSetTimeout(ctx.get(), timeout);
  if (!ep.password.empty() && run_argv(ctx, {"AUTH", ep.password}).is_error()) {
    throw RedisError("Redis AUTH failed");
  }
  if (ep.db != 0 && run_argv(ctx, {"SELECT", std::to_string(ep.db)}).is_error()) {
    throw RedisError("Redis SELECT failed");
  }
  return ctx;
}

}  // namespace

Client::Client(std::string url) : url_(std::move(url)) {
  auto ep = parse_url(url_);
  if (!ep) throw RedisError("bad REDIS_URL");
  ep_ = *ep;
}

void Client::connect() { ctx_ = open_context(ep_); }

// One command is a pipeline of one: the same write, the same reply read, the same reconnect and retry.
Reply Client::command(const std::vector<std::string>& args) { return std::move(pipeline({args}).front()); }

std::vector<Reply> Client::pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return {};
  for (int attempt = 0;; ++attempt) {
    try {
      if (!ctx_) connect();
      ++round_trips_;
      return run_pipeline(ctx_, commands);
    } catch (const RedisError& e) {
      if (attempt > 0) {
        log::error("redis_error", {{"call", "redisGetReply"}, {"command", commands[0].empty() ? "" : commands[0][0]},
                                   {"error", e.what()}});
        throw;
      }
    }
  }
}

bool Client::ping() {
  try {
    Reply r = command({"PING"});
    return r.is_string() && r.str() == "PONG";
  } catch (const RedisError&) {
    return false;
  }
}

Subscriber::Subscriber(std::string url) : url_(std::move(url)) {
  auto ep = parse_url(url_);
  if (!ep) throw RedisError("bad REDIS_URL");
  ep_ = *ep;
}

void Subscriber::subscribe(const std::vector<std::string>& channels) {
  ctx_.reset();
  ctx_ = open_context(ep_);
  std::vector<std::string> args{"SUBSCRIBE"};
  args.insert(args.end(), channels.begin(), channels.end());
  // The first confirmation; the others arrive as pushed replies and next() skips them.
  Reply reply = run_argv(ctx_, args);
  if (reply.is_error()) {
    ctx_.reset();
    throw RedisError("Redis refused SUBSCRIBE: " + reply.str());
  }
}

std::optional<Subscriber::Message> Subscriber::next(int timeout_ms) {
  if (!ctx_) throw RedisError("not subscribed");
  for (bool waited = false;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(ctx_->reader, &raw) != REDIS_OK) {
      ctx_.reset();
      throw RedisError("Redis protocol error");
    }
    if (raw) {
      Reply r(static_cast<redisReply*>(raw));
      // RESP2 push: ["message", channel, payload]; subscribe confirmations are skipped.
      if (r.is_array() && r.size() == 3 && r.element(0).str() == "message") {
        return Message{r.element(1).str(), r.element(2).str()};
      }
      continue;
    }
    if (waited) return std::nullopt;
    pollfd p{ctx_->fd, POLLIN, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR) {
      ctx_.reset();
      throw RedisError("poll failed");
    }
    if (n <= 0) return std::nullopt;
    if (redisBufferRead(ctx_.get()) != REDIS_OK) {
      std::string msg = ctx_->errstr;
      ctx_.reset();
      throw RedisError("Redis connection lost: " + msg);
    }
    waited = true;
  }
}

}  // namespace chat::redis

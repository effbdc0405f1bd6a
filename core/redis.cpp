// hiredis wrapper: the only file that includes hiredis.h; timeouts keep a hung Redis from hanging requests.
#include "core/redis.hpp"

#include <hiredis.h>

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "core/config.hpp"
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

std::optional<std::vector<HostPort>> parse_sentinels(const std::vector<std::string>& items) {
  std::vector<HostPort> out;
  for (const std::string& item : items) {
    HostPort hp;
    std::string_view port;
    if (!item.empty() && item[0] == '[') {
      auto close = item.find(']');
      if (close == std::string::npos || close + 1 >= item.size() || item[close + 1] != ':') return std::nullopt;
      hp.host = item.substr(1, close - 1);
      port = std::string_view(item).substr(close + 2);
      if (hp.host.empty() || hp.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
        return std::nullopt;
      }
    } else {
      auto colon = item.rfind(':');
      if (colon == std::string::npos) return std::nullopt;
      hp.host = item.substr(0, colon);
      port = std::string_view(item).substr(colon + 1);
      if (hp.host.empty()) return std::nullopt;
      for (char c : hp.host) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') return std::nullopt;
      }
    }
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    hp.port = std::atoi(std::string(port).c_str());
    if (hp.port < 1 || hp.port > 65535) return std::nullopt;
    out.push_back(std::move(hp));
  }
  return out;
}

Target target_of(const std::string& url, const std::vector<std::string>& sentinels, const std::string& master_name) {
  Target t;
  auto ep = parse_url(url);
  if (!ep) throw RedisError("bad REDIS_URL");
  t.endpoint = *ep;
  auto list = parse_sentinels(sentinels);
  if (!list) throw RedisError("bad REDIS_SENTINELS");
  t.sentinels = std::move(*list);
  t.master_name = master_name;
  return t;
}

Target target_of(const Config& config) {
  return target_of(config.redis_url, config.redis_sentinels, config.redis_master_name);
}

Next after(Outcome outcome, std::string_view error_reply, bool retried) {
  switch (outcome) {
    case Outcome::kOk:
      return Next::kReturn;
    case Outcome::kIoError:
      return retried ? Next::kFail : Next::kReconnectAndRetry;
    case Outcome::kErrorReply:
      for (std::string_view not_master : {"READONLY", "MASTERDOWN", "LOADING"}) {
        if (error_reply.substr(0, not_master.size()) == not_master) {
          return retried ? Next::kReturn : Next::kReconnectAndRetry;
        }
      }
      return Next::kReturn;  // the command's own error (WRONGTYPE, NOSCRIPT, ...): the caller's to read
  }
  return Next::kReturn;
}

bool announces_switch(std::string_view payload, std::string_view master_name) {
  auto space = payload.find(' ');
  return space != std::string_view::npos && payload.substr(0, space) == master_name;
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
std::unique_ptr<redisContext, ContextDeleter> open_context(const Endpoint& ep, timeval timeout = {1, 0}) {
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

// The master: REDIS_URL's endpoint, or the address the first Sentinel that answers gives for the master's
// name, checked with ROLE (a Sentinel that has not yet seen a failover names the demoted node). An address that
// failed is not tried again for the next Sentinel: before a failover they all name the dead master.
std::unique_ptr<redisContext, ContextDeleter> open_master(const Target& t) {
  if (t.sentinels.empty()) return open_context(t.endpoint);
  std::vector<HostPort> failed;
  for (const HostPort& s : t.sentinels) {
    try {
      Endpoint sentinel;
      sentinel.host = s.host;
      sentinel.port = s.port;
      auto sctx = open_context(sentinel, {0, 300000});  // a dead Sentinel must not cost a whole second
      Reply addr = run_argv(sctx, {"SENTINEL", "get-master-addr-by-name", t.master_name});
      if (!addr.is_array() || addr.size() != 2) continue;
      Endpoint master = t.endpoint;
      master.unix_socket = false;
      master.host = addr.element(0).str();
      master.port = std::atoi(addr.element(1).str().c_str());
      const HostPort named{master.host, master.port};
      if (std::find(failed.begin(), failed.end(), named) != failed.end()) continue;
      failed.push_back(named);  // until it proves to be the master
      auto ctx = open_context(master);
      Reply role = run_argv(ctx, {"ROLE"});
      if (role.is_array() && role.size() > 0 && role.element(0).str() == "master") return ctx;
      log::warn("redis_sentinel_stale", {{"sentinel", s.host + ":" + std::to_string(s.port)},
                                         {"named", master.host + ":" + std::to_string(master.port)}});
    } catch (const RedisError&) {
      // the next Sentinel
    }
  }
  log::error("redis_no_master", {{"master_name", t.master_name}});
  throw RedisError("no Sentinel named a reachable master for \"" + t.master_name + "\"");
}

// One per master name, for the life of the process (the thread is detached: it holds no resource that must be
// released at exit, and a program with Sentinels keeps its Redis until it ends).
struct SwitchWatch {
  std::atomic<uint64_t> generation{0};
};

void watch_switches(Target target, SwitchWatch* watch) {
  for (size_t i = 0;; i = (i + 1) % target.sentinels.size()) {
    Target sentinel;
    sentinel.endpoint.host = target.sentinels[i].host;
    sentinel.endpoint.port = target.sentinels[i].port;
    try {
      Subscriber sub(sentinel);
      sub.subscribe({"+switch-master"});
      for (;;) {
        auto m = sub.next(1000);
        if (m && announces_switch(m->payload, target.master_name)) {
          watch->generation.fetch_add(1);
          log::warn("redis_master_switched", {{"master_name", target.master_name}, {"announcement", m->payload}});
        }
      }
    } catch (const RedisError&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));  // then the next Sentinel
    }
  }
}

}  // namespace

uint64_t master_generation(const Target& target) {
  if (target.sentinels.empty()) return 0;
  static std::mutex mu;
  static std::map<std::string, SwitchWatch*> watches;
  SwitchWatch* watch;
  {
    std::lock_guard lock(mu);
    SwitchWatch*& slot = watches[target.master_name];
    if (!slot) {
      slot = new SwitchWatch();  // never freed: the detached thread uses it until the process ends
      std::thread(watch_switches, target, slot).detach();
    }
    watch = slot;
  }
  return watch->generation.load();
}

Client::Client(std::string url) : Client(target_of(url)) {}
Client::Client(Target target) : target_(std::move(target)) {}

// One command is a pipeline of one: the same write, the same reply read, the same reconnect and retry.
Reply Client::command(const std::vector<std::string>& args) { return std::move(pipeline({args}).front()); }

std::vector<Reply> Client::pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return {};
  for (int attempt = 0;; ++attempt) {
    try {
      uint64_t generation = master_generation(target_);
      if (ctx_ && generation != generation_) ctx_.reset();  // a failover happened: ask for the master again
      if (!ctx_) {
        ctx_ = open_master(target_);
        generation_ = generation;
        ++opens_;
      }
      ++round_trips_;
      std::vector<Reply> replies = run_pipeline(ctx_, commands);
      std::string error;
      for (const Reply& r : replies) {
        if (r.is_error()) {
          error = r.str();
          break;
        }
      }
      if (after(error.empty() ? Outcome::kOk : Outcome::kErrorReply, error, attempt > 0) == Next::kReconnectAndRetry) {
        log::warn("redis_not_master", {{"command", commands[0].empty() ? "" : commands[0][0]}, {"error", error}});
        ctx_.reset();
        continue;
      }
      return replies;
    } catch (const RedisError& e) {
      if (after(Outcome::kIoError, "", attempt > 0) == Next::kFail) {
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

Subscriber::Subscriber(std::string url) : Subscriber(target_of(url)) {}
Subscriber::Subscriber(Target target) : target_(std::move(target)) {}

void Subscriber::subscribe(const std::vector<std::string>& channels) {
  ctx_.reset();
  generation_ = master_generation(target_);
  ctx_ = open_master(target_);
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
  if (master_generation(target_) != generation_) {
    ctx_.reset();
    throw RedisError("the Redis master switched");
  }
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

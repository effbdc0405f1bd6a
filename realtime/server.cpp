// The daemon's sockets: accept, read, the HTTP stage of a connection (metrics page, refusals, the
// upgrade checks in API.md §9's order), writes and backpressure, closing, timers and shutdown.
#include "realtime/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "core/crypto.hpp"
#include "core/heartbeat.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/timefmt.hpp"

namespace chat::realtime {
namespace {

constexpr size_t kReadBudget = 256 * 1024;   // per socket per wake-up: one busy client cannot starve the rest
constexpr int64_t kHandshakeTimeoutMs = 10'000;
constexpr int64_t kAuthTimeoutMs = 30'000;
constexpr int64_t kPingEveryMs = 30'000;     // API.md §9 liveness
constexpr int64_t kSilenceLimitMs = 75'000;
constexpr int64_t kRevocationSweepMs = 15'000;  // bounds a revocation missed by pub/sub
constexpr int64_t kCloseWaitMs = 3'000;      // §7.1.1: wait this long for the peer's close frame
constexpr size_t kReplayChunk = 1024 * 1024; // replay frames queued per drain
// A socket with output waiting that the kernel has not taken a byte of for this long is not reading: it is
// closed with 1013 like one whose output passed 4 MiB (which, at a slow rate, could take minutes).
constexpr int64_t kOutputStallMs = 10'000;
// The kernel send buffer of every socket (the kernel doubles it): fixed, because autotuning would let a
// stalled reader park megabytes there (and nginx's side of the socket as much again) before the daemon's
// own limits even count.
constexpr int kSocketSendBuffer = 64 * 1024;

std::string detail_body(const std::string& detail) { return "{\"detail\":" + json::quote(detail) + "}"; }

// X-Request-ID from nginx (or any client talking to us directly) when it is a sane token.
std::string request_id_of(const ws::Request& req) {
  const std::string* h = req.header("x-request-id");
  if (h && !h->empty() && h->size() <= 128) {
    bool ok = true;
    for (char c : *h) {
      if (!(isalnum(static_cast<unsigned char>(c)) || std::strchr("._:+/=@-", c))) ok = false;
    }
    if (ok) return *h;
  }
  return crypto::uuid_v4();
}

}  // namespace

Server::Server(const Config& config, ServerOptions options)
    : config_(config),
      options_(std::move(options)),
      hub_(*this),
      ring_(20'000, 10 * 60 * 1000),
      auth_pool_(config, "chat-realtime-auth", options_.auth_threads),
      lane_(config, "chat-realtime-lane", 1),
      heartbeat_id_(heartbeat::instance_id(std::to_string(options_.port))) {
  presence_ = std::make_unique<Presence>(loop_, lane_, Presence::make_daemon_id(), [this] { return hub_.local_users(); });
  bridge_ = std::make_unique<RedisBridge>(
      config.redis_url, loop_, [this](RedisBridge::EventBatch b) { on_stream_events(std::move(b)); },
      [this](RedisBridge::MessageBatch b) { on_pubsub(std::move(b)); });
}

Server::~Server() {
  bridge_->stop();
  auth_pool_.stop();
  lane_.stop();
}

bool Server::listen_socket() {
  listen_fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listen_fd_) return false;
  int one = 1;
  setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(options_.port));
  if (inet_pton(AF_INET, options_.bind_address.c_str(), &addr.sin_addr) != 1) return false;
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_.get(), options_.backlog) != 0) {
    log::error("listen_failed", {{"call", "bind/listen"}, {"port", std::to_string(options_.port)},
                                 {"error", std::strerror(errno)}});
    return false;
  }
  listen_id_ = loop_.add(listen_fd_.get(), EPOLLIN, [this](uint64_t, uint32_t) { on_accept(listen_fd_.get()); });
  reserve_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (listen_id_ == 0) return false;
  return options_.unix_socket.empty() || listen_unix_socket();
}

// The local nginx's way in. Over a unix socket the bytes a stalled client has not taken wait in this daemon's
// send buffer only (AF_UNIX charges them to the sender), where over TCP loopback nginx's receive buffer would
// hold as much again: one bounded buffer per hop.
bool Server::listen_unix_socket() {
  const std::string& path = options_.unix_socket;
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    log::error("listen_failed", {{"call", "bind"}, {"socket", path}, {"error", "path too long"}});
    return false;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());  // left by a killed daemon
  unix_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!unix_fd_ || ::bind(unix_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(path.c_str(), 0666) != 0 || ::listen(unix_fd_.get(), options_.backlog) != 0) {
    log::error("listen_failed", {{"call", "bind/listen"}, {"socket", path}, {"error", std::strerror(errno)}});
    return false;
  }
  unix_id_ = loop_.add(unix_fd_.get(), EPOLLIN, [this](uint64_t, uint32_t) { on_accept(unix_fd_.get()); });
  return unix_id_ != 0;
}

int Server::run() {
  // SIGTERM/SIGINT were blocked in main before any thread started; they arrive here as readable data.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  signal_fd_.reset(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd_) return 1;
  loop_.add(signal_fd_.get(), EPOLLIN, [this](uint64_t, uint32_t) {
    signalfd_siginfo si;
    while (::read(signal_fd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    }
    begin_shutdown();
  });
  if (!listen_socket()) return 1;

  // The stream position at start: the ring and the reader begin here (events older than the daemon
  // come only from Redis, for a resume).
  StreamId position;
  redis::Client redis(config_.redis_url);
  for (int attempt = 0;; ++attempt) {
    try {
      position = RedisBridge::newest_event_id(redis);
      break;
    } catch (const std::exception& e) {
      if (attempt >= 60) {
        log::error("redis_unavailable_at_start", {{"error", e.what()}});
        return 1;
      }
      if (attempt == 0) log::warn("waiting_for_redis", {{"error", e.what()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  ring_.reset(position);

  auth_pool_.start();
  lane_.start();
  bridge_->start(position);
  presence_->start();
  loop_.every(1000, [this] { tick(); });
  loop_.every(heartbeat::kIntervalMs, [this] { beat(); });
  beat();
  loop_.every(kRevocationSweepMs, [this] { sweep_revocations(); });
  // Connections finished while flushing are freed before the wait, so their fds close now, not a
  // whole epoll_wait later.
  loop_.set_before_wait([this] {
    flush_dirty();
    free_closed();
  });
  loop_.set_after_dispatch([this] { free_closed(); });
  log::info("realtime_ready", {{"address", options_.bind_address}, {"port", std::to_string(options_.port)},
                               {"stream_position", position.str()}});
  loop_.run();

  bridge_->stop();
  auth_pool_.stop();
  lane_.stop();  // after the presence release job queued by begin_shutdown
  log::info("realtime_stopped");
  return 0;
}

Connection* Server::find(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

void Server::on_accept(int listen_fd) {
  for (int i = 0; i < 128; ++i) {  // a bounded batch, then back to the loop
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && reserve_fd_) {
        // Out of descriptors: free the reserve to accept and close one, so the backlog does not spin the loop.
        reserve_fd_.reset();
        int victim = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (victim >= 0) ::close(victim);
        reserve_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        log::warn("accept_out_of_fds");
      }
      return;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketSendBuffer, sizeof kSocketSendBuffer);
    char ip[INET_ADDRSTRLEN] = "unix";  // nginx's X-Real-IP names the client then
    if (peer.ss_family == AF_INET) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small frames go out at once
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, ip, sizeof ip);
    }
    UniqueFd owned(fd);
    uint64_t id = loop_.add(fd, EPOLLIN, [this](uint64_t wid, uint32_t ev) { on_io(wid, ev); });
    if (id == 0) continue;
    auto c = std::make_unique<Connection>(std::move(owned), id, ip, loop_.now_ms());
    c->epoll_events = EPOLLIN;
    conns_.emplace(id, std::move(c));
    ++metrics_.tcp_connections;
  }
}

void Server::on_io(uint64_t id, uint32_t events) {
  Connection* c = find(id);
  if (!c) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(*c);
  c = find(id);  // reading may have finished it
  if (c && (events & EPOLLOUT)) mark_dirty(*c);
}

void Server::on_readable(Connection& c) {
  std::string data;
  Connection::IoStatus st = c.read_some(data, kReadBudget);
  if (!data.empty()) c.last_read_ms = loop_.now_ms();
  switch (c.state()) {
    case Connection::State::kHttp: {
      if (data.empty()) break;
      ws::ParseResult parsed = c.http.feed(data);
      if (parsed.status == ws::ParseStatus::kError) {
        respond_http(c, parsed.http_status, detail_body(parsed.detail));
      } else if (parsed.status == ws::ParseStatus::kRequest) {
        on_http_request(c, parsed);
      }
      break;
    }
    case Connection::State::kAuthenticating:
      c.early_input += data;
      if (c.early_input.size() > Connection::kMaxClientMessage + 16) {
        finish(c, "early_input");
        return;
      }
      break;
    case Connection::State::kOpen:
    case Connection::State::kClosing:
      if (!data.empty()) {
        c.decoder.feed(data);
        process_frames(c);
      }
      break;
    case Connection::State::kDone:
      break;  // draining after our last byte: what the peer still sends is dropped
  }
  if (st != Connection::IoStatus::kOk && find(c.id())) {
    // The peer closed (or reset) TCP: a close handshake already done is labelled by its code.
    finish(c, c.close_label.empty() ? (st == Connection::IoStatus::kClosed ? (c.write_shut ? "http" : "1006") : "reset")
                                    : c.close_label);
  }
}

void Server::on_http_request(Connection& c, ws::ParseResult& parsed) {
  const ws::Request& req = parsed.request;
  c.request_id = request_id_of(req);
  if (const std::string* ip = req.header("x-real-ip"); ip && !ip->empty() && ip->size() < 64) c.peer_ip = *ip;
  const std::string path = req.target.substr(0, req.target.find('?'));
  const bool is_ws_path = path == "/ws" || path == "/ws/";

  if (req.header("upgrade") == nullptr && !is_ws_path) {
    ++metrics_.http_requests;
    if (path == "/metrics" || path == "/metrics/") {
      if (req.method != "GET") {
        respond_http(c, 405, detail_body("Method Not Allowed"), {{"Allow", "GET"}});
      } else {
        respond_http(c, 200, metrics_.render(ring_.size(), pending_auth_), {}, "text/plain; version=0.0.4");
      }
      return;
    }
    respond_http(c, 404, detail_body("Not Found"));
    return;
  }
  if (!is_ws_path) {
    refuse_upgrade(c, 404, "Not Found");
    return;
  }
  // API.md §9 order: a bad upgrade, then the Origin, then the token.
  ws::UpgradeCheck check = ws::validate_upgrade(req);
  if (!check.ok) {
    refuse_upgrade(c, check.http_status, check.detail, check.headers);
    return;
  }
  if (const std::string* origin = req.header("origin"); origin && !config_.origin_allowed(*origin)) {
    refuse_upgrade(c, 403, "Origin not allowed");
    return;
  }
  std::optional<std::string> token = ws::query_param(req.target, "token");
  if (!token || token->empty()) {
    refuse_upgrade(c, 401, "Not authenticated", {{"WWW-Authenticate", "Bearer"}});
    return;
  }
  if (shutting_down_) {
    refuse_upgrade(c, 503, "Service unavailable");
    return;
  }
  c.accept_key = check.accept;
  c.position_at_request = ring_.newest();  // before the worker loads membership (see Hub::add_socket)
  c.resume = plan_resume(ws::query_param(req.target, "last_event_id"), ring_, c.position_at_request);
  c.early_input = std::move(parsed.rest);
  c.set_state(Connection::State::kAuthenticating);
  ++pending_auth_;
  AuthRequest ar{c.id(), std::move(*token), c.resume};
  auth_pool_.submit([this, ar = std::move(ar)](Context& ctx) {
    AuthResult r = authenticate(ctx, ar);
    loop_.post([this, r = std::move(r)]() mutable { on_auth_done(std::move(r)); });
  });
}

void Server::respond_http(Connection& c, int status, const std::string& body, const ws::HeaderList& headers,
                          const char* content_type) {
  if (status == 200) {
    std::string out = "HTTP/1.1 200 OK\r\nContent-Type: ";
    out.append(content_type ? content_type : "application/json").append("\r\nContent-Length: ");
    out.append(std::to_string(body.size())).append("\r\nConnection: close\r\n\r\n").append(body);
    c.queue_raw(std::move(out));
  } else {
    c.queue_raw(ws::build_http_error(status, body, headers));
  }
  c.set_state(Connection::State::kDone);
  c.close_deadline_ms = loop_.now_ms() + kCloseWaitMs;
  mark_dirty(c);
}

void Server::refuse_upgrade(Connection& c, int status, const std::string& detail, const ws::HeaderList& headers) {
  ++metrics_.upgrades_refused[status];
  log::info("ws_refused", {{"request_id", c.request_id}, {"ip", c.peer_ip}, {"status", std::to_string(status)},
                           {"detail", detail}});
  respond_http(c, status, detail_body(detail), headers);
}

void Server::send(uint64_t conn_id, const Frame& frame) {
  Connection* c = find(conn_id);
  if (!c || c->state() != Connection::State::kOpen) return;
  if (c->replaying) {
    c->held.push_back(frame);
    c->held_bytes += frame->size();
    if (c->held_bytes <= Connection::kMaxPendingOutput) return;
  } else if (c->queue(frame)) {
    ++metrics_.frames_out;
    mark_dirty(*c);
    return;
  }
  close_not_reading(*c, "output buffer full");
}

// Backpressure: the socket is not reading. Drop what waits, tell it 1013, and move on.
void Server::close_not_reading(Connection& c, const char* reason) {
  ++metrics_.backpressure_drops;
  log::info("ws_backpressure_close", {{"request_id", c.request_id}, {"user_id", c.user_id}, {"reason", reason}});
  c.drop_queue();
  // The close frame waits behind what the kernel holds for the socket; a client that reads again within
  // 20 s still gets it (and resumes with last_event_id) rather than a bare TCP close.
  start_close(c, ws::kCloseTryAgainLater, reason, 20'000);
}

void Server::start_close(Connection& c, uint16_t code, std::string_view reason, int64_t wait_ms) {
  if (c.state() != Connection::State::kOpen) return;
  c.replaying = false;  // nothing but the close goes out any more
  c.replay.clear();
  c.held.clear();
  c.held_bytes = 0;
  c.queue_raw(ws::encode_close(code, reason));
  c.set_state(Connection::State::kClosing);
  c.close_label = std::to_string(code);
  c.close_deadline_ms = loop_.now_ms() + wait_ms;
  mark_dirty(c);
}

void Server::finish(Connection& c, const std::string& label) {
  const uint64_t id = c.id();
  if (c.registered) {
    c.registered = false;
    --metrics_.open_sockets;
    ++metrics_.closes[label];
    log::info("ws_closed", {{"request_id", c.request_id}, {"user_id", c.user_id}, {"code", label}});
    if (hub_.remove_socket(id)) on_user_gone(c.user_id);
    metrics_.local_users = hub_.user_count();
  }
  loop_.remove(id);
  --metrics_.tcp_connections;
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  closed_.push_back(std::move(it->second));  // freed after dispatch: callers up the stack may hold `c`
  conns_.erase(it);
}

void Server::mark_dirty(Connection& c) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(c.id());
}

// Before epoll_wait: write what was queued this iteration (many frames per syscall), refill replays,
// and watch EPOLLOUT only for sockets the kernel would not take everything from.
void Server::flush_dirty() {
  std::vector<uint64_t> ids;
  ids.swap(dirty_);
  for (uint64_t id : ids) {
    Connection* c = find(id);
    if (!c) continue;
    c->dirty = false;
    for (int round = 0; round < 4; ++round) {
      uint64_t written = 0;
      if (c->flush(&written) != Connection::IoStatus::kOk) {
        finish(*c, c->close_label.empty() ? "reset" : c->close_label);
        c = nullptr;
        break;
      }
      metrics_.bytes_out += written;
      // The stall clock runs while output waits and the kernel takes none of it.
      if (c->pending_bytes() == 0) c->stalled_since_ms = 0;
      else if (written > 0 || c->stalled_since_ms == 0) c->stalled_since_ms = loop_.now_ms();
      if (!c->replaying || c->pending_bytes() > 0) break;
      // The socket took everything: queue the next slice of the replay, or end it with the held frames.
      size_t budget = 0;
      while (c->replay_pos < c->replay.size() && budget < kReplayChunk) {
        const Frame& f = c->replay[c->replay_pos++]->frame;
        budget += f->size();
        if (c->queue(f)) ++metrics_.frames_out;
      }
      if (c->replay_pos >= c->replay.size()) {
        c->replaying = false;
        c->replay.clear();
        for (auto& f : c->held) {
          if (c->queue(f)) ++metrics_.frames_out;
        }
        c->held.clear();
        c->held_bytes = 0;
      }
    }
    if (!c) continue;
    if (c->state() == Connection::State::kDone && c->pending_bytes() == 0) {
      if (!c->write_shut) {
        // Everything is written: shut the write side and read until the peer's EOF (on_readable
        // finishes then) or the close deadline (the timer tick finishes then).
        c->write_shut = true;
        if (::shutdown(c->fd(), SHUT_WR) != 0) {
          finish(*c, c->close_label.empty() ? "http" : c->close_label);
          continue;
        }
      }
      if (c->epoll_events != EPOLLIN) {
        loop_.modify(id, EPOLLIN);
        c->epoll_events = EPOLLIN;
      }
      continue;
    }
    uint32_t want = EPOLLIN | (c->pending_bytes() > 0 ? EPOLLOUT : 0u);
    if (want != c->epoll_events) {
      loop_.modify(id, want);
      c->epoll_events = want;
    }
  }
}

void Server::free_closed() {
  closed_.clear();
  if (shutting_down_ && conns_.empty()) loop_.stop();
}

void Server::tick() {
  const int64_t now = loop_.now_ms();
  ring_.expire(now);
  std::vector<uint64_t> ids;
  ids.reserve(conns_.size());
  for (const auto& [id, c] : conns_) ids.push_back(id);
  for (uint64_t id : ids) {
    Connection* c = find(id);
    if (!c) continue;
    switch (c->state()) {
      case Connection::State::kHttp:
        if (now - c->created_ms > kHandshakeTimeoutMs) finish(*c, "handshake_timeout");
        break;
      case Connection::State::kAuthenticating:
        if (now - c->created_ms > kAuthTimeoutMs) refuse_upgrade(*c, 503, "Service unavailable");
        break;
      case Connection::State::kOpen:
        if (now - c->last_read_ms > kSilenceLimitMs) {
          finish(*c, "timeout");  // a peer silent this long is gone; a close frame would not be read
        } else if (c->stalled_since_ms != 0 && now - c->stalled_since_ms > kOutputStallMs) {
          close_not_reading(*c, "output stalled");
        } else if (now - c->last_ping_ms >= kPingEveryMs) {
          c->queue_raw(ws::encode_ping());  // §5.5.2: the peer answers with a pong, which counts as activity
          c->last_ping_ms = now;
          ++metrics_.pings_sent;
          mark_dirty(*c);
        }
        break;
      case Connection::State::kClosing:
      case Connection::State::kDone:
        if (now > c->close_deadline_ms) finish(*c, c->close_label.empty() ? "close_timeout" : c->close_label);
        break;
    }
  }
  for (const auto& t : typing_.expire(now)) publish_typing(t.user_id, t.username, t.conversation_id, false);
  const int64_t wall = unix_now_ms();
  for (auto it = revoked_.begin(); it != revoked_.end();) {
    it = wall - it->second > 60'000 ? revoked_.erase(it) : std::next(it);
  }
}

// The daemon's heartbeat (core/heartbeat.hpp) on the ordered lane, which has the Redis connection: /health
// tells a daemon that is gone from one that is up. Redis down only delays the next beat.
void Server::beat() {
  lane_.submit([id = heartbeat_id_](Context& ctx) {
    try {
      heartbeat::beat(ctx.redis, heartbeat::Kind::kRealtime, id);
    } catch (const redis::RedisError&) {
    }
  });
}

void Server::begin_shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  lane_.submit([id = heartbeat_id_](Context& ctx) {  // a clean stop is not a dead daemon
    try {
      heartbeat::gone(ctx.redis, heartbeat::Kind::kRealtime, id);
    } catch (const redis::RedisError&) {
    }
  });
  log::info("realtime_shutdown", {{"sockets", std::to_string(hub_.socket_count())}});
  if (listen_id_) loop_.remove(listen_id_);
  listen_id_ = 0;
  listen_fd_.reset();
  if (unix_id_) {
    loop_.remove(unix_id_);
    ::unlink(options_.unix_socket.c_str());
  }
  unix_id_ = 0;
  unix_fd_.reset();
  presence_->shutdown(hub_.local_users());
  std::vector<uint64_t> ids;
  for (const auto& [id, c] : conns_) ids.push_back(id);
  for (uint64_t id : ids) {
    Connection* c = find(id);
    if (!c) continue;
    if (c->state() == Connection::State::kOpen) {
      start_close(*c, ws::kCloseGoingAway, "server shutting down", 1500);  // §7.4.1: 1001 going away
    } else if (c->state() != Connection::State::kClosing) {
      finish(*c, "shutdown");
    }
  }
  loop_.add_timer(1800, [this] { loop_.stop(); });  // peers that do not answer the close are not waited for
  if (conns_.empty()) loop_.stop();
}

}  // namespace chat::realtime

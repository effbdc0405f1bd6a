// The daemon's wiring and life: start (signals, sockets, the stream position, threads, timers), input
// dispatched by connection stage, what Redis brings routed to the hub, the tick, and shutdown.
#include "realtime/server.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/heartbeat.hpp"
#include "core/log.hpp"
#include "core/stream.hpp"
#include "core/timefmt.hpp"
#include "realtime/client_messages.hpp"
#include "realtime/deadlines.hpp"

namespace chat::realtime {
namespace {

constexpr size_t kReadBudget = 256 * 1024;  // per socket per wake-up: one busy client cannot starve the rest

}  // namespace

Server::Server(const Config& config, ServerOptions options)
    : config_(config),
      options_(std::move(options)),
      ring_(20'000, 10 * 60 * 1000),
      table_(loop_, metrics_, [this](Connection& c, const std::string& label) { on_finished(c, label); }),
      hub_(table_),
      auth_pool_(config, "chat-realtime-auth", options_.auth_threads),
      lane_(config, "chat-realtime-lane", 1),
      presence_(loop_, lane_, Presence::make_daemon_id(), [this] { return hub_.local_users(); }),
      typing_(loop_, lane_, presence_, hub_),
      frames_(loop_, table_, hub_, metrics_, typing_, auth_pool_),
      upgrader_(config, loop_, table_, hub_, ring_, metrics_, revocations_, auth_pool_, presence_, frames_),
      revocation_watch_(loop_, table_, hub_, metrics_, revocations_, auth_pool_),
      bridge_(
          redis::target_of(config), loop_, [this](RedisBridge::EventBatch b) { on_stream_events(std::move(b)); },
          [this](RedisBridge::MessageBatch b) { on_pubsub(std::move(b)); },
          [this](StreamCheck c) { on_stream_reopened(std::move(c)); }),
      listener_(loop_, [this](UniqueFd fd, std::string ip) { on_accepted(std::move(fd), std::move(ip)); }),
      heartbeat_id_(heartbeat::instance_id(std::to_string(options_.port))) {
  rlimit rl{};  // read after main() raised it: what the sockets can really take
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) metrics_.descriptor_limit = rl.rlim_cur == RLIM_INFINITY ? 0 : rl.rlim_cur;
}

Server::~Server() {
  bridge_.stop();
  auth_pool_.stop();
  lane_.stop();
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
  if (!listener_.open(options_.bind_address, options_.port, options_.unix_socket, options_.backlog)) return 1;

  // The stream position at start: the ring and the reader begin here (events older than the daemon
  // come only from Redis, for a resume).
  StreamId position;
  redis::Client redis(redis::target_of(config_));
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
  bridge_.start(position);
  presence_.start();
  loop_.every(1000, [this] { tick(); });
  loop_.every(heartbeat::kIntervalMs, [this] { beat(); });
  beat();
  revocation_watch_.start();
  // Connections finished while flushing are freed before the wait, so their fds close now, not a
  // whole epoll_wait later.
  auto free_closed = [this] {
    table_.free_closed();
    if (shutting_down_ && table_.empty()) loop_.stop();
  };
  loop_.set_before_wait([this, free_closed] {
    table_.flush();
    free_closed();
  });
  loop_.set_after_dispatch(free_closed);
  log::info("realtime_ready", {{"address", options_.bind_address}, {"port", std::to_string(options_.port)},
                               {"stream_position", position.str()}});
  loop_.run();

  bridge_.stop();
  auth_pool_.stop();
  lane_.stop();  // after the presence release job queued by begin_shutdown
  log::info("realtime_stopped");
  return 0;
}

void Server::on_accepted(UniqueFd fd, std::string peer_ip) {
  table_.adopt(std::move(fd), std::move(peer_ip), [this](uint64_t id, uint32_t events) { on_io(id, events); });
}

void Server::on_io(uint64_t id, uint32_t events) {
  Connection* c = table_.find(id);
  if (!c) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(*c);
  c = table_.find(id);  // reading may have finished it
  if (c && (events & EPOLLOUT)) table_.mark_dirty(*c);
}

void Server::on_readable(Connection& c) {
  std::string data;
  Connection::IoStatus st = c.read_some(data, kReadBudget);
  if (!data.empty()) c.last_read_ms = loop_.now_ms();
  switch (c.state()) {
    case Connection::State::kHttp:
      upgrader_.on_http_input(c, data);
      break;
    case Connection::State::kAuthenticating:
      upgrader_.on_early_input(c, data);
      break;
    case Connection::State::kOpen:
    case Connection::State::kClosing:
      if (!data.empty()) {
        c.decoder.feed(data);
        frames_.process(c);
      }
      break;
    case Connection::State::kDone:
      break;  // draining after our last byte: what the peer still sends is dropped
  }
  if (st != Connection::IoStatus::kOk && table_.find(c.id())) {
    // The peer closed (or reset) TCP: a close handshake already done is labelled by its code.
    table_.finish(c, c.close_label.empty()
                         ? (st == Connection::IoStatus::kClosed ? (c.write_shut ? "http" : "1006") : "reset")
                         : c.close_label);
  }
}

void Server::on_finished(Connection& c, const std::string& label) {
  if (!c.registered) return;
  c.registered = false;
  --metrics_.open_sockets;
  ++metrics_.closes[label];
  log::info("ws_closed", {{"request_id", c.request_id}, {"user_id", c.user_id}, {"code", label}});
  if (hub_.remove_socket(c.id())) {
    presence_.user_disconnected(c.user_id);
    typing_.last_local_socket_closed(c.user_id);
  }
  metrics_.local_users = hub_.user_count();
}

void Server::on_stream_events(RedisBridge::EventBatch batch) {
  const int64_t now = loop_.now_ms();
  for (auto& e : batch) {
    ++metrics_.stream_events_in;
    ring_.push(e, now);
    if (e->duplicate) ++metrics_.stream_duplicates;
    for (const auto& [user, conv] : hub_.route(*e)) typing_.end(user, conv);
  }
}

void Server::on_stream_reopened(StreamCheck check) {
  ++metrics_.stream_reopens;
  if (!could_have_missed(check, ring_, config_.redis_wait_replicas > 0)) return;
  // Which conversations lost an entry is not knowable: every socket reloads over REST.
  log::warn("stream_resync_all", {{"last_id", check.last.str()}, {"sockets", std::to_string(hub_.socket_count())}});
  metrics_.resyncs += hub_.socket_count();
  hub_.broadcast(make_text_frame(resync_required_event(kResyncStreamChanged, rfc3339_now())));
}

void Server::on_pubsub(RedisBridge::MessageBatch batch) {
  for (const auto& m : batch) {
    if (m.channel == stream::kRevoked) {
      revocation_watch_.on_message(m.payload);
      continue;
    }
    ++metrics_.ephemeral_in;
    Ephemeral e;
    if (!stream::parse(m.payload, e)) {
      log::warn("ephemeral_malformed", {{"bytes", std::to_string(m.payload.size())}});
      continue;
    }
    if (e.type == stream::kUserGone) {  // between daemons only: never delivered to a socket
      if (e.user_ids.size() == 1) typing_.on_user_gone(e.user_ids[0]);
      continue;
    }
    hub_.route_ephemeral(e, make_text_frame(e.payload));
  }
}

void Server::tick() {
  const int64_t now = loop_.now_ms();
  ring_.expire(now);
  for (uint64_t id : table_.ids()) {
    Connection* c = table_.find(id);
    if (!c) continue;
    switch (due(*c, now)) {
      case Due::kNothing:
        break;
      case Due::kHandshakeTimeout:
        table_.finish(*c, "handshake_timeout");
        break;
      case Due::kAuthTimeout:
        upgrader_.refuse(*c, 503, "Service unavailable");
        break;
      case Due::kSilent:
        table_.finish(*c, "timeout");
        break;
      case Due::kOutputStalled:
        table_.close_not_reading(*c, "output stalled");
        break;
      case Due::kPing:
        table_.ping(*c);
        break;
      case Due::kCloseTimeout:
        table_.finish(*c, c->close_label.empty() ? "close_timeout" : c->close_label);
        break;
    }
  }
  typing_.expire(now);
  revocations_.expire(unix_now_ms());
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
  upgrader_.stop();
  lane_.submit([id = heartbeat_id_](Context& ctx) {  // a clean stop is not a dead daemon
    try {
      heartbeat::gone(ctx.redis, heartbeat::Kind::kRealtime, id);
    } catch (const redis::RedisError&) {
    }
  });
  log::info("realtime_shutdown", {{"sockets", std::to_string(hub_.socket_count())}});
  listener_.close();
  presence_.shutdown(hub_.local_users());
  for (uint64_t id : table_.ids()) {
    Connection* c = table_.find(id);
    if (!c) continue;
    if (c->state() == Connection::State::kOpen) {
      table_.start_close(*c, ws::kCloseGoingAway, "server shutting down", 1500);  // §7.4.1: 1001 going away
    } else if (c->state() != Connection::State::kClosing) {
      table_.finish(*c, "shutdown");
    }
  }
  loop_.add_timer(1800, [this] { loop_.stop(); });  // peers that do not answer the close are not waited for
  if (table_.empty()) loop_.stop();
}

}  // namespace chat::realtime

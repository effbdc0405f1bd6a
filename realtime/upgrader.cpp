// The upgrade stage's I/O: answers, the worker round trip, and opening the WebSocket.
#include "realtime/upgrader.hpp"

#include "core/log.hpp"
#include "core/prom_text.hpp"
#include "core/timefmt.hpp"
#include "realtime/client_messages.hpp"
#include "realtime/resume.hpp"
#include "realtime/upgrade_stage.hpp"

namespace chat::realtime {

Upgrader::Upgrader(const Config& config, EventLoop& loop, ConnectionTable& table, Hub& hub, EventRing& ring,
                   Metrics& metrics, Revocations& revocations, WorkerPool& auth_pool, Presence& presence,
                   ClientFrames& frames)
    : config_(config), loop_(loop), table_(table), hub_(hub), ring_(ring), metrics_(metrics),
      revocations_(revocations), auth_pool_(auth_pool), presence_(presence), frames_(frames) {}

void Upgrader::on_http_input(Connection& c, std::string_view data) {
  if (data.empty()) return;
  ws::ParseResult parsed = c.http.feed(data);
  if (parsed.status == ws::ParseStatus::kError) {
    table_.respond_http(c, parsed.http_status, detail_body(parsed.detail));
  } else if (parsed.status == ws::ParseStatus::kRequest) {
    on_request(c, parsed);
  }
}

void Upgrader::on_early_input(Connection& c, std::string_view data) {
  c.early_input += data;
  if (c.early_input.size() > Connection::kMaxClientMessage + 16) table_.finish(c, "early_input");
}

void Upgrader::on_request(Connection& c, ws::ParseResult& parsed) {
  const ws::Request& req = parsed.request;
  c.request_id = request_id_of(req);
  c.peer_ip = peer_ip_of(req, c.peer_ip);
  RequestStep step = request_step(req, config_, stopping_);
  switch (step.kind) {
    case RequestStep::Kind::kPlain:
      ++metrics_.http_requests;
      table_.respond_http(c, step.refusal.status, detail_body(step.refusal.detail), step.refusal.headers);
      return;
    case RequestStep::Kind::kMetrics:
      ++metrics_.http_requests;
      table_.respond_http(c, 200, metrics_.render(ring_.size(), pending_auth_), {}, prom::kContentType);
      return;
    case RequestStep::Kind::kRefuse:
      refuse(c, step.refusal.status, step.refusal.detail, step.refusal.headers);
      return;
    case RequestStep::Kind::kAuthenticate:
      break;
  }
  c.accept_key = step.accept_key;
  c.position_at_request = ring_.newest();  // before the worker loads membership (see Hub::add_socket)
  c.resume = plan_resume(step.last_event_id, ring_, c.position_at_request);
  c.early_input = std::move(parsed.rest);
  c.set_state(Connection::State::kAuthenticating);
  ++pending_auth_;
  AuthRequest ar{c.id(), std::move(step.token), c.resume};
  auth_pool_.submit([this, ar = std::move(ar)](Context& ctx) {
    AuthResult r = authenticate(ctx, ar);
    loop_.post([this, r = std::move(r)]() mutable { on_authenticated(std::move(r)); });
  });
}

void Upgrader::refuse(Connection& c, int status, const std::string& detail, const ws::HeaderList& headers) {
  ++metrics_.upgrades_refused[status];
  log::info("ws_refused", {{"request_id", c.request_id}, {"ip", c.peer_ip}, {"status", std::to_string(status)},
                           {"detail", detail}});
  table_.respond_http(c, status, detail_body(detail), headers);
}

void Upgrader::on_authenticated(AuthResult r) {
  --pending_auth_;
  Connection* c = table_.find(r.conn);
  if (!c || c->state() != Connection::State::kAuthenticating) return;  // the client went away meanwhile
  if (auto refusal = admission(r, revocations_, stopping_, unix_now_ms())) {
    refuse(*c, refusal->status, refusal->detail, refusal->headers);
    return;
  }
  open(*c, r);
  if (Connection* still = table_.find(r.conn)) table_.mark_dirty(*still);
}

void Upgrader::open(Connection& c, const AuthResult& r) {
  const int64_t now = loop_.now_ms();
  c.queue_raw(ws::build_upgrade_response(c.accept_key));  // §4.2.2
  std::string().swap(c.accept_key);                       // done with: an open socket keeps nothing it no longer needs
  c.set_state(Connection::State::kOpen);
  c.user_id = r.user_id;
  c.username = r.username;
  c.session_id = r.session_id;
  c.last_read_ms = c.last_ping_ms = now;

  // Membership was loaded after position_at_request: re-apply the membership events read since.
  bool first = hub_.add_socket(c.id(), r.user_id, r.username, r.session_id, r.conversations,
                               ring_.after(c.position_at_request));
  c.registered = true;
  ++metrics_.open_sockets;
  ++metrics_.upgrades_accepted;
  metrics_.local_users = hub_.user_count();
  if (first) presence_.user_connected(r.user_id);

  const StreamId position = ring_.newest();
  const std::string ts = rfc3339_now();
  table_.send_json(c, connection_established_event(r.user_id, r.username, r.session_id,
                                                   position.zero() ? "0" : position.str(), ts));
  log::info("ws_open", {{"request_id", c.request_id}, {"ip", c.peer_ip}, {"user_id", r.user_id},
                        {"session_id", r.session_id}, {"conversations", std::to_string(r.conversations.size())}});
  start_resume(c, r, position, ts);
  if (!c.early_input.empty()) {
    c.decoder.feed(c.early_input);
    std::string().swap(c.early_input);
    frames_.process(c);
  }
}

void Upgrader::start_resume(Connection& c, const AuthResult& r, StreamId position, const std::string& ts) {
  if (c.resume.kind == ResumePlan::Kind::kNone) return;
  if (c.resume.kind == ResumePlan::Kind::kResync) {
    ++metrics_.resyncs;
    table_.send_json(c, resync_required_event(c.resume.reason, ts));
    return;
  }
  std::string reason;
  auto candidates = replay_candidates(c.resume, r.fetched ? &*r.fetched : nullptr, ring_, position, &reason);
  if (!reason.empty()) {
    ++metrics_.resyncs;
    table_.send_json(c, resync_required_event(reason, ts));
    return;
  }
  c.replay = replay_for(r.user_id, hub_.conversations_of(r.user_id), candidates);
  c.replay_pos = 0;
  c.replaying = !c.replay.empty();
  metrics_.replayed_events += c.replay.size();
  // A client that resumes from an id this daemon has not read yet must not get it again live.
  if (c.resume.after > position) hub_.set_deliver_after(c.id(), c.resume.after);
}

}  // namespace chat::realtime

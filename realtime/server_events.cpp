// The WebSocket stage: authentication results (101, connection_established, replay), client frames
// (RFC 6455 control frames and API.md §9.1 messages), and what Redis brings (events, ephemeral
// signals, revocations).
#include "realtime/server.hpp"

#include <algorithm>
#include <set>

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/timefmt.hpp"
#include "realtime/client_messages.hpp"
#include "realtime/online_members.hpp"
#include "realtime/session_sweep.hpp"

namespace chat::realtime {
namespace {

constexpr int64_t kRecentRevocationMs = 60'000;

}  // namespace

void Server::send_json(Connection& c, const std::string& json_text) { send(c.id(), make_text_frame(json_text)); }

void Server::on_auth_done(AuthResult r) {
  --pending_auth_;
  Connection* c = find(r.conn);
  if (!c || c->state() != Connection::State::kAuthenticating) return;  // the client went away meanwhile
  // Revoked while the worker was checking it: a session as a logout would make it (401), every
  // session of the user as a ban or a password reset would (403) — but not a session opened after that
  // revocation (the user logged in again, with the new password or after an unban).
  auto all_at = recently_revoked("*:" + r.user_id);
  if (r.status == 0 && recently_revoked(r.session_id)) {
    r.status = 401;
    r.detail = "Could not validate credentials";
  } else if (r.status == 0 && all_at && r.session_created_ms <= *all_at) {
    r.status = 403;
    r.detail = "Inactive user";
  }
  if (r.status != 0) {
    ws::HeaderList headers;
    if (r.status == 401) headers.emplace_back("WWW-Authenticate", "Bearer");
    refuse_upgrade(*c, r.status, r.detail, headers);
    return;
  }
  if (shutting_down_) {
    refuse_upgrade(*c, 503, "Service unavailable");
    return;
  }
  const int64_t now = loop_.now_ms();
  c->queue_raw(ws::build_upgrade_response(c->accept_key));  // §4.2.2
  c->set_state(Connection::State::kOpen);
  c->user_id = r.user_id;
  c->username = r.username;
  c->session_id = r.session_id;
  c->last_read_ms = c->last_ping_ms = now;

  // Membership was loaded after position_at_request: re-apply the membership events read since.
  bool first = hub_.add_socket(c->id(), r.user_id, r.username, r.session_id, r.conversations,
                               ring_.after(c->position_at_request));
  c->registered = true;
  ++metrics_.open_sockets;
  ++metrics_.upgrades_accepted;
  metrics_.local_users = hub_.user_count();
  if (first) presence_->user_connected(r.user_id);

  const StreamId position = ring_.newest();
  const std::string ts = rfc3339_now();
  send_json(*c, connection_established_event(r.user_id, r.username, r.session_id,
                                             position.zero() ? "0" : position.str(), ts));
  log::info("ws_open", {{"request_id", c->request_id}, {"ip", c->peer_ip}, {"user_id", r.user_id},
                        {"session_id", r.session_id}, {"conversations", std::to_string(r.conversations.size())}});

  if (c->resume.kind == ResumePlan::Kind::kResync) {
    ++metrics_.resyncs;
    send_json(*c, resync_required_event(c->resume.reason, ts));
  } else if (c->resume.kind != ResumePlan::Kind::kNone) {
    std::string reason;
    auto candidates =
        replay_candidates(c->resume, r.fetched ? &*r.fetched : nullptr, ring_, position, &reason);
    if (!reason.empty()) {
      ++metrics_.resyncs;
      send_json(*c, resync_required_event(reason, ts));
    } else {
      c->replay = replay_for(r.user_id, hub_.conversations_of(r.user_id), candidates);
      c->replay_pos = 0;
      c->replaying = !c->replay.empty();
      metrics_.replayed_events += c->replay.size();
      // A client that resumes from an id this daemon has not read yet must not get it again live.
      if (c->resume.after > position) hub_.set_deliver_after(c->id(), c->resume.after);
    }
  }
  if (!c->early_input.empty()) {
    c->decoder.feed(c->early_input);
    c->early_input.clear();
    process_frames(*c);
  }
  if (Connection* still = find(r.conn)) mark_dirty(*still);
}

std::optional<int64_t> Server::recently_revoked(const std::string& key) {
  auto it = revoked_.find(key);
  if (it == revoked_.end()) return std::nullopt;
  if (unix_now_ms() - it->second > kRecentRevocationMs) {
    revoked_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void Server::process_frames(Connection& c) {
  const uint64_t id = c.id();
  for (;;) {
    Connection* cur = find(id);
    if (!cur || cur->state() == Connection::State::kDone) return;
    ws::DecodeResult r = cur->decoder.next();
    if (r.need_more()) return;
    if (r.is_error()) {
      // §7.1.7 Fail the WebSocket Connection: the close code says why (1002, 1007, 1009), then TCP goes.
      cur->queue_raw(ws::encode_close(r.code, r.reason));
      cur->close_label = std::to_string(r.code);
      cur->set_state(Connection::State::kDone);
      cur->close_deadline_ms = loop_.now_ms() + 3000;
      mark_dirty(*cur);
      return;
    }
    if (r.is_message()) {
      if (cur->state() == Connection::State::kOpen) {
        on_client_message(*cur, r.payload, r.opcode == ws::Opcode::kBinary);
      }
      continue;
    }
    switch (r.opcode) {
      case ws::Opcode::kPing:  // §5.5.2: answer with the same application data
        if (cur->state() == Connection::State::kOpen) {
          cur->queue_raw(ws::encode_pong(r.payload));
          mark_dirty(*cur);
        }
        break;
      case ws::Opcode::kClose: {
        // §5.5.1: answer a close with a close; echo the peer's code, 1000 when it sent none.
        uint16_t code = r.code == ws::kCloseNoStatus ? ws::kCloseNormal : r.code;
        if (cur->state() == Connection::State::kOpen) {
          cur->queue_raw(ws::encode_close(code));
          cur->close_label = std::to_string(code);
        }
        cur->set_state(Connection::State::kDone);  // the server closes TCP first (§7.1.1) once written
        cur->close_deadline_ms = loop_.now_ms() + 3000;
        mark_dirty(*cur);
        return;
      }
      default:  // pong: its arrival already counted as activity
        break;
    }
  }
}

void Server::on_client_message(Connection& c, const std::string& text, bool binary) {
  ++metrics_.client_messages;
  const std::string now = rfc3339_now();
  ClientOutcome out = handle_client_message(hub_, c.id(), text, binary, now);
  for (const auto& reply : out.replies) send_json(c, reply);
  if (out.text_pong) send(c.id(), std::make_shared<const std::string>(ws::encode_text("pong")));
  if (out.typing) {
    typing_.set(c.user_id, c.username, out.typing->conversation_id, out.typing->is_typing, loop_.now_ms());
    publish_typing(c.user_id, c.username, out.typing->conversation_id, out.typing->is_typing);
  }
  if (out.online_users_for) {
    const uint64_t id = c.id();
    const std::string conv = *out.online_users_for;
    auth_pool_.submit([this, id, conv](Context& ctx) {
      std::vector<std::string> users;
      bool ok = true;
      try {
        users = online_members(ctx, conv);
      } catch (const std::exception& e) {
        ok = false;
        log::warn("online_users_failed", {{"error", e.what()}});
      }
      loop_.post([this, id, conv, users = std::move(users), ok] {
        Connection* c = find(id);
        if (!c || c->state() != Connection::State::kOpen) return;
        // Members connected here are online even if the presence lane has not written them yet.
        std::set<std::string> all(users.begin(), users.end());
        for (auto& u : hub_.local_members(conv)) all.insert(u);
        if (!ok && all.empty()) {
          send_json(*c, error_event("unavailable", "Presence is unavailable, try again", rfc3339_now()));
          return;
        }
        send_json(*c, online_users_event(conv, std::vector<std::string>(all.begin(), all.end()), rfc3339_now()));
      });
    });
  }
}

void Server::publish_typing(const std::string& user_id, const std::string& username,
                            const std::string& conversation_id, bool is_typing) {
  std::string msg = typing_ephemeral(user_id, username, conversation_id, is_typing, rfc3339_now());
  lane_.submit([msg = std::move(msg)](Context& ctx) {
    ctx.redis.command({"PUBLISH", RedisBridge::kEphemeralChannel, msg});
  });
}

void Server::on_user_gone(const std::string& user_id) {
  presence_->user_disconnected(user_id);
  // Typing ends with the typist's last socket anywhere (API.md §9.1): while a tab lives on another
  // daemon, the 10 s expiry ends it instead.
  presence_->held_elsewhere(user_id, [this, user_id](bool elsewhere) {
    if (elsewhere || !hub_.sockets_of_user(user_id).empty()) return;  // or it came back here meanwhile
    end_typing_of(user_id);
    // The typing may have started on another daemon, whose tab closed earlier: tell every daemon.
    std::string msg = "{\"type\":\"" + std::string(kUserGoneSignal) + "\",\"user_ids\":\"" + user_id + "\",\"payload\":{}}";
    lane_.submit([msg = std::move(msg)](Context& ctx) {
      ctx.redis.command({"PUBLISH", RedisBridge::kEphemeralChannel, msg});
    });
  });
}

void Server::end_typing_of(const std::string& user_id) {
  for (const auto& t : typing_.end_user(user_id)) publish_typing(t.user_id, t.username, t.conversation_id, false);
}

void Server::on_stream_events(RedisBridge::EventBatch batch) {
  const int64_t now = loop_.now_ms();
  for (auto& e : batch) {
    ++metrics_.stream_events_in;
    ring_.push(e, now);
    if (e->duplicate) ++metrics_.stream_duplicates;
    for (const auto& [user, conv] : hub_.route(*e)) {
      if (auto t = typing_.end(user, conv)) publish_typing(user, t->username, conv, false);
    }
  }
}

void Server::on_pubsub(RedisBridge::MessageBatch batch) {
  for (const auto& m : batch) {
    if (m.channel == RedisBridge::kRevokedChannel) {
      on_revoked(m.payload);
      continue;
    }
    ++metrics_.ephemeral_in;
    Ephemeral e;
    if (!parse_ephemeral(m.payload, e)) {
      log::warn("ephemeral_malformed", {{"bytes", std::to_string(m.payload.size())}});
      continue;
    }
    if (e.type == kUserGoneSignal) {  // between daemons only: never delivered to a socket
      if (e.user_ids.size() == 1 && hub_.sockets_of_user(e.user_ids[0]).empty()) end_typing_of(e.user_ids[0]);
      continue;
    }
    hub_.route_ephemeral(e, make_text_frame(e.payload));
  }
}

// {"session_id", "user_id", "reason"}; session_id "*" means every session of the user (a ban).
void Server::on_revoked(const std::string& text) {
  auto v = json::Value::parse(text);
  if (!v || !json::is_object(v->get())) return;
  std::string session = json::as_string(json::field(v->get(), "session_id")).value_or("");
  std::string user = json::as_string(json::field(v->get(), "user_id")).value_or("");
  std::string reason = json::as_string(json::field(v->get(), "reason")).value_or("session_revoked");
  if (session.empty()) return;
  std::vector<uint64_t> ids;
  if (session == "*") {
    if (user.empty()) return;
    ids = hub_.sockets_of_user(user);
    revoked_["*:" + user] = unix_now_ms();
  } else {
    ids = hub_.sockets_of_session(session);
    revoked_[session] = unix_now_ms();
  }
  revoke_sockets(ids, reason);
}

void Server::revoke_sockets(const std::vector<uint64_t>& ids, const std::string& reason) {
  const std::string ts = rfc3339_now();
  for (uint64_t id : ids) {
    Connection* c = find(id);
    if (!c || c->state() != Connection::State::kOpen) continue;
    c->replaying = false;  // the notice goes out now, not behind a replay
    c->replay.clear();
    c->held.clear();
    c->held_bytes = 0;
    send_json(*c, force_disconnect_event(reason, ts));
    if (find(id)) start_close(*c, 4003, reason, 1000);
    ++metrics_.revocations;
    log::info("ws_revoked", {{"request_id", c->request_id}, {"user_id", c->user_id}, {"reason", reason}});
  }
}

void Server::sweep_revocations() {
  std::set<std::string> sessions;
  for (uint64_t id : hub_.all_sockets()) {
    if (const SocketInfo* s = hub_.socket(id)) sessions.insert(s->session_id);
  }
  if (sessions.empty()) return;
  auth_pool_.submit([this, ids = std::vector<std::string>(sessions.begin(), sessions.end())](Context& ctx) {
    std::vector<std::pair<std::string, std::string>> refused;
    try {
      refused = refused_sessions(ctx, ids);
    } catch (const std::exception& e) {
      log::warn("revocation_sweep_failed", {{"error", e.what()}});
      return;
    }
    if (refused.empty()) return;
    loop_.post([this, refused = std::move(refused)] {
      for (const auto& [session, reason] : refused) {
        revoked_[session] = unix_now_ms();
        revoke_sockets(hub_.sockets_of_session(session), reason);
      }
    });
  });
}

}  // namespace chat::realtime

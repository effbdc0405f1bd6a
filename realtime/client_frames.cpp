// The frame loop of an open (or closing) socket, and what its messages set off.
#include "realtime/client_frames.hpp"

#include <set>
#include <vector>

#include "core/log.hpp"
#include "core/timefmt.hpp"
#include "realtime/client_messages.hpp"
#include "realtime/deadlines.hpp"
#include "realtime/online_members.hpp"

namespace chat::realtime {

ClientFrames::ClientFrames(EventLoop& loop, ConnectionTable& table, Hub& hub, Metrics& metrics, TypingRelay& typing,
                           WorkerPool& pool)
    : loop_(loop), table_(table), hub_(hub), metrics_(metrics), typing_(typing), pool_(pool) {}

void ClientFrames::process(Connection& c) {
  const uint64_t id = c.id();
  for (;;) {
    Connection* cur = table_.find(id);
    if (!cur || cur->state() == Connection::State::kDone) return;
    ws::DecodeResult r = cur->decoder.next();
    if (r.need_more()) return;
    if (r.is_error()) {
      // §7.1.7 Fail the WebSocket Connection: the close code says why (1002, 1007, 1009), then TCP goes.
      cur->queue_raw(ws::encode_close(r.code, r.reason));
      cur->close_label = std::to_string(r.code);
      cur->set_state(Connection::State::kDone);
      cur->close_deadline_ms = loop_.now_ms() + kCloseWaitMs;
      table_.mark_dirty(*cur);
      return;
    }
    if (r.is_message()) {
      if (cur->state() == Connection::State::kOpen) on_message(*cur, r.payload, r.opcode == ws::Opcode::kBinary);
      continue;
    }
    switch (r.opcode) {
      case ws::Opcode::kPing:  // §5.5.2: answer with the same application data
        if (cur->state() == Connection::State::kOpen) {
          cur->queue_raw(ws::encode_pong(r.payload));
          table_.mark_dirty(*cur);
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
        cur->close_deadline_ms = loop_.now_ms() + kCloseWaitMs;
        table_.mark_dirty(*cur);
        return;
      }
      default:  // pong: its arrival already counted as activity
        break;
    }
  }
}

void ClientFrames::on_message(Connection& c, const std::string& text, bool binary) {
  ++metrics_.client_messages;
  ClientOutcome out = handle_client_message(hub_, c.id(), text, binary, rfc3339_now());
  for (const auto& reply : out.replies) table_.send_json(c, reply);
  if (out.text_pong) table_.send(c.id(), std::make_shared<const std::string>(ws::encode_text("pong")));
  if (out.typing) typing_.set(c.user_id, c.username, out.typing->conversation_id, out.typing->is_typing);
  if (out.online_users_for) answer_online_users(c.id(), *out.online_users_for);
}

void ClientFrames::answer_online_users(uint64_t conn_id, const std::string& conversation_id) {
  pool_.submit([this, conn_id, conv = conversation_id](Context& ctx) {
    std::vector<std::string> users;
    bool ok = true;
    try {
      users = online_members(ctx, conv);
    } catch (const std::exception& e) {
      ok = false;
      log::warn("online_users_failed", {{"error", e.what()}});
    }
    loop_.post([this, conn_id, conv, users = std::move(users), ok] {
      Connection* c = table_.find(conn_id);
      if (!c || c->state() != Connection::State::kOpen) return;
      // Members connected here are online even if the presence lane has not written them yet.
      std::set<std::string> all(users.begin(), users.end());
      for (auto& u : hub_.local_members(conv)) all.insert(u);
      if (!ok && all.empty()) {
        table_.send_json(*c, error_event("unavailable", "Presence is unavailable, try again", rfc3339_now()));
        return;
      }
      table_.send_json(*c, online_users_event(conv, std::vector<std::string>(all.begin(), all.end()), rfc3339_now()));
    });
  });
}

}  // namespace chat::realtime

// Revocations heard or swept, turned into closed sockets.
#include "realtime/revocation_watch.hpp"

#include <set>
#include <utility>

#include "core/log.hpp"
#include "core/stream.hpp"
#include "core/timefmt.hpp"
#include "realtime/client_messages.hpp"
#include "realtime/session_sweep.hpp"

namespace chat::realtime {

RevocationWatch::RevocationWatch(EventLoop& loop, ConnectionTable& table, Hub& hub, Metrics& metrics,
                                 Revocations& revocations, WorkerPool& pool)
    : loop_(loop), table_(table), hub_(hub), metrics_(metrics), revocations_(revocations), pool_(pool) {}

void RevocationWatch::start() {
  loop_.every(kSweepEveryMs, [this] { sweep(); });
}

void RevocationWatch::on_message(const std::string& text) {
  std::optional<stream::Revocation> m = stream::parse_revocation(text);
  if (!m) return;
  std::vector<uint64_t> ids =
      m->every_session() ? hub_.sockets_of_user(m->user_id) : hub_.sockets_of_session(m->session_id);
  revocations_.record(*m, unix_now_ms());
  close_sockets(ids, m->reason);
}

void RevocationWatch::sweep() {
  std::set<std::string> sessions;
  for (uint64_t id : hub_.all_sockets()) {
    if (const SocketInfo* s = hub_.socket(id)) sessions.insert(s->session_id);
  }
  if (sessions.empty()) return;
  pool_.submit([this, ids = std::vector<std::string>(sessions.begin(), sessions.end())](Context& ctx) {
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
        revocations_.revoke_session(session, unix_now_ms());
        close_sockets(hub_.sockets_of_session(session), reason);
      }
    });
  });
}

void RevocationWatch::close_sockets(const std::vector<uint64_t>& ids, const std::string& reason) {
  const std::string ts = rfc3339_now();
  for (uint64_t id : ids) {
    Connection* c = table_.find(id);
    if (!c || c->state() != Connection::State::kOpen) continue;
    table_.drop_replay(*c);  // the notice goes out now, not behind a replay
    table_.send_json(*c, force_disconnect_event(reason, ts));
    if (table_.find(id)) table_.start_close(*c, 4003, reason, 1000);
    ++metrics_.revocations;
    log::info("ws_revoked", {{"request_id", c->request_id}, {"user_id", c->user_id}, {"reason", reason}});
  }
}

}  // namespace chat::realtime

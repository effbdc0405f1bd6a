// The upgrade stage of a connection (docs/api.md#connecting) as decisions over values: what a complete request head
// gets — a plain answer, a refusal, or the token to authenticate — and whether an upgrade the worker
// authenticated may open. No I/O, so every refusal and its order is unit tested; upgrader.hpp acts on them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "realtime/revocations.hpp"
#include "realtime/upgrade_auth.hpp"
#include "realtime/ws_handshake.hpp"

namespace chat::realtime {

// An HTTP error answer: status, the {"detail": ...} sentence and extra headers.
struct Refusal {
  int status = 0;
  std::string detail;
  ws::HeaderList headers;
};

struct RequestStep {
  enum class Kind {
    kPlain,         // not an upgrade: `refusal` answers it as plain HTTP (404, 405)
    kMetrics,       // GET /metrics
    kRefuse,        // an upgrade refused with `refusal` (counted and logged as such)
    kAuthenticate,  // an upgrade valid so far: the worker checks `token`
  };
  Kind kind = Kind::kPlain;
  Refusal refusal;                           // kPlain, kRefuse
  std::string token;                         // kAuthenticate
  std::string accept_key;                    // kAuthenticate: Sec-WebSocket-Accept of the 101
  std::optional<std::string> last_event_id;  // kAuthenticate: where a resume starts
};

// The order of docs/api.md#connecting: the path, a bad upgrade (RFC 6455 §4.2.1), then the Origin, then the
// token, then a daemon shutting down.
RequestStep request_step(const ws::Request& req, const Config& config, bool shutting_down);

// After the worker: its own refusal, else a revocation heard while it checked (the session: 401; every
// session of the user, unless this one is newer: 403), else a shutdown begun meanwhile (503). nullopt: open.
std::optional<Refusal> admission(const AuthResult& r, Revocations& revocations, bool shutting_down, int64_t wall_ms);

// {"detail": "..."}: the error body of docs/api.md#errors.
std::string detail_body(const std::string& detail);
// X-Request-ID from nginx (or a client talking to the daemon directly) when it is a sane token, else a new one.
std::string request_id_of(const ws::Request& req);
// The client's address: nginx's X-Real-IP when present, else what the socket says.
std::string peer_ip_of(const ws::Request& req, const std::string& socket_ip);

}  // namespace chat::realtime

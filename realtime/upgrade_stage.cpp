// The upgrade stage's decisions, in the order docs/api.md#connecting gives its refusals.
#include "realtime/upgrade_stage.hpp"

#include <cctype>
#include <cstring>

#include "core/crypto.hpp"
#include "core/json.hpp"
#include "core/prom_text.hpp"

namespace chat::realtime {
namespace {

RequestStep refuse(RequestStep::Kind kind, int status, std::string detail, ws::HeaderList headers = {}) {
  RequestStep s;
  s.kind = kind;
  s.refusal = Refusal{status, std::move(detail), std::move(headers)};
  return s;
}

RequestStep refuse_upgrade(int status, std::string detail, ws::HeaderList headers = {}) {
  return refuse(RequestStep::Kind::kRefuse, status, std::move(detail), std::move(headers));
}

}  // namespace

RequestStep request_step(const ws::Request& req, const Config& config, bool shutting_down) {
  const std::string path = req.target.substr(0, req.target.find('?'));
  const bool is_ws_path = path == "/ws" || path == "/ws/";

  if (req.header("upgrade") == nullptr && !is_ws_path) {
    if (prom::is_metrics_path(path)) {
      if (req.method != "GET") return refuse(RequestStep::Kind::kPlain, 405, "Method Not Allowed", {{"Allow", "GET"}});
      RequestStep s;
      s.kind = RequestStep::Kind::kMetrics;
      return s;
    }
    return refuse(RequestStep::Kind::kPlain, 404, "Not Found");
  }
  if (!is_ws_path) return refuse_upgrade(404, "Not Found");
  ws::UpgradeCheck check = ws::validate_upgrade(req);
  if (!check.ok) return refuse_upgrade(check.http_status, check.detail, check.headers);
  if (const std::string* origin = req.header("origin"); origin && !config.origin_allowed(*origin)) {
    return refuse_upgrade(403, "Origin not allowed");
  }
  std::optional<std::string> token = ws::query_param(req.target, "token");
  if (!token || token->empty()) return refuse_upgrade(401, "Not authenticated", {{"WWW-Authenticate", "Bearer"}});
  if (shutting_down) return refuse_upgrade(503, "Service unavailable");

  RequestStep s;
  s.kind = RequestStep::Kind::kAuthenticate;
  s.token = std::move(*token);
  s.accept_key = check.accept;
  s.last_event_id = ws::query_param(req.target, "last_event_id");
  return s;
}

std::optional<Refusal> admission(const AuthResult& r, Revocations& revocations, bool shutting_down, int64_t wall_ms) {
  int status = r.status;
  std::string detail = r.detail;
  if (status == 0) {
    switch (revocations.check(r.session_id, r.user_id, r.session_created_ms, wall_ms)) {
      case Revocations::Verdict::kAllowed:
        break;
      case Revocations::Verdict::kSessionRevoked:
        status = 401;
        detail = "Could not validate credentials";
        break;
      case Revocations::Verdict::kUserRevoked:
        status = 403;
        detail = "Inactive user";
        break;
    }
  }
  if (status != 0) {
    ws::HeaderList headers;
    if (status == 401) headers.emplace_back("WWW-Authenticate", "Bearer");
    return Refusal{status, std::move(detail), std::move(headers)};
  }
  if (shutting_down) return Refusal{503, "Service unavailable", {}};
  return std::nullopt;
}

std::string detail_body(const std::string& detail) { return "{\"detail\":" + json::quote(detail) + "}"; }

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

std::string peer_ip_of(const ws::Request& req, const std::string& socket_ip) {
  if (const std::string* ip = req.header("x-real-ip"); ip && !ip->empty() && ip->size() < 64) return *ip;
  return socket_ip;
}

}  // namespace chat::realtime

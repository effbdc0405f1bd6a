// The generator's handshake, mark and percentile code (see ws_load_wire.hpp).
#include "tests/bench/ws_load_wire.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "realtime/ws_handshake.hpp"

namespace chat::bench {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string upgrade_request(std::string_view target, std::string_view host) {
  std::string out = "GET ";
  out.append(target).append(" HTTP/1.1\r\nHost: ").append(host);
  out.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ").append(kClientKey);
  out.append("\r\nSec-WebSocket-Version: 13\r\n\r\n");
  return out;
}

UpgradeAnswer read_upgrade_answer(std::string_view bytes) {
  UpgradeAnswer a;
  const size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) return a;
  const std::string_view head = bytes.substr(0, end + 2);
  const size_t eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, eol);
  a.status = UpgradeAnswer::Status::kRefused;
  if (status_line.substr(0, 13) != "HTTP/1.1 101 ") {
    a.why = std::string(status_line);
    return a;
  }
  // §4.1: the client fails the connection unless Upgrade, Connection and the accept key are right.
  static const std::string expected_accept = ws::accept_key(kClientKey);
  bool upgrade = false, connection = false, accept = false;
  for (size_t pos = eol + 2; pos < head.size();) {
    const size_t next = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, next - pos);
    pos = next + 2;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    if (iequals(name, "upgrade"))
      upgrade = iequals(value, "websocket");
    else if (iequals(name, "connection"))
      connection = iequals(value, "upgrade");
    else if (iequals(name, "sec-websocket-accept"))
      accept = value == expected_accept;
  }
  if (!upgrade || !connection || !accept) {
    a.why = !accept ? "101 without the right Sec-WebSocket-Accept" : "101 without the upgrade headers";
    return a;
  }
  a.status = UpgradeAnswer::Status::kOpen;
  a.head_size = end + 4;
  return a;
}

std::optional<Mark> find_mark(std::string_view payload, std::string_view prefix) {
  size_t at = 0;
  while ((at = payload.find(prefix, at)) != std::string_view::npos) {
    const size_t start = at + prefix.size();
    at = start;
    if (start - prefix.size() == 0 || payload[start - prefix.size() - 1] != '"') continue;
    const size_t quote = payload.find('"', start);
    if (quote == std::string_view::npos) return std::nullopt;
    const std::string_view body = payload.substr(start, quote - start);
    const size_t space = body.find(' ');
    if (space == 0 || space == std::string_view::npos) continue;
    Mark m;
    m.phase = body.substr(0, space);
    const std::string_view number = body.substr(space + 1);
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), m.sent_s);
    if (ec != std::errc() || ptr != number.data() + number.size() || !std::isfinite(m.sent_s)) continue;
    return m;
  }
  return std::nullopt;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest value with at least p % of the set at or below it.
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

}  // namespace chat::bench

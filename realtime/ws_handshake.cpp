// RFC 6455 §4.2 server handshake over RFC 9112 request syntax; strict parsing, because a lenient
// parser behind a proxy is how request smuggling starts.
#include "realtime/ws_handshake.hpp"

#include "core/crypto.hpp"
#include "core/http.hpp"  // url_decode: one form decoder for the handlers and the upgrade

namespace chat::ws {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // §1.3
constexpr std::string_view kCrlf = "\r\n";

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) {
  return is_digit(c) || is_alpha(c) ||
         (c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos);
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 9110 §5.5: field values are visible characters, spaces, tabs and obs-text; no CR, LF, NUL or
// other controls.
bool is_field_value(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7F) return false;
  }
  return true;
}

// Origin-form request target (RFC 9112 §3.2.1): starts with '/', visible ASCII only.
bool is_origin_form(std::string_view s) {
  if (s.empty() || s.front() != '/') return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return false;
  }
  return true;
}

bool is_http_version(std::string_view s) {
  return s.size() == 8 && s.substr(0, 5) == "HTTP/" && is_digit(s[5]) && s[6] == '.' && is_digit(s[7]);
}

// True when the comma-separated list `value` holds `token` (case-insensitive), e.g. "keep-alive, Upgrade".
bool has_token(const std::string* value, std::string_view token) {
  if (value == nullptr) return false;
  std::string_view rest = *value;
  while (true) {
    const size_t comma = rest.find(',');
    if (iequals(trim_ows(rest.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    rest.remove_prefix(comma + 1);
  }
}

bool is_base64_char(char c) { return is_alpha(c) || is_digit(c) || c == '+' || c == '/'; }

// §4.1: the key is the base64 of 16 bytes, i.e. 22 base64 characters and "==".
bool is_websocket_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22)) {
    if (!is_base64_char(c)) return false;
  }
  return true;
}


ParseResult parse_error(int status, std::string detail) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.http_status = status;
  r.detail = std::move(detail);
  return r;
}

UpgradeCheck refuse(int status, std::string detail, HeaderList headers = {}) {
  UpgradeCheck c;
  c.http_status = status;
  c.detail = std::move(detail);
  c.headers = std::move(headers);
  return c;
}

}  // namespace

std::string accept_key(std::string_view client_key) {
  std::string input;
  input.reserve(client_key.size() + kWebSocketGuid.size());
  input.append(client_key).append(kWebSocketGuid);
  return crypto::base64_encode(crypto::sha1(input));
}

const std::string* Request::header(std::string_view lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? nullptr : &it->second;
}

ParseResult RequestParser::feed(std::string_view bytes) {
  if (done_) {
    if (final_status_ == ParseStatus::kError) return parse_error(final_http_status_, final_detail_);
    return parse_error(400, "Request head already read");
  }
  // Look for the blank line only in the new bytes (and the 3 before them, in case it straddles).
  const size_t from = buffer_.size() >= 3 ? buffer_.size() - 3 : 0;
  buffer_.append(bytes);
  const size_t end = buffer_.find("\r\n\r\n", from);
  ParseResult r;
  if (end == std::string::npos) {
    if (buffer_.size() < kMaxHeadSize) return r;  // need more
    r = parse_error(431, "Request header fields too large");
  } else if (end + 4 > kMaxHeadSize) {
    r = parse_error(431, "Request header fields too large");
  } else {
    r = parse_head(end + 4);
  }
  done_ = true;
  final_status_ = r.status;
  final_http_status_ = r.http_status;
  final_detail_ = r.detail;
  std::string().swap(buffer_);
  return r;
}

// Parses buffer_[0, head_len), which ends with the blank line (RFC 9112 §2.1, §3, §5).
ParseResult RequestParser::parse_head(size_t head_len) {
  std::string_view head(buffer_.data(), head_len - 4);  // without the final CRLF CRLF
  ParseResult r;
  Request& req = r.request;

  // Splits off the next CRLF-terminated line of the head.
  auto next_line = [&head]() {
    const size_t eol = head.find(kCrlf);
    std::string_view line = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    return line;
  };

  // Request line: method SP request-target SP HTTP-version, nothing else.
  std::string_view line = next_line();
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return parse_error(400, "Malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) || !is_origin_form(target) || !is_http_version(version)) {
    return parse_error(400, "Malformed request line");
  }
  req.method.assign(method);
  req.target.assign(target);
  req.version.assign(version);

  while (!head.empty()) {
    line = next_line();
    // A field line: token ":" OWS value OWS. No space before the colon (§5.1), no line folding (§5.2),
    // no bare CR or LF anywhere.
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      return parse_error(400, "Malformed header field");
    }
    std::string_view value = trim_ows(line.substr(colon + 1));
    if (!is_field_value(value)) return parse_error(400, "Malformed header field");
    std::string name(line.substr(0, colon));
    for (char& c : name) c = lower(c);
    auto [it, inserted] = req.headers.try_emplace(std::move(name), value);
    if (!inserted) it->second.append(", ").append(value);
  }

  r.status = ParseStatus::kRequest;
  r.rest.assign(buffer_, head_len);
  return r;
}

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    if (http::url_decode(pair.substr(0, eq), true) != name) continue;
    return eq == std::string_view::npos ? std::string() : http::url_decode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

UpgradeCheck validate_upgrade(const Request& request) {
  if (request.method != "GET") return refuse(405, "Method Not Allowed", {{"Allow", "GET"}});
  if (request.version != "HTTP/1.1") return refuse(400, "WebSocket upgrade requires HTTP/1.1");
  const std::string* host = request.header("host");
  if (host == nullptr || host->empty()) return refuse(400, "Missing Host header");
  // A GET upgrade has no body; bytes after the head are WebSocket frames, never a body.
  const std::string* length = request.header("content-length");
  if (request.header("transfer-encoding") != nullptr || (length != nullptr && *length != "0")) {
    return refuse(400, "A WebSocket upgrade request has no body");
  }
  if (!has_token(request.header("upgrade"), "websocket")) {
    return refuse(400, "Upgrade header must be websocket");
  }
  if (!has_token(request.header("connection"), "upgrade")) {
    return refuse(400, "Connection header must include Upgrade");
  }
  // §4.2.2: an unsupported version gets 426 and the versions we speak.
  const std::string* ws_version = request.header("sec-websocket-version");
  if (ws_version == nullptr || *ws_version != "13") {
    return refuse(426, "Unsupported WebSocket version", {{"Sec-WebSocket-Version", "13"}});
  }
  const std::string* key = request.header("sec-websocket-key");
  if (key == nullptr || !is_websocket_key(*key)) return refuse(400, "Invalid Sec-WebSocket-Key");

  UpgradeCheck ok;
  ok.ok = true;
  ok.accept = accept_key(*key);
  return ok;
}

std::string build_upgrade_response(std::string_view accept) {
  std::string out =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  out.append(accept).append("\r\n\r\n");
  return out;
}

const char* status_text(int status) {
  // clang-format off
  switch (status) {
    case 101: return "Switching Protocols";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
  // clang-format on
}

std::string build_http_error(int status, std::string_view json_body, const HeaderList& extra_headers) {
  std::string out = "HTTP/1.1 ";
  out.append(std::to_string(status)).append(" ").append(status_text(status)).append("\r\n");
  out.append("Content-Type: application/json\r\n");
  out.append("Content-Length: ").append(std::to_string(json_body.size())).append("\r\n");
  out.append("Connection: close\r\n");
  for (const auto& [name, value] : extra_headers) {
    // A header that would break the response framing is dropped rather than sent.
    if (!is_token(name) || !is_field_value(value)) continue;
    out.append(name).append(": ").append(value).append("\r\n");
  }
  out.append("\r\n").append(json_body);
  return out;
}

}  // namespace chat::ws

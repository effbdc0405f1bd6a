// RFC 6455 §4.2 opening handshake, server side: an incremental HTTP/1.1 request parser, the upgrade
// checks, the Sec-WebSocket-Accept key and the response bytes. Pure functions over bytes, no exceptions.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chat::ws {

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) (§1.3, §4.2.2).
std::string accept_key(std::string_view client_key);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;
  std::string target;   // origin-form: path and query, as sent
  std::string version;  // "HTTP/1.1"
  // Names lowercased; a repeated header's values joined with ", " in arrival order (RFC 9110 §5.3).
  std::map<std::string, std::string, std::less<>> headers;

  // The value of a header by lowercase name, or nullptr.
  const std::string* header(std::string_view lowercase_name) const;
};

enum class ParseStatus : unsigned char { kNeedMore, kRequest, kError };

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  Request request;      // kRequest
  std::string rest;     // kRequest: bytes after the blank line (early WebSocket frames): feed them to the Decoder
  int http_status = 0;  // kError: 400, or 431 when the head passes the size limit
  std::string detail;   // kError: a sentence for the {"detail": ...} body
};

// Reads one request head (request line, header fields, blank line; CRLF line ends; no body), fed in
// pieces of any size. After kRequest the parser is spent: later bytes are WebSocket frames for the
// Decoder (feed() would answer kError). After kError it keeps returning that error.
class RequestParser {
 public:
  static constexpr size_t kMaxHeadSize = 8 * 1024;

  ParseResult feed(std::string_view bytes);

 private:
  ParseResult parse_head(size_t head_len);

  std::string buffer_;
  bool done_ = false;
  ParseStatus final_status_ = ParseStatus::kNeedMore;
  int final_http_status_ = 0;
  std::string final_detail_;
};

// The first value of query parameter `name` in `target` ("/ws?token=...&last_event_id=..."),
// percent-decoded with '+' as a space (application/x-www-form-urlencoded, as URLSearchParams sends it);
// a malformed escape stays as it is (WHATWG URL rules). nullopt when absent.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

struct UpgradeCheck {
  bool ok = false;
  std::string accept;   // ok: the Sec-WebSocket-Accept value
  int http_status = 0;  // not ok: 400, 405 or 426
  std::string detail;   // not ok: a sentence for the {"detail": ...} body
  HeaderList headers;   // not ok: headers the error response must carry (Allow, Sec-WebSocket-Version)
};

// §4.2.1 checks of the client's opening handshake: GET (else 405 with Allow: GET), HTTP/1.1, Host,
// Upgrade has token "websocket", Connection has token "upgrade", no body (else 400),
// Sec-WebSocket-Version 13 (else 426 with Sec-WebSocket-Version: 13), Sec-WebSocket-Key the base64 of
// 16 bytes (else 400). Origin and the token are the daemon's business. No extension or subprotocol is
// negotiated, so Sec-WebSocket-Extensions/-Protocol are ignored.
UpgradeCheck validate_upgrade(const Request& request);

// "HTTP/1.1 101 Switching Protocols" with Upgrade, Connection and Sec-WebSocket-Accept (§4.2.2).
std::string build_upgrade_response(std::string_view accept);

// A complete HTTP/1.1 error response: status line, Content-Type: application/json, Content-Length,
// Connection: close, the extra headers, then `json_body` (already JSON, e.g. {"detail":"..."}).
std::string build_http_error(int status, std::string_view json_body, const HeaderList& extra_headers = {});

// Reason phrase of the statuses this file produces ("Unknown" otherwise).
const char* status_text(int status);

}  // namespace chat::ws

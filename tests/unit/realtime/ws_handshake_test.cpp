// Tests realtime/ws_handshake.hpp: the RFC 6455 §1.3 example, the request parser at every split, upgrade checks.
#include "realtime/ws_handshake.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chat::ws {
namespace {

// The client handshake of RFC 6455 §1.3.
const std::string kRfcRequest =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";
const std::string kRfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// Feeds the pieces like the daemon will: once the head is complete, later bytes belong to the WebSocket
// stream (they are appended to `rest` here).
ParseResult parse_pieces(const std::vector<std::string_view>& pieces) {
  RequestParser p;
  ParseResult r;
  for (std::string_view piece : pieces) {
    if (r.status == ParseStatus::kRequest) {
      r.rest.append(piece);
    } else if (r.status == ParseStatus::kNeedMore) {
      r = p.feed(piece);
    }
  }
  return r;
}

ParseResult parse(std::string_view text) { return parse_pieces({text}); }

Request parsed(std::string_view text) {
  ParseResult r = parse(text);
  EXPECT_EQ(r.status, ParseStatus::kRequest) << r.detail;
  return r.request;
}

void expect_same_request(const ParseResult& a, const ParseResult& b, const std::string& how) {
  ASSERT_EQ(a.status, b.status) << how;
  EXPECT_EQ(a.request.method, b.request.method) << how;
  EXPECT_EQ(a.request.target, b.request.target) << how;
  EXPECT_EQ(a.request.version, b.request.version) << how;
  EXPECT_EQ(a.request.headers, b.request.headers) << how;
  EXPECT_EQ(a.rest, b.rest) << how;
  EXPECT_EQ(a.http_status, b.http_status) << how;
}

// Parses `text` whole, split at every offset and byte by byte; every way must agree.
ParseResult parse_everywhere(std::string_view text) {
  const ParseResult whole = parse(text);
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    expect_same_request(parse_pieces({text.substr(0, cut), text.substr(cut)}), whole,
                        "split at " + std::to_string(cut));
  }
  std::vector<std::string_view> single;
  for (size_t i = 0; i < text.size(); ++i) single.push_back(text.substr(i, 1));
  expect_same_request(parse_pieces(single), whole, "byte by byte");
  return whole;
}

// A valid upgrade request with one header replaced (or removed when value is nullptr).
std::string request_with(const std::string& name, const char* value,
                         const std::string& request_line = "GET /ws HTTP/1.1") {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Host", "localhost:8000"},      {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Sec-WebSocket-Version", "13"},
  };
  std::string out = request_line + "\r\n";
  bool replaced = false;
  for (const auto& [n, v] : headers) {
    if (n == name) {
      replaced = true;
      if (value != nullptr) out += n + ": " + value + "\r\n";
    } else {
      out += n + ": " + v + "\r\n";
    }
  }
  if (!replaced && value != nullptr) out += name + ": " + value + "\r\n";
  return out + "\r\n";
}

UpgradeCheck check(const std::string& text) {
  ParseResult r = parse(text);
  EXPECT_EQ(r.status, ParseStatus::kRequest) << r.detail;
  return validate_upgrade(r.request);
}

// ---------------------------------------------------------------------------------------------------

TEST(WsHandshake, AcceptKeyOfTheRfcExample) {
  // §1.3: the server concatenates the key with the GUID, hashes with SHA-1 and base64-encodes.
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), kRfcAccept);
  EXPECT_EQ(accept_key("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");  // a second, widely quoted pair
}

TEST(WsHandshake, RfcRequestParsedAtEverySplit) {
  ParseResult r = parse_everywhere(kRfcRequest);
  ASSERT_EQ(r.status, ParseStatus::kRequest);
  EXPECT_EQ(r.request.method, "GET");
  EXPECT_EQ(r.request.target, "/chat");
  EXPECT_EQ(r.request.version, "HTTP/1.1");
  EXPECT_EQ(r.request.headers.size(), 7u);
  ASSERT_NE(r.request.header("host"), nullptr);
  EXPECT_EQ(*r.request.header("host"), "server.example.com");
  EXPECT_EQ(*r.request.header("sec-websocket-protocol"), "chat, superchat");
  EXPECT_EQ(r.request.header("Host"), nullptr);  // lookups use lowercase names
  EXPECT_TRUE(r.rest.empty());

  UpgradeCheck c = validate_upgrade(r.request);
  ASSERT_TRUE(c.ok) << c.detail;
  EXPECT_EQ(c.accept, kRfcAccept);
}

TEST(WsHandshake, BytesAfterTheHeadAreReturnedForTheDecoder) {
  const std::string frame = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
  ParseResult r = parse_everywhere(kRfcRequest + frame);
  ASSERT_EQ(r.status, ParseStatus::kRequest);
  EXPECT_EQ(r.rest, frame);
}

TEST(WsHandshake, HeaderNamesLowercasedValuesTrimmedRepeatsJoined) {
  Request req = parsed(
      "GET /ws?token=abc HTTP/1.1\r\n"
      "HOST:example.org\r\n"
      "X-Thing: \t one \t\r\n"
      "x-thing: two\r\n"
      "Empty:\r\n"
      "\r\n");
  EXPECT_EQ(req.target, "/ws?token=abc");
  EXPECT_EQ(*req.header("host"), "example.org");
  EXPECT_EQ(*req.header("x-thing"), "one, two");
  EXPECT_EQ(*req.header("empty"), "");
}

TEST(WsHandshake, MalformedRequestsAreRefusedWith400AtEverySplit) {
  static constexpr char kWithNul[] = "GET /ws HTTP/1.1\r\nHost: a\0b\r\n\r\n";
  const std::vector<std::string> bad = {
      "GET /ws\r\nHost: a\r\n\r\n",                      // no version
      "GET  /ws HTTP/1.1\r\nHost: a\r\n\r\n",            // double space
      "GET /ws HTTP/1.1 extra\r\nHost: a\r\n\r\n",       // trailing junk
      "GET ws HTTP/1.1\r\nHost: a\r\n\r\n",              // not origin-form
      "GET http://a/ws HTTP/1.1\r\nHost: a\r\n\r\n",     // absolute-form is not for origin servers here
      "GET /ws HTTX/1.1\r\nHost: a\r\n\r\n",             // version
      "G(T /ws HTTP/1.1\r\nHost: a\r\n\r\n",             // method not a token
      "GET /ws HTTP/1.1\r\nHost : a\r\n\r\n",            // space before colon
      "GET /ws HTTP/1.1\r\nHost a\r\n\r\n",              // no colon
      "GET /ws HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",  // obs-fold
      "GET /ws HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",       // bare LF
      "GET /ws HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",       // bare CR
      std::string(kWithNul, sizeof kWithNul - 1),        // NUL in a value
      "\r\nGET /ws HTTP/1.1\r\n\r\n",                    // empty line first
  };
  for (const std::string& text : bad) {
    SCOPED_TRACE(testing::PrintToString(text));
    ParseResult r = parse_everywhere(text);
    EXPECT_EQ(r.status, ParseStatus::kError);
    EXPECT_EQ(r.http_status, 400);
    EXPECT_FALSE(r.detail.empty());
  }
}

TEST(WsHandshake, HeadLimitIs8KiB) {
  // A head of exactly 8192 bytes is accepted; one byte more is refused with 431.
  const std::string start = "GET /ws HTTP/1.1\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  const std::string at_limit = start + std::string(RequestParser::kMaxHeadSize - start.size() - end.size(), 'p') + end;
  ASSERT_EQ(at_limit.size(), 8192u);
  EXPECT_EQ(parse(at_limit).status, ParseStatus::kRequest);
  const std::string over = start + std::string(RequestParser::kMaxHeadSize - start.size() - end.size() + 1, 'p') + end;
  ParseResult r = parse_everywhere(over);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.http_status, 431);
}

TEST(WsHandshake, EndlessHeadIsRefusedWithoutWaitingForTheEnd) {
  RequestParser p;
  ParseResult r;
  size_t fed = 0;
  while (r.status == ParseStatus::kNeedMore && fed < 100000) {
    r = p.feed(std::string(1000, 'a'));
    fed += 1000;
  }
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.http_status, 431);
  EXPECT_LE(fed, RequestParser::kMaxHeadSize + 1000);
  // Finished parsers keep their answer.
  EXPECT_EQ(p.feed("\r\n\r\n").http_status, 431);
}

TEST(WsHandshake, QueryParamDecodesPercentAndPlus) {
  const std::string target = "/ws?token=eyJ.a-b_c&last_event_id=1700000000000-0&x=a%20b+c%2Bd&empty=&flag&bad=%zz%4";
  EXPECT_EQ(query_param(target, "token"), "eyJ.a-b_c");
  EXPECT_EQ(query_param(target, "last_event_id"), "1700000000000-0");
  EXPECT_EQ(query_param(target, "x"), "a b c+d");
  EXPECT_EQ(query_param(target, "empty"), "");
  EXPECT_EQ(query_param(target, "flag"), "");
  EXPECT_EQ(query_param(target, "bad"), "%zz%4");
  EXPECT_EQ(query_param(target, "missing"), std::nullopt);
  EXPECT_EQ(query_param("/ws", "token"), std::nullopt);
  EXPECT_EQ(query_param("/ws?a=1&a=2", "a"), "1");
  EXPECT_EQ(query_param("/ws?t%6Fken=k", "token"), "k");
  EXPECT_EQ(query_param("/ws?&&token=k&", "token"), "k");
  EXPECT_EQ(query_param("/ws?token=k#frag", "token"), "k");
  EXPECT_EQ(query_param("/ws?u=%C3%A9%00", "u"), std::string("\xc3\xa9\0", 3));
}

TEST(WsHandshake, ValidUpgradeVariants) {
  EXPECT_TRUE(check(request_with("Upgrade", "WebSocket")).ok);
  EXPECT_TRUE(check(request_with("Upgrade", "h2c, websocket")).ok);
  EXPECT_TRUE(check(request_with("Connection", "keep-alive, Upgrade")).ok);
  EXPECT_TRUE(check(request_with("Connection", "UPGRADE")).ok);
  EXPECT_TRUE(check(request_with("Content-Length", "0")).ok);
  EXPECT_TRUE(check(request_with("Origin", "http://localhost:3000")).ok);  // Origin is the daemon's call
}

TEST(WsHandshake, MethodMustBeGet) {
  UpgradeCheck c = check(request_with("", nullptr, "POST /ws HTTP/1.1"));
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.http_status, 405);
  EXPECT_EQ(c.headers, (HeaderList{{"Allow", "GET"}}));
  EXPECT_EQ(check(request_with("", nullptr, "get /ws HTTP/1.1")).http_status, 405);  // methods are case-sensitive
}

TEST(WsHandshake, HttpVersionMustBe11) {
  EXPECT_EQ(check(request_with("", nullptr, "GET /ws HTTP/1.0")).http_status, 400);
  EXPECT_EQ(check(request_with("", nullptr, "GET /ws HTTP/2.0")).http_status, 400);
}

TEST(WsHandshake, RefusedWith400) {
  struct Case {
    const char* name;
    const char* value;
  };
  const std::vector<Case> cases = {
      {"Host", nullptr},
      {"Host", ""},
      {"Upgrade", nullptr},
      {"Upgrade", "websockets"},
      {"Upgrade", "h2c"},
      {"Connection", nullptr},
      {"Connection", "keep-alive"},
      {"Connection", "upgraded"},
      {"Sec-WebSocket-Key", nullptr},
      {"Sec-WebSocket-Key", ""},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ"},  // no padding
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=a"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j*Q=="},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZSE="},  // 17 bytes
      {"Sec-WebSocket-Key", "c2hvcnQ="},                  // 5 bytes
      {"Content-Length", "5"},
      {"Transfer-Encoding", "chunked"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.name) + ": " + (c.value ? c.value : "(absent)"));
    UpgradeCheck got = check(request_with(c.name, c.value));
    EXPECT_FALSE(got.ok);
    EXPECT_EQ(got.http_status, 400);
    EXPECT_FALSE(got.detail.empty());
  }
  // Two keys are joined into one value, which is not a key.
  std::string two_keys = request_with("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  two_keys.insert(two_keys.size() - 2, "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n");
  EXPECT_EQ(check(two_keys).http_status, 400);
}

TEST(WsHandshake, VersionOtherThan13Gets426) {
  for (const char* v : {static_cast<const char*>(nullptr), "8", "12", "14", "13, 8", ""}) {
    SCOPED_TRACE(v ? v : "(absent)");
    UpgradeCheck c = check(request_with("Sec-WebSocket-Version", v));
    EXPECT_FALSE(c.ok);
    EXPECT_EQ(c.http_status, 426);
    EXPECT_EQ(c.headers, (HeaderList{{"Sec-WebSocket-Version", "13"}}));
  }
}

TEST(WsHandshake, UpgradeResponse) {
  EXPECT_EQ(build_upgrade_response(kRfcAccept),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "\r\n");
}

TEST(WsHandshake, HttpErrorResponse) {
  const std::string body = R"({"detail":"Could not validate credentials"})";
  EXPECT_EQ(build_http_error(401, body),
            "HTTP/1.1 401 Unauthorized\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 43\r\n"
            "Connection: close\r\n"
            "\r\n" +
                body);
  const std::string r = build_http_error(426, R"({"detail":"Unsupported WebSocket version"})",
                                         {{"Sec-WebSocket-Version", "13"}, {"Bad", "x\r\nInjected: 1"}});
  EXPECT_EQ(r.rfind("HTTP/1.1 426 Upgrade Required\r\n", 0), 0u);
  EXPECT_NE(r.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos);
  EXPECT_EQ(r.find("Injected"), std::string::npos);
  EXPECT_EQ(status_text(431), std::string("Request Header Fields Too Large"));
  EXPECT_EQ(status_text(403), std::string("Forbidden"));
}

}  // namespace
}  // namespace chat::ws

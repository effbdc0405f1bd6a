// libFuzzer target for the WebSocket decoder and the handshake parser: invariants plus a whole-vs-chunked oracle.
//
// The input is the byte stream itself; the chunk sizes it is fed in are derived from its own bytes, so
// the fuzzer explores split points and frame contents together. Built with -DWS_FUZZ_WRITE_SEEDS this
// file is instead a small program that writes the seed corpus (the RFC 6455 vectors) and a dictionary.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "realtime/ws_codec.hpp"
#include "realtime/ws_handshake.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace chat::ws;

struct Event {
  DecodeStatus status;
  Opcode opcode;
  std::string payload;
  uint16_t code;
  std::string reason;
  bool operator==(const Event&) const = default;
};

// Checks one event against the decoder's contract.
void check_event(const DecodeResult& r, size_t max) {
  switch (r.status) {
    case DecodeStatus::kNeedMore:
      break;
    case DecodeStatus::kMessage:
      FUZZ_CHECK(r.opcode == Opcode::kText || r.opcode == Opcode::kBinary);
      FUZZ_CHECK(r.payload.size() <= max);
      FUZZ_CHECK(r.opcode != Opcode::kText || is_valid_utf8(r.payload));
      FUZZ_CHECK(r.code == 0 && r.reason.empty());
      break;
    case DecodeStatus::kControl:
      FUZZ_CHECK(r.opcode == Opcode::kPing || r.opcode == Opcode::kPong || r.opcode == Opcode::kClose);
      FUZZ_CHECK(r.payload.size() <= kMaxControlPayload);
      if (r.opcode == Opcode::kClose) {
        if (r.payload.empty()) {
          FUZZ_CHECK(r.code == kCloseNoStatus && r.reason.empty());
        } else {
          FUZZ_CHECK(r.payload.size() >= 2 && is_valid_close_code(r.code));
          FUZZ_CHECK(r.reason == std::string_view(r.payload).substr(2) && is_valid_utf8(r.reason));
        }
      }
      break;
    case DecodeStatus::kError:
      FUZZ_CHECK(r.code == kCloseProtocolError || r.code == kCloseInvalidPayload || r.code == kCloseMessageTooBig);
      FUZZ_CHECK(!r.reason.empty() && r.reason.size() <= kMaxCloseReason);
      FUZZ_CHECK(r.payload.empty());
      break;
  }
}

// Feeds the pieces and drains next() after each, checking the contract along the way.
std::vector<Event> run_decoder(const std::vector<std::string_view>& pieces, size_t max) {
  Decoder d(max);
  std::vector<Event> events;
  for (std::string_view piece : pieces) {
    d.feed(piece);
    for (;;) {
      DecodeResult r = d.next();
      check_event(r, max);
      if (r.need_more()) break;
      const bool error = r.is_error();
      events.push_back({r.status, r.opcode, std::move(r.payload), r.code, std::move(r.reason)});
      if (error) {
        // Sticky: the same error again, never a message after it.
        FUZZ_CHECK(d.failed());
        DecodeResult again = d.next();
        FUZZ_CHECK(again.is_error() && again.code == events.back().code && again.reason == events.back().reason);
        return events;
      }
      if (events.back().opcode == Opcode::kClose) {
        FUZZ_CHECK(d.closed());
        d.feed(piece);  // ignored after a close
        FUZZ_CHECK(d.next().need_more() && d.buffered() == 0);
        return events;
      }
    }
  }
  return events;
}

// Splits the input into chunks whose sizes come from its own bytes (1..64, sometimes a big piece).
std::vector<std::string_view> chunks_of(std::string_view input) {
  std::vector<std::string_view> pieces;
  const uint8_t salt = input.empty() ? 0 : static_cast<uint8_t>(input.back());
  size_t i = 0;
  while (i < input.size()) {
    const uint8_t b = static_cast<uint8_t>(input[i]) ^ salt;
    const size_t n = (b & 0xC0) == 0xC0 ? 4096 : 1 + (b & 0x3F);
    pieces.push_back(input.substr(i, n));
    i += pieces.back().size();
  }
  return pieces;
}

void fuzz_decoder(std::string_view input) {
  // The limit varies with the input length so that the 1009 paths are reached by small inputs too.
  static constexpr size_t kLimits[] = {Decoder::kDefaultMaxMessageSize, 0, 125, 1000};
  const size_t max = kLimits[input.size() % 4];

  const std::vector<Event> whole = run_decoder({input}, max);
  const std::vector<Event> chunked = run_decoder(chunks_of(input), max);
  // The split must never change what comes out (errors included; only their timing may differ, not kind).
  FUZZ_CHECK(whole == chunked);

  // Every message re-encoded as a client frame decodes to itself.
  for (const Event& e : whole) {
    if (e.status != DecodeStatus::kMessage) continue;
    Decoder d(max);
    d.feed(encode_masked_frame(e.opcode, e.payload, {0xa1, 0x02, 0xc3, 0x54}));
    DecodeResult r = d.next();
    FUZZ_CHECK(r.is_message() && r.opcode == e.opcode && r.payload == e.payload);
  }

  // Encoders: a close frame stays within 127 bytes and keeps a valid reason valid.
  const std::string_view reason = input.substr(0, 300);
  const std::string close = encode_close(kCloseNormal, reason);
  FUZZ_CHECK(close.size() <= 2 + kMaxControlPayload);
  if (is_valid_utf8(reason)) FUZZ_CHECK(is_valid_utf8(std::string_view(close).substr(4)));
}

void fuzz_handshake(std::string_view input) {
  auto parse = [](const std::vector<std::string_view>& pieces) {
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
  };
  const ParseResult whole = parse({input});
  const ParseResult chunked = parse(chunks_of(input));
  FUZZ_CHECK(whole.status == chunked.status && whole.http_status == chunked.http_status);
  FUZZ_CHECK(whole.request.headers == chunked.request.headers && whole.rest == chunked.rest);
  if (whole.status == ParseStatus::kError) {
    FUZZ_CHECK(whole.http_status == 400 || whole.http_status == 431);
    FUZZ_CHECK(!build_http_error(whole.http_status, "{}").empty());
    return;
  }
  if (whole.status != ParseStatus::kRequest) {
    FUZZ_CHECK(input.size() < RequestParser::kMaxHeadSize);
    return;
  }
  const Request& req = whole.request;
  FUZZ_CHECK(!req.method.empty() && !req.target.empty() && req.target[0] == '/');
  FUZZ_CHECK(input.size() >= whole.rest.size() && input.substr(input.size() - whole.rest.size()) == whole.rest);
  for (const auto& [name, value] : req.headers) {
    for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    FUZZ_CHECK(value.find('\r') == std::string::npos && value.find('\n') == std::string::npos);
  }
  (void)query_param(req.target, "token");
  (void)query_param(req.target, "last_event_id");
  const UpgradeCheck check = validate_upgrade(req);
  if (check.ok) {
    FUZZ_CHECK(check.accept.size() == 28);
    FUZZ_CHECK(build_upgrade_response(check.accept).find("\r\n\r\n") != std::string::npos);
  } else {
    FUZZ_CHECK(check.http_status == 400 || check.http_status == 405 || check.http_status == 426);
    const std::string response = build_http_error(check.http_status, "{}", check.headers);
    FUZZ_CHECK(response.find("\r\n\r\n") + 4 + 2 == response.size());
  }
}

}  // namespace

#ifndef WS_FUZZ_WRITE_SEEDS

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz_decoder(input);
  fuzz_handshake(input);
  return 0;
}

#else  // the seed writer

namespace {

void write_file(const std::string& path, std::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 + 3);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SEED_DIR DICT_FILE\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::array<uint8_t, 4> rfc = {0x37, 0xfa, 0x21, 0x3d};  // RFC 6455 §5.7's masking key
  const std::string hel = encode_masked_frame(Opcode::kText, "Hel", rfc, false);
  const std::string lo = encode_masked_frame(Opcode::kContinuation, "lo", rfc, true);
  const std::string request =
      "GET /ws?token=abc&last_event_id=0 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n"
      "Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const std::vector<std::pair<const char*, std::string> > seeds = {
      // §5.7, as sent by a client (masked) and as written there (unmasked, which a server refuses).
      {"rfc-text-unmasked", encode_text("Hello")},
      {"rfc-text-masked", encode_masked_frame(Opcode::kText, "Hello", rfc)},
      {"rfc-fragmented-unmasked",
       encode_frame(Opcode::kText, "Hel", false) + encode_frame(Opcode::kContinuation, "lo")},
      {"rfc-fragmented-masked", hel + lo},
      {"rfc-ping-unmasked", encode_ping("Hello")},
      {"rfc-ping-masked", encode_masked_frame(Opcode::kPing, "Hello", rfc)},
      {"rfc-pong-masked", encode_masked_frame(Opcode::kPong, "Hello", rfc)},
      {"rfc-binary-256", encode_masked_frame(Opcode::kBinary, pattern(256), rfc)},
      {"rfc-binary-64k", encode_masked_frame(Opcode::kBinary, pattern(65536), rfc)},
      // Interleaving, closes, UTF-8.
      {"ping-between-fragments", hel + encode_masked_frame(Opcode::kPing, "p", rfc) + lo},
      {"close-1000", encode_masked_frame(Opcode::kClose,
                                         std::string("\x03\xe8"
                                                     "bye"),
                                         rfc)},
      {"close-empty", encode_masked_frame(Opcode::kClose, "", rfc)},
      {"close-bad-code", encode_masked_frame(Opcode::kClose, std::string("\x03\xed"), rfc)},
      {"text-utf8", encode_masked_frame(Opcode::kText, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", rfc)},
      {"text-bad-utf8", encode_masked_frame(Opcode::kText, "\xce\xba\xed\xa0\x80", rfc)},
      {"handshake-rfc", request},
      {"handshake-then-frame", request + encode_masked_frame(Opcode::kText, "Hello", rfc)},
  };
  for (const auto& [name, bytes] : seeds) {
    fuzz_decoder(bytes);  // the seeds must pass the checks themselves
    fuzz_handshake(bytes);
    write_file(dir + "/" + name, bytes);
  }

  // libFuzzer dictionary: header bytes and handshake tokens.
  write_file(
      argv[2],
      "frame_text_masked=\"\\x81\\x85\"\nframe_bin_16=\"\\x82\\xfe\"\nframe_bin_64=\"\\x82\\xff\"\n"
      "frame_close=\"\\x88\\x82\"\nframe_ping=\"\\x89\\x80\"\nframe_cont=\"\\x80\\x80\"\n"
      "frame_frag=\"\\x01\\x80\"\nutf8_surrogate=\"\\xed\\xa0\\x80\"\nutf8_max=\"\\xf4\\x8f\\xbf\\xbf\"\n"
      "crlf=\"\\x0d\\x0a\"\nend=\"\\x0d\\x0a\\x0d\\x0a\"\nget=\"GET / HTTP/1.1\"\nupgrade=\"Upgrade: websocket\"\n"
      "connection=\"Connection: Upgrade\"\nkey=\"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\"\n"
      "version=\"Sec-WebSocket-Version: 13\"\nhost=\"Host: a\"\nquery=\"?token=\"\npct=\"%2B\"\n");
  return 0;
}

#endif

// Tests realtime/ws_codec.hpp with RFC 6455 byte vectors: every vector is also fed split at every offset.
#include "realtime/ws_codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace chat::ws {
namespace {

// One event out of the decoder, comparable and printable.
struct Event {
  DecodeStatus status = DecodeStatus::kNeedMore;
  Opcode opcode = Opcode::kContinuation;
  std::string payload;
  uint16_t code = 0;
  std::string reason;
  bool operator==(const Event&) const = default;
};

void PrintTo(const Event& e, std::ostream* os) {
  static const char* kNames[] = {"need-more", "message", "control", "error"};
  *os << "{" << kNames[static_cast<int>(e.status)] << " op=" << static_cast<int>(e.opcode) << " payload["
      << e.payload.size() << "]=\"" << e.payload.substr(0, 40) << (e.payload.size() > 40 ? "..." : "")
      << "\" code=" << e.code << " reason=\"" << e.reason << "\"}";
}

Event message(Opcode op, std::string payload) { return {DecodeStatus::kMessage, op, std::move(payload), 0, ""}; }
Event control(Opcode op, std::string payload) { return {DecodeStatus::kControl, op, std::move(payload), 0, ""}; }
Event close_event(uint16_t code, std::string reason) {
  std::string payload;
  if (code != kCloseNoStatus) {
    payload = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    payload += reason;
  }
  return {DecodeStatus::kControl, Opcode::kClose, payload, code, std::move(reason)};
}

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

const std::array<uint8_t, 4> kRfcMask = {0x37, 0xfa, 0x21, 0x3d};  // the §5.7 examples' masking key
const std::array<uint8_t, 4> kMask2 = {0x01, 0x80, 0xfe, 0x7f};

std::string masked(Opcode op, std::string_view payload, bool fin = true) {
  return encode_masked_frame(op, payload, kMask2, fin);
}

// Feeds `input` in the given pieces, draining next() after each; stops at the first error.
std::vector<Event> decode_pieces(const std::vector<std::string_view>& pieces,
                                 size_t max = Decoder::kDefaultMaxMessageSize) {
  Decoder d(max);
  std::vector<Event> events;
  for (std::string_view piece : pieces) {
    d.feed(piece);
    for (;;) {
      DecodeResult r = d.next();
      if (r.need_more()) break;
      events.push_back({r.status, r.opcode, std::move(r.payload), r.code, std::move(r.reason)});
      if (r.is_error()) return events;
    }
  }
  return events;
}

std::vector<Event> decode(std::string_view input, size_t max = Decoder::kDefaultMaxMessageSize) {
  return decode_pieces({input}, max);
}

// Decodes `input` whole, then split at every offset into two pieces, then byte by byte, and checks
// that every way gives `expected`.
void expect_decodes_everywhere(std::string_view input, const std::vector<Event>& expected,
                               size_t max = Decoder::kDefaultMaxMessageSize) {
  ASSERT_EQ(decode(input, max), expected) << "whole input";
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    ASSERT_EQ(decode_pieces({input.substr(0, cut), input.substr(cut)}, max), expected) << "split at " << cut;
  }
  std::vector<std::string_view> single;
  for (size_t i = 0; i < input.size(); ++i) single.push_back(input.substr(i, 1));
  ASSERT_EQ(decode_pieces(single, max), expected) << "byte by byte";
}

Event error(uint16_t code) { return {DecodeStatus::kError, Opcode::kContinuation, "", code, ""}; }

// Like expect_decodes_everywhere for input that must end in an error: the events before it must match and
// the error must carry `code` (its reason is prose, only checked to be there).
void expect_refused(std::string_view input, std::vector<Event> expected_before, uint16_t code,
                    size_t max = Decoder::kDefaultMaxMessageSize) {
  auto check = [&](std::vector<Event> got, const std::string& how) {
    ASSERT_FALSE(got.empty()) << how;
    ASSERT_EQ(got.back().status, DecodeStatus::kError) << how;
    EXPECT_FALSE(got.back().reason.empty()) << how;
    got.back().reason.clear();
    expected_before.push_back(error(code));
    EXPECT_EQ(got, expected_before) << how;
    expected_before.pop_back();
  };
  check(decode(input, max), "whole input");
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    check(decode_pieces({input.substr(0, cut), input.substr(cut)}, max), "split at " + std::to_string(cut));
  }
  std::vector<std::string_view> single;
  for (size_t i = 0; i < input.size(); ++i) single.push_back(input.substr(i, 1));
  check(decode_pieces(single, max), "byte by byte");
}

void expect_refused(std::string_view input, uint16_t code, size_t max = Decoder::kDefaultMaxMessageSize) {
  expect_refused(input, std::vector<Event>{}, code, max);
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + 3) & 0xFF);
  return s;
}

// ---------------------------------------------------------------------------------------------------
// RFC 6455 §5.7 examples

const std::string kUnmaskedHello = bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
const std::string kMaskedHello = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
const std::string kUnmaskedHel = bytes({0x01, 0x03, 0x48, 0x65, 0x6c});
const std::string kUnmaskedLo = bytes({0x80, 0x02, 0x6c, 0x6f});
const std::string kUnmaskedPing = bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
const std::string kMaskedPong = bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});

TEST(WsCodecRfc, SingleFrameUnmaskedTextIsRefusedByTheServer) {
  expect_refused(kUnmaskedHello, kCloseProtocolError);
  EXPECT_EQ(encode_text("Hello"), kUnmaskedHello);
}

TEST(WsCodecRfc, SingleFrameMaskedText) {
  expect_decodes_everywhere(kMaskedHello, {message(Opcode::kText, "Hello")});
  EXPECT_EQ(encode_masked_frame(Opcode::kText, "Hello", kRfcMask), kMaskedHello);
}

TEST(WsCodecRfc, FragmentedUnmaskedTextIsRefused) {
  expect_refused(kUnmaskedHel + kUnmaskedLo, kCloseProtocolError);
  EXPECT_EQ(encode_frame(Opcode::kText, "Hel", false), kUnmaskedHel);
  EXPECT_EQ(encode_frame(Opcode::kContinuation, "lo", true), kUnmaskedLo);
}

TEST(WsCodecRfc, FragmentedMaskedText) {
  const std::string input = encode_masked_frame(Opcode::kText, "Hel", kRfcMask, false) +
                            encode_masked_frame(Opcode::kContinuation, "lo", kRfcMask, true);
  EXPECT_EQ(static_cast<uint8_t>(input[0]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(input[9]), 0x80);
  expect_decodes_everywhere(input, {message(Opcode::kText, "Hello")});
}

TEST(WsCodecRfc, UnmaskedPingIsRefusedAndMaskedPongIsDecoded) {
  expect_refused(kUnmaskedPing, kCloseProtocolError);
  EXPECT_EQ(encode_ping("Hello"), kUnmaskedPing);
  expect_decodes_everywhere(kMaskedPong, {control(Opcode::kPong, "Hello")});
  expect_decodes_everywhere(encode_masked_frame(Opcode::kPing, "Hello", kRfcMask), {control(Opcode::kPing, "Hello")});
  // The pong that answers the ping carries its application data (§5.5.3).
  EXPECT_EQ(encode_pong("Hello"), bytes({0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
}

TEST(WsCodecRfc, Binary256BytesWith16BitLength) {
  const std::string data = pattern(256);
  const std::string unmasked = encode_binary(data);
  EXPECT_EQ(unmasked.substr(0, 4), bytes({0x82, 0x7E, 0x01, 0x00}));
  EXPECT_EQ(unmasked.size(), 4u + 256u);
  expect_refused(unmasked, kCloseProtocolError);
  const std::string input = encode_masked_frame(Opcode::kBinary, data, kRfcMask);
  EXPECT_EQ(input.substr(0, 4), bytes({0x82, 0xFE, 0x01, 0x00}));
  expect_decodes_everywhere(input, {message(Opcode::kBinary, data)});
}

TEST(WsCodecRfc, Binary64KiBWith64BitLength) {
  const std::string data = pattern(65536);
  const std::string unmasked = encode_binary(data);
  EXPECT_EQ(unmasked.substr(0, 10), bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(unmasked.size(), 10u + 65536u);
  expect_refused(unmasked, kCloseProtocolError);
  const std::string input = encode_masked_frame(Opcode::kBinary, data, kRfcMask);
  EXPECT_EQ(input.substr(0, 10), bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0}));
  expect_decodes_everywhere(input, {message(Opcode::kBinary, data)});
}

// ---------------------------------------------------------------------------------------------------
// Well-formed traffic

TEST(WsDecoder, SeveralMessagesInOneRead) {
  const std::string input = masked(Opcode::kText, "one") + masked(Opcode::kBinary, bytes({0, 0xff})) +
                            masked(Opcode::kText, "") + masked(Opcode::kPing, "") + masked(Opcode::kText, "κόσμε");
  expect_decodes_everywhere(
      input, {message(Opcode::kText, "one"), message(Opcode::kBinary, bytes({0, 0xff})), message(Opcode::kText, ""),
              control(Opcode::kPing, ""), message(Opcode::kText, "κόσμε")});
}

TEST(WsDecoder, ControlFramesBetweenFragmentsComeOutAtOnce) {
  const std::string input = masked(Opcode::kText, "Hel", false) + masked(Opcode::kPing, "p1") +
                            masked(Opcode::kContinuation, "", false) + masked(Opcode::kPong, "p2") +
                            masked(Opcode::kContinuation, "lo", true);
  expect_decodes_everywhere(
      input, {control(Opcode::kPing, "p1"), control(Opcode::kPong, "p2"), message(Opcode::kText, "Hello")});
}

TEST(WsDecoder, CloseBetweenFragmentsEndsTheStream) {
  const std::string input = masked(Opcode::kBinary, "ab", false) + masked(Opcode::kClose, bytes({0x03, 0xe8}) + "bye") +
                            masked(Opcode::kContinuation, "cd");
  expect_decodes_everywhere(input, {close_event(1000, "bye")});
}

TEST(WsDecoder, FragmentedUtf8SplitInsideACharacter) {
  // "€" is E2 82 AC; the fragments cut it after its first and second byte.
  const std::string input = masked(Opcode::kText, "a\xe2", false) + masked(Opcode::kContinuation, "\x82", false) +
                            masked(Opcode::kContinuation,
                                   "\xac"
                                   "b",
                                   true);
  expect_decodes_everywhere(input, {message(Opcode::kText,
                                            "a\xe2\x82\xac"
                                            "b")});
}

TEST(WsDecoder, BinaryIsNotUtf8Checked) {
  expect_decodes_everywhere(masked(Opcode::kBinary, "\xff\xfe\xc0"), {message(Opcode::kBinary, "\xff\xfe\xc0")});
}

TEST(WsDecoder, EmptyCloseAndCloseWithReason) {
  expect_decodes_everywhere(masked(Opcode::kClose, ""), {close_event(kCloseNoStatus, "")});
  expect_decodes_everywhere(masked(Opcode::kClose, bytes({0x0f, 0xa0}) + "π done"), {close_event(4000, "π done")});
  const std::string reason(123, 'r');
  expect_decodes_everywhere(masked(Opcode::kClose, bytes({0x03, 0xe9}) + reason), {close_event(1001, reason)});
}

TEST(WsDecoder, ValidCloseCodes) {
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}) {
    SCOPED_TRACE(code);
    EXPECT_TRUE(is_valid_close_code(static_cast<uint16_t>(code)));
    expect_decodes_everywhere(masked(Opcode::kClose, bytes({code >> 8, code & 0xff})),
                              {close_event(static_cast<uint16_t>(code), "")});
  }
}

TEST(WsDecoder, NothingIsReadAfterAClose) {
  Decoder d;
  d.feed(masked(Opcode::kClose, bytes({0x03, 0xe8})) + masked(Opcode::kText, "late") + "\xff\xff");
  DecodeResult r = d.next();
  ASSERT_TRUE(r.is_control());
  EXPECT_EQ(r.code, 1000);
  EXPECT_TRUE(d.closed());
  EXPECT_TRUE(d.next().need_more());
  d.feed(masked(Opcode::kPing, ""));
  EXPECT_TRUE(d.next().need_more());
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(WsDecoder, MessageExactlyAtTheLimitIsAccepted) {
  const std::string data = pattern(1000);
  expect_decodes_everywhere(masked(Opcode::kBinary, data), {message(Opcode::kBinary, data)}, 1000);
  const std::string fragmented =
      masked(Opcode::kBinary, data.substr(0, 600), false) + masked(Opcode::kContinuation, data.substr(600), true);
  expect_decodes_everywhere(fragmented, {message(Opcode::kBinary, data)}, 1000);
}

TEST(WsDecoder, DefaultLimitIsOneMiB) {
  const std::string data(Decoder::kDefaultMaxMessageSize, 'x');
  EXPECT_EQ(decode(masked(Opcode::kText, data)), std::vector<Event>{message(Opcode::kText, data)});
  auto got = decode(masked(Opcode::kText, data + "x"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].code, kCloseMessageTooBig);
}

TEST(WsDecoder, LargeMessageInManyReads) {
  const std::string data = pattern(300000);
  const std::string input =
      masked(Opcode::kBinary, data.substr(0, 100000), false) + masked(Opcode::kContinuation, data.substr(100000), true);
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < input.size(); i += 4093) pieces.push_back(std::string_view(input).substr(i, 4093));
  EXPECT_EQ(decode_pieces(pieces), std::vector<Event>{message(Opcode::kBinary, data)});
}

// ---------------------------------------------------------------------------------------------------
// Refusals (§5.2, §5.4, §5.5, §7.4, §8.1, §10.4)

TEST(WsDecoderRefuses, ReservedBits) {
  for (int rsv : {0x40, 0x20, 0x10, 0x70}) {
    SCOPED_TRACE(rsv);
    std::string frame = masked(Opcode::kText, "Hello");
    frame[0] = static_cast<char>(static_cast<uint8_t>(frame[0]) | rsv);
    expect_refused(frame, kCloseProtocolError);
    std::string ping = masked(Opcode::kPing, "");
    ping[0] = static_cast<char>(static_cast<uint8_t>(ping[0]) | rsv);
    expect_refused(masked(Opcode::kText, "ok") + ping, {message(Opcode::kText, "ok")}, kCloseProtocolError);
  }
}

TEST(WsDecoderRefuses, ReservedOpcodes) {
  for (int op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    SCOPED_TRACE(op);
    expect_refused(masked(static_cast<Opcode>(op), ""), kCloseProtocolError);
    expect_refused(masked(static_cast<Opcode>(op), "payload"), kCloseProtocolError);
  }
}

TEST(WsDecoderRefuses, UnmaskedFrames) {
  expect_refused(encode_frame(Opcode::kBinary, "x"), kCloseProtocolError);
  expect_refused(encode_frame(Opcode::kClose, ""), kCloseProtocolError);
  expect_refused(masked(Opcode::kText, "a", false) + encode_frame(Opcode::kContinuation, "b"), kCloseProtocolError);
}

TEST(WsDecoderRefuses, FragmentedControlFrames) {
  expect_refused(masked(Opcode::kPing, "Hel", false) + masked(Opcode::kContinuation, "lo"), kCloseProtocolError);
  expect_refused(masked(Opcode::kPong, "", false), kCloseProtocolError);
  expect_refused(masked(Opcode::kClose, bytes({0x03, 0xe8}), false), kCloseProtocolError);
}

TEST(WsDecoderRefuses, OversizeControlFrames) {
  expect_decodes_everywhere(masked(Opcode::kPing, std::string(125, 'p')),
                            {control(Opcode::kPing, std::string(125, 'p'))});
  expect_refused(masked(Opcode::kPing, std::string(126, 'p')), kCloseProtocolError);
  expect_refused(masked(Opcode::kPong, std::string(70000, 'p')), kCloseProtocolError);
  expect_refused(masked(Opcode::kClose, bytes({0x03, 0xe8}) + std::string(124, 'r')), kCloseProtocolError);
}

TEST(WsDecoderRefuses, NonMinimalAndInvalidLengths) {
  const std::string mask = bytes({1, 2, 3, 4});
  // 16-bit length field holding a value that fits 7 bits.
  expect_refused(bytes({0x82, 0xFE, 0x00, 0x7D}) + mask + std::string(125, 'x'), kCloseProtocolError);
  expect_refused(bytes({0x82, 0xFE, 0x00, 0x00}) + mask, kCloseProtocolError);
  // 64-bit length field holding a value that fits 16 bits.
  expect_refused(bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}) + mask, kCloseProtocolError);
  expect_refused(bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x00, 0x7E}) + mask, kCloseProtocolError);
  // 64-bit length with the most significant bit set.
  expect_refused(bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}) + mask, kCloseProtocolError);
  expect_refused(bytes({0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}) + mask, kCloseProtocolError);
  // The minimal boundaries themselves are fine.
  expect_decodes_everywhere(masked(Opcode::kBinary, std::string(126, 'y')),
                            {message(Opcode::kBinary, std::string(126, 'y'))});
}

TEST(WsDecoderRefuses, ContinuationWithoutAMessage) {
  expect_refused(masked(Opcode::kContinuation, "lo"), kCloseProtocolError);
  expect_refused(masked(Opcode::kText, "done") + masked(Opcode::kContinuation, "more"),
                 {message(Opcode::kText, "done")}, kCloseProtocolError);
}

TEST(WsDecoderRefuses, NewMessageInsideAFragmentedOne) {
  expect_refused(masked(Opcode::kText, "Hel", false) + masked(Opcode::kText, "lo"), kCloseProtocolError);
  expect_refused(masked(Opcode::kBinary, "a", false) + masked(Opcode::kPing, "") + masked(Opcode::kBinary, "b"),
                 {control(Opcode::kPing, "")}, kCloseProtocolError);
}

TEST(WsDecoderRefuses, InvalidUtf8InOneFrame) {
  for (const char* bad :
       {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "a\x80",
        "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"}) {
    SCOPED_TRACE(bad);
    expect_refused(masked(Opcode::kText, bad), kCloseInvalidPayload);
  }
}

TEST(WsDecoderRefuses, InvalidUtf8AcrossFragmentsFailsFast) {
  // Autobahn 6.4.1: a valid first fragment, then one that makes the text invalid; the third never comes.
  const std::string part1 = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";  // κόσμε
  const std::string part2 = "\xf4\x90\x80\x80";                              // above U+10FFFF
  const std::string input = masked(Opcode::kText, part1, false) + masked(Opcode::kContinuation, part2, false);
  expect_refused(input, kCloseInvalidPayload);

  // The error comes out at the very byte that makes the prefix invalid (0x90 after F4), not later.
  const std::string frame2 = masked(Opcode::kContinuation, part2, false);
  Decoder d;
  d.feed(masked(Opcode::kText, part1, false));
  EXPECT_TRUE(d.next().need_more());
  const size_t bad_byte = frame2.size() - part2.size() + 1;
  for (size_t i = 0; i < frame2.size(); ++i) {
    d.feed(frame2.substr(i, 1));
    DecodeResult r = d.next();
    if (i < bad_byte) {
      ASSERT_TRUE(r.need_more()) << i;
    } else {
      ASSERT_TRUE(r.is_error()) << i;
      EXPECT_EQ(r.code, kCloseInvalidPayload);
      break;
    }
  }
}

TEST(WsDecoderRefuses, InvalidUtf8InsideOneChoppedFrameFailsFast) {
  // Autobahn 6.4.3: one frame whose payload arrives in chops; the bad chop is refused before the frame ends.
  const std::string payload = std::string("valid text ") + "\xed\xa0\x80" + std::string(1000, 'z');
  const std::string frame = masked(Opcode::kText, payload);
  Decoder d;
  const size_t header = frame.size() - payload.size();
  d.feed(frame.substr(0, header + 12));  // up to and including ED
  EXPECT_TRUE(d.next().need_more());
  d.feed(frame.substr(header + 12, 1));  // A0: no surrogate may follow ED
  DecodeResult r = d.next();
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.code, kCloseInvalidPayload);
}

TEST(WsDecoderRefuses, TruncatedUtf8AtTheEndOfAMessage) {
  expect_refused(masked(Opcode::kText, "ab\xe2\x82"), kCloseInvalidPayload);
  expect_refused(masked(Opcode::kText, "\xf0\x9f", false) + masked(Opcode::kContinuation, "\x98"),
                 kCloseInvalidPayload);
  // Truncated inside a non-final fragment is fine as long as the next fragment completes it.
  expect_decodes_everywhere(masked(Opcode::kText, "\xf0\x9f", false) + masked(Opcode::kContinuation, "\x98\x80"),
                            {message(Opcode::kText, "\xf0\x9f\x98\x80")});
}

TEST(WsDecoderRefuses, BadCloseCodes) {
  for (int code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    SCOPED_TRACE(code);
    EXPECT_FALSE(is_valid_close_code(static_cast<uint16_t>(code)));
    expect_refused(masked(Opcode::kClose, bytes({code >> 8, code & 0xff})), kCloseProtocolError);
    expect_refused(masked(Opcode::kClose, bytes({code >> 8, code & 0xff}) + "why"), kCloseProtocolError);
  }
}

TEST(WsDecoderRefuses, OneByteClosePayload) {
  expect_refused(masked(Opcode::kClose, bytes({0x03})), kCloseProtocolError);
}

TEST(WsDecoderRefuses, InvalidUtf8CloseReason) {
  expect_refused(masked(Opcode::kClose, bytes({0x03, 0xe8}) + "\xce\xba\xed\xa0\x80"), kCloseInvalidPayload);
  expect_refused(masked(Opcode::kClose, bytes({0x03, 0xe8}) + "\xe2\x82"), kCloseInvalidPayload);
}

TEST(WsDecoderRefuses, MessageOverTheLimitInOneFrame) {
  expect_refused(masked(Opcode::kBinary, pattern(1001)), kCloseMessageTooBig, 1000);
  expect_refused(masked(Opcode::kText, std::string(70000, 'a')), kCloseMessageTooBig, 65536);
}

TEST(WsDecoderRefuses, MessageOverTheLimitIsRefusedFromTheHeaderAlone) {
  Decoder d(1024);
  const std::string frame = masked(Opcode::kBinary, pattern(5000));
  d.feed(frame.substr(0, 4));  // 0x82 0xFE 0x13 0x88: the declared length is enough
  DecodeResult r = d.next();
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.code, kCloseMessageTooBig);
  EXPECT_EQ(d.buffered(), 0u);
  d.feed(frame.substr(4));  // ignored: nothing more is buffered
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(WsDecoderRefuses, MessageOverTheLimitThroughFragments) {
  const std::string input = masked(Opcode::kText, std::string(400, 'a'), false) + masked(Opcode::kPing, "") +
                            masked(Opcode::kContinuation, std::string(400, 'b'), false) +
                            masked(Opcode::kContinuation, std::string(201, 'c'), true);
  expect_refused(input, {control(Opcode::kPing, "")}, kCloseMessageTooBig, 1000);
}

TEST(WsDecoderRefuses, ErrorIsSticky) {
  Decoder d;
  d.feed(encode_text("unmasked") + masked(Opcode::kText, "fine"));
  DecodeResult first = d.next();
  ASSERT_TRUE(first.is_error());
  EXPECT_TRUE(d.failed());
  d.feed(masked(Opcode::kText, "more"));
  for (int i = 0; i < 3; ++i) {
    DecodeResult again = d.next();
    ASSERT_TRUE(again.is_error());
    EXPECT_EQ(again.code, first.code);
    EXPECT_EQ(again.reason, first.reason);
  }
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(WsDecoderRefuses, ErrorReasonsFitACloseFrame) {
  for (const std::string& input :
       {encode_text("x"), masked(Opcode::kText, "\xff"), masked(Opcode::kBinary, pattern(20))}) {
    auto got = decode(input, 10);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_LE(got[0].reason.size(), kMaxCloseReason);
    EXPECT_TRUE(is_valid_utf8(got[0].reason));
  }
}

// ---------------------------------------------------------------------------------------------------
// Encoder

TEST(WsEncoder, LengthEncodingsAtEveryBoundary) {
  struct Case {
    size_t size;
    std::string header;
  };
  const std::vector<Case> cases = {
      {0, bytes({0x81, 0x00})},
      {125, bytes({0x81, 0x7D})},
      {126, bytes({0x81, 0x7E, 0x00, 0x7E})},
      {65535, bytes({0x81, 0x7E, 0xFF, 0xFF})},
      {65536, bytes({0x81, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.size);
    const std::string payload(c.size, 'e');
    const std::string frame = encode_text(payload);
    EXPECT_EQ(frame.substr(0, c.header.size()), c.header);
    EXPECT_EQ(frame.size(), c.header.size() + c.size);
    EXPECT_EQ(frame.substr(c.header.size()), payload);
    // The masked form has the mask bit, the key after the length, and decodes back.
    const std::string m = masked(Opcode::kText, payload);
    EXPECT_EQ(static_cast<uint8_t>(m[1]) & 0x80, 0x80);
    EXPECT_EQ(m.size(), c.header.size() + 4 + c.size);
    EXPECT_EQ(decode(m), std::vector<Event>{message(Opcode::kText, payload)});
  }
}

TEST(WsEncoder, FinBitAndOpcodes) {
  EXPECT_EQ(encode_frame(Opcode::kBinary, "", false), bytes({0x02, 0x00}));
  EXPECT_EQ(encode_frame(Opcode::kContinuation, "", true), bytes({0x80, 0x00}));
  EXPECT_EQ(encode_ping(), bytes({0x89, 0x00}));
  EXPECT_EQ(encode_pong(), bytes({0x8A, 0x00}));
  EXPECT_EQ(encode_binary("\x01"), bytes({0x82, 0x01, 0x01}));
  EXPECT_EQ(encode_ping(std::string(200, 'p')).size(), 2u + 125u);
}

TEST(WsEncoder, CloseFrames) {
  EXPECT_EQ(encode_close(1000), bytes({0x88, 0x02, 0x03, 0xe8}));
  EXPECT_EQ(encode_close(4003, "bye"), bytes({0x88, 0x05, 0x0f, 0xa3, 'b', 'y', 'e'}));
  EXPECT_EQ(encode_close(kCloseNoStatus), bytes({0x88, 0x00}));
}

TEST(WsEncoder, CloseReasonIsTruncatedAtACharacterBoundary) {
  // ASCII: cut at exactly 123 bytes, so the payload is 125.
  std::string frame = encode_close(1000, std::string(200, 'a'));
  EXPECT_EQ(frame.size(), 2u + 125u);
  EXPECT_EQ(static_cast<uint8_t>(frame[1]), 125);
  // Multi-byte characters straddling byte 123 are dropped whole, never split.
  for (const std::string& ch :
       {std::string("\xc3\xa9"), std::string("\xe2\x82\xac"), std::string("\xf0\x9f\x98\x80")}) {
    for (size_t prefix = 118; prefix <= 123; ++prefix) {
      SCOPED_TRACE(std::to_string(ch.size()) + "-byte char after " + std::to_string(prefix));
      const std::string reason = std::string(prefix, 'a') + ch + ch;
      frame = encode_close(1001, reason);
      const std::string got = frame.substr(4);
      EXPECT_LE(got.size(), kMaxCloseReason);
      EXPECT_TRUE(is_valid_utf8(got));
      EXPECT_EQ(reason.compare(0, got.size(), got), 0);
      EXPECT_GT(got.size() + ch.size(), std::min(reason.size(), kMaxCloseReason));  // the longest that fits
      // The server's own close frame is a valid close frame for a decoder.
      std::string as_client = masked(Opcode::kClose, frame.substr(2));
      EXPECT_EQ(decode(as_client), std::vector<Event>{close_event(1001, got)});
    }
  }
  // A reason that fits is untouched.
  EXPECT_EQ(encode_close(1000, "short").substr(4), "short");
}

// ---------------------------------------------------------------------------------------------------
// Masking and UTF-8

TEST(WsMask, WordLoopMatchesTheDefinitionForEveryLengthAndPhase) {
  const std::array<uint8_t, 4> key = {0xde, 0xad, 0xbe, 0xef};
  for (size_t phase = 0; phase < 8; ++phase) {
    for (size_t n = 0; n <= 100; ++n) {
      for (size_t offset = 0; offset < 3; ++offset) {  // unaligned starts too
        std::string buf = pattern(n + offset);
        std::string expected = buf;
        for (size_t i = 0; i < n; ++i) {
          expected[offset + i] = static_cast<char>(static_cast<uint8_t>(expected[offset + i]) ^ key[(phase + i) % 4]);
        }
        apply_mask(buf.data() + offset, n, key, phase);
        ASSERT_EQ(buf, expected) << "phase " << phase << " n " << n << " offset " << offset;
      }
    }
  }
}

// Reference: Unicode Table 3-7 (well-formed UTF-8 byte sequences), written independently of the DFA.
// Returns the number of bytes accepted before the first byte that no valid text could continue with.
size_t reference_valid_prefix(std::string_view s, bool* complete) {
  size_t i = 0;
  size_t need = 0;
  uint8_t lo = 0x80, hi = 0xBF;
  for (; i < s.size(); ++i) {
    const auto b = static_cast<uint8_t>(s[i]);
    if (need == 0) {
      if (b <= 0x7F) continue;
      if (b >= 0xC2 && b <= 0xDF)
        need = 1, lo = 0x80, hi = 0xBF;
      else if (b == 0xE0)
        need = 2, lo = 0xA0, hi = 0xBF;
      else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
        need = 2, lo = 0x80, hi = 0xBF;
      else if (b == 0xED)
        need = 2, lo = 0x80, hi = 0x9F;
      else if (b == 0xF0)
        need = 3, lo = 0x90, hi = 0xBF;
      else if (b >= 0xF1 && b <= 0xF3)
        need = 3, lo = 0x80, hi = 0xBF;
      else if (b == 0xF4)
        need = 3, lo = 0x80, hi = 0x8F;
      else
        break;
    } else {
      if (b < lo || b > hi) break;
      --need;
      lo = 0x80, hi = 0xBF;
    }
  }
  *complete = i == s.size() && need == 0;
  return i;
}

// Feeds byte by byte and returns how many bytes were accepted before the validator failed.
size_t dfa_valid_prefix(std::string_view s, bool* complete) {
  Utf8Validator v;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    if (!v.feed(s.substr(i, 1))) break;
  }
  *complete = i == s.size() && v.complete();
  return i;
}

TEST(WsUtf8Validator, AgreesWithTable37OnEverySequenceUpToThreeBytes) {
  std::string s;
  auto check = [&]() {
    bool ref_complete = false, dfa_complete = false;
    const size_t ref = reference_valid_prefix(s, &ref_complete);
    const size_t dfa = dfa_valid_prefix(s, &dfa_complete);
    if (ref != dfa || ref_complete != dfa_complete || is_valid_utf8(s) != ref_complete) {
      ADD_FAILURE() << "disagree on " << testing::PrintToString(s);
      return false;
    }
    return true;
  };
  for (int a = 0; a < 256; ++a) {
    s = std::string(1, static_cast<char>(a));
    if (!check()) return;
    for (int b = 0; b < 256; ++b) {
      s = bytes({a, b});
      if (!check()) return;
      if (a < 0xC2) continue;  // sequences starting with ASCII or a stray byte are covered by shorter ones
      for (int c = 0; c < 256; ++c) {
        s = bytes({a, b, c});
        if (!check()) return;
      }
    }
  }
}

TEST(WsUtf8Validator, AgreesWithTable37OnFourByteBoundaries) {
  const int edges[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                       0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFF};
  for (int a : edges)
    for (int b : edges)
      for (int c : edges)
        for (int d : edges) {
          const std::string s = bytes({a, b, c, d});
          bool ref_complete = false, dfa_complete = false;
          ASSERT_EQ(reference_valid_prefix(s, &ref_complete), dfa_valid_prefix(s, &dfa_complete))
              << testing::PrintToString(s);
          ASSERT_EQ(ref_complete, dfa_complete) << testing::PrintToString(s);
        }
}

std::string utf8_encode(uint32_t cp) {
  if (cp < 0x80) return bytes({static_cast<int>(cp)});
  if (cp < 0x800) return bytes({static_cast<int>(0xC0 | (cp >> 6)), static_cast<int>(0x80 | (cp & 0x3F))});
  if (cp < 0x10000) {
    return bytes({static_cast<int>(0xE0 | (cp >> 12)), static_cast<int>(0x80 | ((cp >> 6) & 0x3F)),
                  static_cast<int>(0x80 | (cp & 0x3F))});
  }
  return bytes({static_cast<int>(0xF0 | (cp >> 18)), static_cast<int>(0x80 | ((cp >> 12) & 0x3F)),
                static_cast<int>(0x80 | ((cp >> 6) & 0x3F)), static_cast<int>(0x80 | (cp & 0x3F))});
}

TEST(WsUtf8Validator, EveryCodePointButSurrogates) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    ASSERT_EQ(is_valid_utf8(utf8_encode(cp)), !surrogate) << std::hex << cp;
  }
  // Overlong forms of '/' and of U+07FF, U+FFFF.
  for (const char* overlong : {"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf"}) {
    EXPECT_FALSE(is_valid_utf8(overlong)) << testing::PrintToString(std::string(overlong));
  }
}

TEST(WsUtf8Validator, IncrementalAcrossArbitraryChunks) {
  const std::string text = "ASCII then κόσμε then € then 😀, long enough to use the 8-byte fast path.";
  for (size_t cut1 = 0; cut1 <= text.size(); ++cut1) {
    for (size_t cut2 = cut1; cut2 <= text.size(); cut2 += 7) {
      Utf8Validator v;
      ASSERT_TRUE(v.feed(std::string_view(text).substr(0, cut1)));
      ASSERT_TRUE(v.feed(std::string_view(text).substr(cut1, cut2 - cut1)));
      ASSERT_TRUE(v.feed(std::string_view(text).substr(cut2)));
      ASSERT_TRUE(v.complete());
    }
  }
  Utf8Validator v;
  EXPECT_TRUE(v.feed("abc\xe2\x82"));
  EXPECT_FALSE(v.complete());
  EXPECT_FALSE(v.feed("x"));
  EXPECT_TRUE(v.failed());
  EXPECT_FALSE(v.feed("plain ascii stays failed"));
  v.reset();
  EXPECT_TRUE(v.feed("ok"));
  EXPECT_TRUE(v.complete());
}

}  // namespace
}  // namespace chat::ws

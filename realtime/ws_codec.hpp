// RFC 6455 §5 frame codec for the server side: a pure, incremental decoder and the frame encoders.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chat::ws {

// §5.2 opcodes. Values 3-7 and 0xB-0xF are reserved; the decoder refuses them.
enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// §7.4.1 status codes the server uses or receives.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseUnsupportedData = 1003;
inline constexpr uint16_t kCloseNoStatus = 1005;  // never on the wire: "the close frame had no payload"
inline constexpr uint16_t kCloseInvalidPayload = 1007;
inline constexpr uint16_t kClosePolicyViolation = 1008;
inline constexpr uint16_t kCloseMessageTooBig = 1009;
inline constexpr uint16_t kCloseInternalError = 1011;
inline constexpr uint16_t kCloseTryAgainLater = 1013;

// §5.5: control frames carry at most 125 payload bytes; a close reason at most 123 (after the 2-byte code).
inline constexpr size_t kMaxControlPayload = 125;
inline constexpr size_t kMaxCloseReason = kMaxControlPayload - 2;

// True for a code a peer may put in a close frame (§7.4.1, §7.4.2 and the IANA registry):
// 1000-1003, 1007-1014, 3000-4999. 1004/1005/1006/1015, other 1xxx, 2xxx and ≥5000 are not.
bool is_valid_close_code(uint16_t code) noexcept;

// Incremental UTF-8 validator after Björn Höhrmann's DFA ("Flexible and Economical UTF-8 Decoder",
// http://bjoern.hoehrmann.de/utf-8/decoder/dfa/). It rejects at the first byte that makes the input
// impossible to complete (overlongs, surrogates, > U+10FFFF), which is what "fail fast" needs (§8.1).
class Utf8Validator {
 public:
  // Feeds more bytes; false once the input seen so far can no longer be valid UTF-8 (sticky).
  bool feed(std::string_view bytes) noexcept;
  // True when everything fed so far is valid and ends on a code point boundary.
  bool complete() const noexcept { return state_ == kAccept; }
  bool failed() const noexcept { return state_ == kReject; }
  void reset() noexcept { state_ = kAccept; }

  static constexpr uint8_t kAccept = 0;
  static constexpr uint8_t kReject = 12;

 private:
  uint8_t state_ = kAccept;
};

// One-shot check of a whole string.
bool is_valid_utf8(std::string_view bytes) noexcept;

// XORs `n` bytes at `data` with the masking key (§5.3), starting `phase` bytes into the key cycle.
// Works a 64-bit word at a time; masking and unmasking are the same operation.
void apply_mask(char* data, size_t n, const std::array<uint8_t, 4>& key, size_t phase = 0) noexcept;

enum class DecodeStatus : uint8_t {
  kNeedMore,  // feed more bytes
  kMessage,   // a complete text/binary message (fragments reassembled)
  kControl,   // a ping, pong or close frame
  kError,     // the connection must be failed: send a close frame with `code` and `reason`, then close
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  // kMessage: kText or kBinary. kControl: kPing, kPong or kClose.
  Opcode opcode = Opcode::kContinuation;
  // kMessage: the message. kPing/kPong: the application data. kClose: the raw close payload (code + reason),
  // so that it can be echoed as is.
  std::string payload;
  // kClose: the code received (kCloseNoStatus when the payload was empty). kError: the code to send.
  uint16_t code = 0;
  // kClose: the reason received (valid UTF-8). kError: why, in a few words (fits a close frame).
  std::string reason;

  bool need_more() const noexcept { return status == DecodeStatus::kNeedMore; }
  bool is_message() const noexcept { return status == DecodeStatus::kMessage; }
  bool is_control() const noexcept { return status == DecodeStatus::kControl; }
  bool is_error() const noexcept { return status == DecodeStatus::kError; }
};

// Decodes client-to-server frames. No I/O and no exceptions (beyond std::bad_alloc); payload bytes
// are unmasked and UTF-8-checked as they arrive, so an invalid text prefix is refused at once and an
// oversize frame is refused from its header, before its payload is buffered.
//
// Usage: feed() whatever the socket gave, then call next() until it returns kNeedMore or kError.
// After kError every next() returns the same error. After a close frame is returned the decoder is
// closed (§5.5.1: nothing may follow a close): further input is ignored and next() says kNeedMore.
class Decoder {
 public:
  static constexpr size_t kDefaultMaxMessageSize = size_t{1} << 20;  // 1 MiB

  explicit Decoder(size_t max_message_size = kDefaultMaxMessageSize) : max_message_size_(max_message_size) {}

  void feed(std::string_view bytes);
  DecodeResult next();

  bool failed() const noexcept { return state_ == State::kError; }
  bool closed() const noexcept { return state_ == State::kClosed; }
  // Bytes fed but not consumed yet (a partial frame header, or input behind a returned event).
  size_t buffered() const noexcept { return buffer_.size() - pos_; }
  size_t max_message_size() const noexcept { return max_message_size_; }

 private:
  enum class State : uint8_t { kHeader, kPayload, kClosed, kError };
  enum class HeaderStep : uint8_t { kNeedMore, kDone, kError };

  HeaderStep parse_header();
  bool consume_payload();  // false when the payload made the connection fail
  DecodeResult finish_control();
  DecodeResult finish_message();
  void fail(uint16_t code, const char* reason);
  HeaderStep header_error(uint16_t code, const char* reason);
  DecodeResult error_result() const;

  size_t max_message_size_;
  State state_ = State::kHeader;

  std::string buffer_;  // input not yet consumed starts at pos_
  size_t pos_ = 0;

  // The frame being read.
  Opcode frame_opcode_ = Opcode::kContinuation;
  bool frame_fin_ = false;
  uint64_t remaining_ = 0;  // payload bytes of this frame still to come
  std::array<uint8_t, 4> mask_{};
  size_t mask_phase_ = 0;

  // The data message being reassembled, and the control frame payload (control frames may interleave).
  bool in_message_ = false;
  Opcode message_opcode_ = Opcode::kText;
  std::string message_;
  Utf8Validator utf8_;
  std::string control_;

  uint16_t error_code_ = 0;
  const char* error_reason_ = "";
};

// Server-to-client frame (§5.2): never masked. The caller keeps control payloads ≤ 125 bytes.
std::string encode_frame(Opcode op, std::string_view payload, bool fin = true);
// Client-to-server frame with the given masking key: for tests, tools and fuzz seeds. Builds whatever it
// is asked for (also reserved opcodes and oversize control frames) so tests can make bad frames.
std::string encode_masked_frame(Opcode op, std::string_view payload, const std::array<uint8_t, 4>& mask,
                                bool fin = true);

// The client's side of the same wire, for tests and tools (the bench's load generator): the first frame of
// `bytes` as a server sends it (§5.1: unmasked), without copying. Reassembly, UTF-8 and close-code checks are
// the caller's business; the daemon itself never reads server frames.
struct ServerFrame {
  enum class Status : uint8_t { kNeedMore, kFrame, kError };
  Status status = Status::kNeedMore;
  Opcode opcode = Opcode::kContinuation;
  bool fin = false;
  size_t size = 0;           // kFrame: header + payload bytes, what to skip to reach the next frame
  std::string_view payload;  // kFrame: into `bytes`
  const char* error = "";    // kError: masked, reserved bits or opcode, a bad length, a fragmented control
};
ServerFrame read_server_frame(std::string_view bytes) noexcept;

std::string encode_text(std::string_view text);
std::string encode_binary(std::string_view data);
// Payload truncated to 125 bytes (§5.5).
std::string encode_ping(std::string_view payload = {});
std::string encode_pong(std::string_view payload = {});
// Close frame with `code` and `reason`; the reason is cut to 123 bytes at a UTF-8 character boundary.
// kCloseNoStatus gives a close frame with an empty payload (§5.5.1: the body is optional).
std::string encode_close(uint16_t code, std::string_view reason = {});

}  // namespace chat::ws

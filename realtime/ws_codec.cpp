// RFC 6455 §5 frame decoding and encoding, server side; the rules are cited where they are enforced.
#include "realtime/ws_codec.hpp"

#include <algorithm>
#include <cstring>

namespace chat::ws {
namespace {

// Björn Höhrmann's UTF-8 DFA, http://bjoern.hoehrmann.de/utf-8/decoder/dfa/
// Copyright (c) 2008-2010 Bjoern Hoehrmann <bjoern@hoehrmann.de>, MIT license (see that page).
// The first 256 entries map a byte to a character class; the rest map (state + class) to the next
// state. States are multiples of 12: 0 accept, 12 reject, 24/36 expect 1/2 more continuation bytes,
// 48 after E0 (A0-BF next), 60 after ED (80-9F next), 72 after F0 (90-BF next), 84 after F1-F3, 96 after F4
// (80-8F next). Rejecting at the first impossible byte is what gives fail-fast text validation.
// clang-format off
constexpr uint8_t kUtf8d[] = {
    // 00..7F
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    // 80..BF: continuation bytes, in three classes (80-8F, 90-9F, A0-BF)
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    // C0..DF: C0, C1 are never valid (overlong); C2-DF start 2-byte sequences
    8, 8, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    // E0..EF (E0 and ED are special), F0..FF (F0 and F4 are special, F5-FF never valid)
    10, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 3, 3, 11, 6, 6, 6, 5, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    // transitions
    0, 12, 24, 36, 60, 96, 84, 12, 12, 12, 48, 72,  // state 0
    12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,  // state 12 (reject, sticky)
    12, 0, 12, 12, 12, 12, 12, 0, 12, 0, 12, 12,     // state 24
    12, 24, 12, 12, 12, 12, 12, 24, 12, 24, 12, 12,  // state 36
    12, 12, 12, 12, 12, 12, 12, 24, 12, 12, 12, 12,  // state 48
    12, 24, 12, 12, 12, 12, 12, 12, 12, 24, 12, 12,  // state 60
    12, 12, 12, 12, 12, 12, 12, 36, 12, 36, 12, 12,  // state 72
    12, 36, 12, 12, 12, 12, 12, 36, 12, 36, 12, 12,  // state 84
    12, 36, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,  // state 96
};
// clang-format on
static_assert(sizeof kUtf8d == 256 + 9 * 12);

constexpr uint64_t kHighBits = 0x8080808080808080ull;

bool is_control(Opcode op) { return (static_cast<uint8_t>(op) & 0x8) != 0; }

bool is_known_opcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

uint16_t read_be16(const char* p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}

uint64_t read_be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// §5.2 base header plus extended length; the mask bit and key are added by the caller when masking.
void append_header(std::string& out, Opcode op, size_t len, bool fin, bool masked) {
  out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | static_cast<uint8_t>(op)));
  const uint8_t mask_bit = masked ? 0x80 : 0x00;
  if (len < 126) {
    out.push_back(static_cast<char>(mask_bit | len));
  } else if (len <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((uint64_t{len} >> shift) & 0xFF));
  }
}

}  // namespace

bool is_valid_close_code(uint16_t code) noexcept {
  // §7.4.1 defines 1000-1003 and 1007-1011; 1012-1014 are IANA-registered since (browsers echo the
  // server's 1013 back). 1004 is reserved, 1005/1006/1015 must never be sent. 3000-4999 are for
  // libraries and applications (§7.4.2); everything else is reserved or out of range.
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

bool Utf8Validator::feed(std::string_view bytes) noexcept {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint8_t* end = p + bytes.size();
  uint32_t state = state_;
  while (p < end) {
    if (state == kAccept) {
      // ASCII fast path: skip 8 bytes at a time while no byte has its top bit set.
      while (end - p >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        if (w & kHighBits) break;
        p += 8;
      }
      if (p == end) break;
    }
    state = kUtf8d[256 + state + kUtf8d[*p++]];
    if (state == kReject) break;
  }
  state_ = static_cast<uint8_t>(state);
  return state_ != kReject;
}

bool is_valid_utf8(std::string_view bytes) noexcept {
  Utf8Validator v;
  return v.feed(bytes) && v.complete();
}

void apply_mask(char* data, size_t n, const std::array<uint8_t, 4>& key, size_t phase) noexcept {
  // Rotate the key so that data[0] pairs with key[phase % 4], then repeat it into a 64-bit word.
  // memcpy loads and stores are alignment- and aliasing-safe and compile to plain moves.
  uint8_t k[8];
  for (size_t i = 0; i < 8; ++i) k[i] = key[(phase + i) & 3];
  uint64_t k64;
  std::memcpy(&k64, k, 8);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t w[4];
    std::memcpy(w, data + i, 32);
    w[0] ^= k64;
    w[1] ^= k64;
    w[2] ^= k64;
    w[3] ^= k64;
    std::memcpy(data + i, w, 32);
  }
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= k64;
    std::memcpy(data + i, &w, 8);
  }
  for (; i < n; ++i) data[i] = static_cast<char>(static_cast<uint8_t>(data[i]) ^ k[i & 3]);
}

// ---------------------------------------------------------------------------------------------------
// Decoder

void Decoder::feed(std::string_view bytes) {
  if (state_ == State::kError || state_ == State::kClosed) return;  // nothing more will be read
  if (pos_ == buffer_.size()) {
    buffer_.clear();  // keeps the capacity: no allocation in the steady state
    pos_ = 0;
  } else if (pos_ > 0) {
    buffer_.erase(0, pos_);  // what is left is small: a partial header, or bytes behind an event
    pos_ = 0;
  }
  buffer_.append(bytes);
}

void Decoder::fail(uint16_t code, const char* reason) {
  state_ = State::kError;
  error_code_ = code;
  error_reason_ = reason;
  // Release what the connection held; it is going away.
  std::string().swap(buffer_);
  std::string().swap(message_);
  std::string().swap(control_);
  pos_ = 0;
}

Decoder::HeaderStep Decoder::header_error(uint16_t code, const char* reason) {
  fail(code, reason);
  return HeaderStep::kError;
}

DecodeResult Decoder::error_result() const {
  DecodeResult r;
  r.status = DecodeStatus::kError;
  r.code = error_code_;
  r.reason = error_reason_;
  return r;
}

// Reads one frame header (§5.2) as far as the buffered bytes allow, checking each rule as soon as the
// byte it depends on is there, so a bad frame is refused as early as possible whatever the split.
Decoder::HeaderStep Decoder::parse_header() {
  const char* p = buffer_.data() + pos_;
  const size_t avail = buffer_.size() - pos_;
  if (avail < 1) return HeaderStep::kNeedMore;

  const auto b0 = static_cast<uint8_t>(p[0]);
  const bool fin = (b0 & 0x80) != 0;
  const uint8_t op = b0 & 0x0F;
  // §5.2: RSV1-3 MUST be 0 unless an extension defining them was negotiated; we negotiate none.
  if (b0 & 0x70) return header_error(kCloseProtocolError, "reserved bits set");
  // §5.2: unknown opcodes MUST fail the connection.
  if (!is_known_opcode(op)) return header_error(kCloseProtocolError, "reserved opcode");
  const auto opcode = static_cast<Opcode>(op);
  const bool control = is_control(opcode);
  // §5.5: control frames MUST NOT be fragmented.
  if (control && !fin) return header_error(kCloseProtocolError, "fragmented control frame");
  // §5.4: a continuation needs a message in progress; a new data frame must wait for its end.
  if (opcode == Opcode::kContinuation && !in_message_) {
    return header_error(kCloseProtocolError, "continuation frame without a message");
  }
  if ((opcode == Opcode::kText || opcode == Opcode::kBinary) && in_message_) {
    return header_error(kCloseProtocolError, "new message inside a fragmented message");
  }
  if (avail < 2) return HeaderStep::kNeedMore;

  const auto b1 = static_cast<uint8_t>(p[1]);
  // §5.1: a server MUST close the connection on an unmasked client frame.
  if (!(b1 & 0x80)) return header_error(kCloseProtocolError, "unmasked client frame");
  const uint8_t len7 = b1 & 0x7F;
  // §5.5: control payloads are at most 125 bytes. §5.5.1: a close body, if any, starts with a 2-byte code.
  if (control && len7 > kMaxControlPayload) {
    return header_error(kCloseProtocolError, "control frame too long");
  }
  if (opcode == Opcode::kClose && len7 == 1) return header_error(kCloseProtocolError, "1-byte close payload");

  size_t header_len = 2;
  uint64_t len = len7;
  if (len7 == 126) {
    header_len += 2;
    if (avail < header_len) return HeaderStep::kNeedMore;
    len = read_be16(p + 2);
    // §5.2: "the minimal number of bytes MUST be used to encode the length".
    if (len < 126) return header_error(kCloseProtocolError, "non-minimal length");
  } else if (len7 == 127) {
    header_len += 8;
    if (avail < header_len) return HeaderStep::kNeedMore;
    len = read_be64(p + 2);
    // §5.2: the most significant bit MUST be 0.
    if (len >> 63) return header_error(kCloseProtocolError, "invalid 64-bit length");
    if (len < 0x10000) return header_error(kCloseProtocolError, "non-minimal length");
  }
  // §10.4: refuse what is too big from the declared length, before buffering it.
  // The fragments so far never exceed the limit (this check let them in), so the subtraction is safe.
  if (!control && len > max_message_size_ - (in_message_ ? message_.size() : 0)) {
    return header_error(kCloseMessageTooBig, "message too big");
  }

  header_len += 4;
  if (avail < header_len) return HeaderStep::kNeedMore;
  std::memcpy(mask_.data(), p + header_len - 4, 4);
  pos_ += header_len;

  frame_opcode_ = opcode;
  frame_fin_ = fin;
  remaining_ = len;
  mask_phase_ = 0;
  if (control) {
    control_.clear();
  } else if (opcode != Opcode::kContinuation) {
    in_message_ = true;
    message_opcode_ = opcode;
    message_.clear();
    utf8_.reset();
  }
  return HeaderStep::kDone;
}

// Moves the payload bytes that have arrived into the message (or control) buffer, unmasked. Text is
// validated chunk by chunk, so invalid UTF-8 fails the connection as soon as it arrives (§8.1).
bool Decoder::consume_payload() {
  const size_t avail = buffer_.size() - pos_;
  const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, avail));
  if (take == 0) return true;
  std::string& dst = is_control(frame_opcode_) ? control_ : message_;
  const size_t old = dst.size();
  dst.append(buffer_, pos_, take);
  apply_mask(dst.data() + old, take, mask_, mask_phase_);
  pos_ += take;
  remaining_ -= take;
  mask_phase_ = (mask_phase_ + take) & 3;
  if (!is_control(frame_opcode_) && message_opcode_ == Opcode::kText &&
      !utf8_.feed(std::string_view(message_).substr(old))) {
    fail(kCloseInvalidPayload, "invalid UTF-8 in text message");
    return false;
  }
  return true;
}

DecodeResult Decoder::finish_control() {
  DecodeResult r;
  r.status = DecodeStatus::kControl;
  r.opcode = frame_opcode_;
  if (frame_opcode_ == Opcode::kClose) {
    // §5.5.1 / §7.1.5: an empty body means "no status code"; otherwise a valid code and a UTF-8 reason.
    if (control_.empty()) {
      r.code = kCloseNoStatus;
    } else {
      r.code = read_be16(control_.data());
      if (!is_valid_close_code(r.code)) {
        fail(kCloseProtocolError, "invalid close code");
        return error_result();
      }
      std::string_view reason = std::string_view(control_).substr(2);
      if (!is_valid_utf8(reason)) {
        fail(kCloseInvalidPayload, "invalid UTF-8 in close reason");
        return error_result();
      }
      r.reason.assign(reason);
    }
    state_ = State::kClosed;
    std::string().swap(buffer_);  // §5.5.1: nothing after a close frame is read
    std::string().swap(message_);
    pos_ = 0;
  }
  r.payload = control_;
  return r;
}

DecodeResult Decoder::finish_message() {
  // §8.1: a text message must be valid UTF-8 as a whole; a sequence cut off at the end is invalid.
  if (message_opcode_ == Opcode::kText && !utf8_.complete()) {
    fail(kCloseInvalidPayload, "invalid UTF-8 in text message");
    return error_result();
  }
  in_message_ = false;
  DecodeResult r;
  r.status = DecodeStatus::kMessage;
  r.opcode = message_opcode_;
  r.payload = std::move(message_);
  message_.clear();  // a moved-from string is valid but unspecified
  return r;
}

DecodeResult Decoder::next() {
  for (;;) {
    switch (state_) {
      case State::kError:
        return error_result();
      case State::kClosed:
        return {};
      case State::kHeader:
        switch (parse_header()) {
          case HeaderStep::kNeedMore:
            return {};
          case HeaderStep::kError:
            return error_result();
          case HeaderStep::kDone:
            state_ = State::kPayload;
            break;
        }
        break;
      case State::kPayload:
        if (!consume_payload()) return error_result();
        if (remaining_ > 0) return {};
        state_ = State::kHeader;
        if (is_control(frame_opcode_)) return finish_control();
        if (frame_fin_) return finish_message();
        break;  // a non-final fragment: go on with the next frame
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Encoder

std::string encode_frame(Opcode op, std::string_view payload, bool fin) {
  std::string out;
  out.reserve(10 + payload.size());
  append_header(out, op, payload.size(), fin, false);
  out.append(payload);
  return out;
}

std::string encode_masked_frame(Opcode op, std::string_view payload, const std::array<uint8_t, 4>& mask, bool fin) {
  std::string out;
  out.reserve(14 + payload.size());
  append_header(out, op, payload.size(), fin, true);
  out.append(reinterpret_cast<const char*>(mask.data()), mask.size());
  const size_t start = out.size();
  out.append(payload);
  apply_mask(out.data() + start, payload.size(), mask);
  return out;
}

ServerFrame read_server_frame(std::string_view bytes) noexcept {
  ServerFrame f;
  auto fail = [&f](const char* why) {
    f.status = ServerFrame::Status::kError;
    f.error = why;
    return f;
  };
  if (bytes.size() < 2) return f;
  const auto b0 = static_cast<uint8_t>(bytes[0]);
  const auto b1 = static_cast<uint8_t>(bytes[1]);
  if (b0 & 0x70) return fail("reserved bits set");
  if (!is_known_opcode(b0 & 0x0F)) return fail("reserved opcode");
  // §5.1: a client MUST close the connection on a masked server frame.
  if (b1 & 0x80) return fail("masked server frame");
  f.opcode = static_cast<Opcode>(b0 & 0x0F);
  f.fin = (b0 & 0x80) != 0;
  if (is_control(f.opcode) && (!f.fin || (b1 & 0x7F) > kMaxControlPayload)) return fail("bad control frame");
  size_t header = 2;
  uint64_t len = b1 & 0x7F;
  if (len == 126) {
    header = 4;
    if (bytes.size() < header) return f;
    len = read_be16(bytes.data() + 2);
    if (len < 126) return fail("non-minimal length");
  } else if (len == 127) {
    header = 10;
    if (bytes.size() < header) return f;
    len = read_be64(bytes.data() + 2);
    if ((len >> 63) || len < 0x10000) return fail("invalid 64-bit length");
  }
  if (bytes.size() - header < len) return f;
  f.status = ServerFrame::Status::kFrame;
  f.size = header + static_cast<size_t>(len);
  f.payload = bytes.substr(header, static_cast<size_t>(len));
  return f;
}

std::string encode_text(std::string_view text) { return encode_frame(Opcode::kText, text); }

std::string encode_binary(std::string_view data) { return encode_frame(Opcode::kBinary, data); }

std::string encode_ping(std::string_view payload) {
  return encode_frame(Opcode::kPing, payload.substr(0, kMaxControlPayload));
}

std::string encode_pong(std::string_view payload) {
  return encode_frame(Opcode::kPong, payload.substr(0, kMaxControlPayload));
}

std::string encode_close(uint16_t code, std::string_view reason) {
  if (code == kCloseNoStatus) return encode_frame(Opcode::kClose, {});
  size_t n = std::min(reason.size(), kMaxCloseReason);
  if (n < reason.size()) {
    // Cutting before a continuation byte (10xxxxxx) would split a character: back up to its lead byte.
    while (n > 0 && (static_cast<uint8_t>(reason[n]) & 0xC0) == 0x80) --n;
  }
  std::string payload;
  payload.reserve(2 + n);
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.substr(0, n));
  return encode_frame(Opcode::kClose, payload);
}

}  // namespace chat::ws

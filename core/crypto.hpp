// Randomness, hashing and encodings, all from OpenSSL.
#pragma once

#include <string>
#include <string_view>

namespace chat::crypto {

// `n` bytes from the OS CSPRNG (RAND_bytes); throws std::runtime_error if it fails.
std::string random_bytes(size_t n);
// base64url without padding (RFC 4648 §5).
std::string base64url_encode(std::string_view bytes);
// Decodes base64url with or without padding; false on bad input.
bool base64url_decode(std::string_view text, std::string& out);
std::string base64_encode(std::string_view bytes);
std::string sha256_hex(std::string_view data);
// HMAC-SHA256 of `data` under `key` (RFC 2104), the raw 32 bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string sha1(std::string_view data);  // raw 20 bytes (the WebSocket handshake needs it)
// A URL-safe random token with `bytes` bytes of entropy.
std::string random_token(size_t bytes = 32);
// A random (version 4) UUID in lowercase text form.
std::string uuid_v4();
// True for a canonical lowercase-or-uppercase 8-4-4-4-12 hex UUID.
bool is_uuid(std::string_view s);

}  // namespace chat::crypto

// Access tokens: HS256 JWTs via libjwt 1.10, with the algorithm pinned and `exp` checked here
// (libjwt 1.10 trusts the header's alg for any HS* and never looks at exp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace chat::jwt {

struct Claims {
  std::string sub;  // user id
  std::string sid;  // session id (login to logout, kept across refreshes)
  std::string jti;  // unique per token
  int64_t iat = 0;
  int64_t exp = 0;
};

enum class Error { kNone, kMalformed, kBadSignature, kWrongAlgorithm, kNoExpiry, kExpired, kMissingClaim };

const char* error_name(Error e);

// Signs `claims` with HS256. Throws std::runtime_error if libjwt fails.
std::string encode(const std::string& secret, const Claims& claims);

// Verifies signature, algorithm (HS256 only), `exp` (> now) and the presence of sub/sid/jti.
// On failure returns nullopt and sets *why.
std::optional<Claims> decode(const std::string& secret, const std::string& token, int64_t now, Error* why = nullptr);

}  // namespace chat::jwt

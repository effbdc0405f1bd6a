// JWT wrapper over libjwt 1.10; the only file that includes jwt.h.
#include "core/jwt.hpp"

#include <jwt.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "core/crypto.hpp"
#include "core/json.hpp"

namespace chat::jwt {
namespace {

struct JwtDeleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }  // libjwt 1.10 has no jwt_free_str
};

const unsigned char* key_bytes(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

const char* error_name(Error e) {
  switch (e) {
    case Error::kNone: return "none";
    case Error::kMalformed: return "malformed";
    case Error::kBadSignature: return "bad_signature";
    case Error::kWrongAlgorithm: return "wrong_algorithm";
    case Error::kNoExpiry: return "no_expiry";
    case Error::kExpired: return "expired";
    case Error::kMissingClaim: return "missing_claim";
  }
  return "unknown";
}

std::string encode(const std::string& secret, const Claims& c) {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::runtime_error("jwt_new failed");
  JwtPtr j(raw);
  if (jwt_set_alg(j.get(), JWT_ALG_HS256, key_bytes(secret), static_cast<int>(secret.size())) != 0 ||
      jwt_add_grant(j.get(), "sub", c.sub.c_str()) != 0 || jwt_add_grant(j.get(), "sid", c.sid.c_str()) != 0 ||
      jwt_add_grant(j.get(), "jti", c.jti.c_str()) != 0 || jwt_add_grant_int(j.get(), "iat", c.iat) != 0 ||
      jwt_add_grant_int(j.get(), "exp", c.exp) != 0) {
    throw std::runtime_error("jwt grant failed");
  }
  std::unique_ptr<char, FreeDeleter> out(jwt_encode_str(j.get()));
  if (!out) throw std::runtime_error("jwt_encode_str failed");
  return std::string(out.get());
}

std::optional<Claims> decode(const std::string& secret, const std::string& token, int64_t now, Error* why) {
  auto fail = [&](Error e) -> std::optional<Claims> {
    if (why) *why = e;
    return std::nullopt;
  };
  if (token.empty() || token.size() > 8192) return fail(Error::kMalformed);
  // Read the header before libjwt does: the algorithm is pinned before any signature check, and a
  // refusal says why (libjwt answers EINVAL for everything).
  auto dot = token.find('.');
  if (dot == std::string::npos || token.find('.', dot + 1) == std::string::npos) return fail(Error::kMalformed);
  std::string header_text;
  if (!crypto::base64url_decode(std::string_view(token).substr(0, dot), header_text)) return fail(Error::kMalformed);
  auto header = json::Value::parse(header_text);
  if (!header || !json::is_object(header->get())) return fail(Error::kMalformed);
  if (json::as_string(json::field(header->get(), "alg")) != std::optional<std::string>("HS256")) {
    return fail(Error::kWrongAlgorithm);
  }
  jwt_t* raw = nullptr;
  // The key is always passed: with a NULL key libjwt 1.10 accepts alg "none".
  int rc = jwt_decode(&raw, token.c_str(), key_bytes(secret), static_cast<int>(secret.size()));
  JwtPtr j(raw);
  if (rc != 0 || !j) return fail(rc == EINVAL ? Error::kBadSignature : Error::kMalformed);
  // libjwt verifies an HS384/HS512 signature made with the same secret; only HS256 is ours.
  if (jwt_get_alg(j.get()) != JWT_ALG_HS256) return fail(Error::kWrongAlgorithm);
  errno = 0;
  long exp = jwt_get_grant_int(j.get(), "exp");
  if (errno != 0) return fail(Error::kNoExpiry);
  if (exp <= now) return fail(Error::kExpired);
  Claims c;
  c.exp = exp;
  errno = 0;
  long iat = jwt_get_grant_int(j.get(), "iat");
  c.iat = errno == 0 ? iat : 0;
  const char* sub = jwt_get_grant(j.get(), "sub");
  const char* sid = jwt_get_grant(j.get(), "sid");
  const char* jti = jwt_get_grant(j.get(), "jti");
  if (!sub || !sid || !jti) return fail(Error::kMissingClaim);
  c.sub = sub;
  c.sid = sid;
  c.jti = jti;
  if (why) *why = Error::kNone;
  return c;
}

}  // namespace chat::jwt

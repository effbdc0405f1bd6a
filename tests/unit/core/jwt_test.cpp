// Tests core/jwt.hpp: HS256 access tokens round-trip; other algorithms, tampering, bad keys and missing claims are refused.
#include "core/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "core/crypto.hpp"

namespace chat::jwt {
namespace {

const std::string kSecret = "unit-test-secret-0123456789abcdef0123456789";
constexpr int64_t kNow = 1'800'000'000;

Claims sample_claims() { return Claims{"user-1", "session-1", "token-1", kNow - 10, kNow + 600}; }

std::string b64(const std::string& s) { return crypto::base64url_encode(s); }

std::string hmac(const EVP_MD* md, const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// A token built by hand: header and payload JSON as given, signed with `md` (nullptr: empty signature).
std::string hand_token(const std::string& header, const std::string& payload, const EVP_MD* md,
                       const std::string& key = kSecret) {
  std::string signing_input = b64(header) + "." + b64(payload);
  return signing_input + "." + (md ? b64(hmac(md, key, signing_input)) : std::string());
}

std::string payload_with_exp(int64_t exp) {
  return R"({"sub":"user-1","sid":"session-1","jti":"token-1","iat":)" + std::to_string(kNow - 10) +
         R"(,"exp":)" + std::to_string(exp) + "}";
}

const std::string kHs256Header = R"({"alg":"HS256","typ":"JWT"})";

// Decodes and expects a refusal with `expected`.
void expect_refused(const std::string& token, Error expected, int64_t now = kNow) {
  Error why = Error::kNone;
  auto claims = decode(kSecret, token, now, &why);
  EXPECT_FALSE(claims.has_value()) << token;
  EXPECT_EQ(error_name(why), std::string(error_name(expected))) << token;
}

TEST(Jwt, AcceptsItsOwnTokenAndReturnsTheClaims) {
  std::string token = encode(kSecret, sample_claims());
  Error why = Error::kMalformed;
  auto c = decode(kSecret, token, kNow, &why);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(why, Error::kNone);
  EXPECT_EQ(c->sub, "user-1");
  EXPECT_EQ(c->sid, "session-1");
  EXPECT_EQ(c->jti, "token-1");
  EXPECT_EQ(c->iat, kNow - 10);
  EXPECT_EQ(c->exp, kNow + 600);
}

TEST(Jwt, OwnTokenHeaderNamesHs256) {
  std::string token = encode(kSecret, sample_claims());
  std::string header;
  ASSERT_TRUE(crypto::base64url_decode(token.substr(0, token.find('.')), header));
  EXPECT_NE(header.find("\"HS256\""), std::string::npos) << header;
}

TEST(Jwt, AcceptsAHandSignedHs256Token) {
  // Proves the hand-signing helper is right, so the refusals below are about the algorithm.
  auto c = decode(kSecret, hand_token(kHs256Header, payload_with_exp(kNow + 60), EVP_sha256()), kNow);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->sub, "user-1");
  EXPECT_EQ(c->exp, kNow + 60);
}

TEST(Jwt, RefusesAlgNone) {
  expect_refused(hand_token(R"({"alg":"none","typ":"JWT"})", payload_with_exp(kNow + 60), nullptr),
                 Error::kWrongAlgorithm);
}

TEST(Jwt, RefusesAlgNoneWithoutSignatureDot) {
  std::string t = b64(R"({"alg":"none"})") + "." + b64(payload_with_exp(kNow + 60));
  auto c = decode(kSecret, t, kNow);
  EXPECT_FALSE(c.has_value());
}

TEST(Jwt, RefusesHs384SignedWithTheRightSecret) {
  expect_refused(hand_token(R"({"alg":"HS384","typ":"JWT"})", payload_with_exp(kNow + 60), EVP_sha384()),
                 Error::kWrongAlgorithm);
}

TEST(Jwt, RefusesHs512SignedWithTheRightSecret) {
  expect_refused(hand_token(R"({"alg":"HS512","typ":"JWT"})", payload_with_exp(kNow + 60), EVP_sha512()),
                 Error::kWrongAlgorithm);
}

TEST(Jwt, RefusesATamperedPayload) {
  std::string token = encode(kSecret, sample_claims());
  size_t dot1 = token.find('.');
  size_t dot2 = token.find('.', dot1 + 1);
  std::string payload;
  ASSERT_TRUE(crypto::base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), payload));
  size_t at = payload.find("user-1");
  ASSERT_NE(at, std::string::npos) << payload;
  payload.replace(at, 6, "user-2");
  std::string forged = token.substr(0, dot1 + 1) + b64(payload) + token.substr(dot2);
  ASSERT_NE(forged, token);
  expect_refused(forged, Error::kBadSignature);
}

TEST(Jwt, RefusesATamperedSignature) {
  std::string token = encode(kSecret, sample_claims());
  char& last = token[token.size() - 2];
  last = last == 'A' ? 'B' : 'A';
  expect_refused(token, Error::kBadSignature);
}

TEST(Jwt, RefusesAWrongKey) {
  std::string token = encode("another-secret-another-secret-another-secret", sample_claims());
  expect_refused(token, Error::kBadSignature);
}

TEST(Jwt, RefusesATokenWithoutExp) {
  std::string payload = R"({"sub":"user-1","sid":"session-1","jti":"token-1","iat":1799999990})";
  expect_refused(hand_token(kHs256Header, payload, EVP_sha256()), Error::kNoExpiry);
}

TEST(Jwt, RefusesAnExpInThePast) {
  expect_refused(hand_token(kHs256Header, payload_with_exp(kNow - 1), EVP_sha256()), Error::kExpired);
  Claims c = sample_claims();
  c.exp = kNow - 3600;
  expect_refused(encode(kSecret, c), Error::kExpired);
}

TEST(Jwt, RefusesExpEqualToNow) {
  expect_refused(hand_token(kHs256Header, payload_with_exp(kNow), EVP_sha256()), Error::kExpired);
  // One second earlier the same token is still good.
  EXPECT_TRUE(decode(kSecret, hand_token(kHs256Header, payload_with_exp(kNow), EVP_sha256()), kNow - 1).has_value());
}

TEST(Jwt, RefusesMissingSub) {
  std::string p = R"({"sid":"session-1","jti":"token-1","exp":)" + std::to_string(kNow + 60) + "}";
  expect_refused(hand_token(kHs256Header, p, EVP_sha256()), Error::kMissingClaim);
}

TEST(Jwt, RefusesMissingSid) {
  std::string p = R"({"sub":"user-1","jti":"token-1","exp":)" + std::to_string(kNow + 60) + "}";
  expect_refused(hand_token(kHs256Header, p, EVP_sha256()), Error::kMissingClaim);
}

TEST(Jwt, RefusesMissingJti) {
  std::string p = R"({"sub":"user-1","sid":"session-1","exp":)" + std::to_string(kNow + 60) + "}";
  expect_refused(hand_token(kHs256Header, p, EVP_sha256()), Error::kMissingClaim);
}

TEST(Jwt, RefusesGarbage) {
  for (const char* g : {"garbage", "a.b.c", "...", "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9..",
                        "!!!.???.###", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln"}) {
    Error why = Error::kNone;
    EXPECT_FALSE(decode(kSecret, g, kNow, &why).has_value()) << g;
    EXPECT_NE(why, Error::kNone) << g;
  }
}

TEST(Jwt, RefusesGarbageAsMalformed) {
  expect_refused("garbage", Error::kMalformed);
  expect_refused("a.b.c", Error::kMalformed);
}

TEST(Jwt, RefusesAnEmptyString) { expect_refused("", Error::kMalformed); }

TEST(Jwt, RefusesAnOverlongToken) { expect_refused(std::string(9000, 'a'), Error::kMalformed); }

TEST(Jwt, ErrorNamesAreDistinct) {
  EXPECT_STREQ(error_name(Error::kNone), "none");
  EXPECT_STREQ(error_name(Error::kExpired), "expired");
  EXPECT_STRNE(error_name(Error::kBadSignature), error_name(Error::kWrongAlgorithm));
}

}  // namespace
}  // namespace chat::jwt

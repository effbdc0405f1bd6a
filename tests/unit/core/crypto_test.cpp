// Tests core/crypto.hpp: base64url, SHA-256/SHA-1 digests, UUIDv4 text form and random tokens.
#include "core/crypto.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace chat::crypto {
namespace {

TEST(Base64Url, KnownVectorsWithoutPadding) {
  // RFC 4648 §10 vectors, with the padding dropped.
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Url, UsesTheUrlAlphabet) {
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
  std::string out;
  ASSERT_TRUE(base64url_decode("-_8", out));
  EXPECT_EQ(out, "\xfb\xff");
}

TEST(Base64Url, RoundTripsLengthsZeroToFive) {
  const std::string bytes("\x00\xff\x10\xfe\x7f\x80", 6);
  for (size_t n = 0; n <= 5; ++n) {
    std::string in = bytes.substr(0, n);
    std::string enc = base64url_encode(in);
    EXPECT_EQ(enc.find('='), std::string::npos) << n;
    EXPECT_EQ(enc.find('+'), std::string::npos) << n;
    EXPECT_EQ(enc.find('/'), std::string::npos) << n;
    EXPECT_EQ(enc.size(), (n * 4 + 2) / 3) << n;
    std::string out = "stale";
    ASSERT_TRUE(base64url_decode(enc, out)) << n;
    EXPECT_EQ(out, in) << n;
  }
}

TEST(Base64Url, RoundTripsRandomBytes) {
  for (size_t n : {1u, 16u, 31u, 32u, 33u, 100u}) {
    std::string in = random_bytes(n);
    std::string out;
    ASSERT_TRUE(base64url_decode(base64url_encode(in), out));
    EXPECT_EQ(out, in);
  }
}

TEST(Base64Url, DecodeAcceptsPadding) {
  std::string out;
  ASSERT_TRUE(base64url_decode("Zm8=", out));
  EXPECT_EQ(out, "fo");
  ASSERT_TRUE(base64url_decode("Zg==", out));
  EXPECT_EQ(out, "f");
}

TEST(Base64Url, DecodeRefusesBadInput) {
  std::string out;
  EXPECT_FALSE(base64url_decode("Zm9v!", out));
  EXPECT_FALSE(base64url_decode("Zm 9v", out));
  EXPECT_FALSE(base64url_decode("Zm9v\n", out));
  EXPECT_FALSE(base64url_decode("Zm=9v", out));
  EXPECT_FALSE(base64url_decode("Z", out));       // one character cannot encode a byte
  EXPECT_FALSE(base64url_decode("Zm9vY", out));
  EXPECT_FALSE(base64url_decode("\xC3\xA9", out));
}

TEST(Sha, Sha256HexOfAbc) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha, Sha1IsRawTwentyBytes) {
  std::string d = sha1("abc");
  ASSERT_EQ(d.size(), 20u);
  EXPECT_EQ(base64_encode(d), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
}

// RFC 4231 §4.2 and §4.3 (test cases 1 and 2).
TEST(Hmac, Sha256KnownVectors) {
  auto hex = [](const std::string& raw) {
    std::string out;
    for (unsigned char c : raw) {
      out.push_back("0123456789abcdef"[c >> 4]);
      out.push_back("0123456789abcdef"[c & 15]);
    }
    return out;
  };
  EXPECT_EQ(hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Uuid, V4Format) {
  for (int i = 0; i < 50; ++i) {
    std::string u = uuid_v4();
    ASSERT_EQ(u.size(), 36u) << u;
    EXPECT_TRUE(is_uuid(u)) << u;
    EXPECT_EQ(u[8], '-');
    EXPECT_EQ(u[13], '-');
    EXPECT_EQ(u[18], '-');
    EXPECT_EQ(u[23], '-');
    EXPECT_EQ(u[14], '4') << u;  // version
    EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << u;  // RFC 4122 variant
    for (char c : u) EXPECT_TRUE(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << u;
  }
}

TEST(Uuid, V4IsUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) seen.insert(uuid_v4());
  EXPECT_EQ(seen.size(), 200u);
}

TEST(Uuid, IsUuid) {
  EXPECT_TRUE(is_uuid("1b4e28ba-2fa1-11d2-883f-0016d3cca427"));
  EXPECT_TRUE(is_uuid("1B4E28BA-2FA1-11D2-883F-0016D3CCA427"));
  EXPECT_FALSE(is_uuid(""));
  EXPECT_FALSE(is_uuid("1b4e28ba2fa111d2883f0016d3cca427"));
  EXPECT_FALSE(is_uuid("1b4e28ba-2fa1-11d2-883f-0016d3cca42"));
  EXPECT_FALSE(is_uuid("1b4e28ba-2fa1-11d2-883f-0016d3cca4277"));
  EXPECT_FALSE(is_uuid("1b4e28ba-2fa1-11d2-883f-0016d3cca42g"));
  EXPECT_FALSE(is_uuid("1b4e28ba-2fa1-11d2-883f_0016d3cca427"));
  EXPECT_FALSE(is_uuid("{1b4e28ba-2fa1-11d2-883f-0016d3cca427}"));
  EXPECT_FALSE(is_uuid(" 1b4e28ba-2fa1-11d2-883f-0016d3cca427"));
}

TEST(Random, TokensAreDistinctAndUrlSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string t = random_token();
    EXPECT_EQ(t.size(), 43u);  // 32 bytes in base64url without padding
    EXPECT_EQ(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos)
        << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(random_token(12).size(), 16u);
}

TEST(Random, BytesHaveTheAskedLength) {
  EXPECT_EQ(random_bytes(0).size(), 0u);
  EXPECT_EQ(random_bytes(16).size(), 16u);
  EXPECT_NE(random_bytes(16), random_bytes(16));
}

}  // namespace
}  // namespace chat::crypto

// Tests core/password.hpp: Argon2id PHC hashing at the default parameters and verification of other implementations' hashes.
#include "core/password.hpp"

#include <gtest/gtest.h>

#include <string>

namespace chat::password {
namespace {

// Generated with Debian's python3-argon2 21.1.0 (argon2-cffi), e.g.
//   argon2.PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash('correct horse')
const std::string kPyArgon2id = "$argon2id$v=19$m=65536,t=3,p=4$Of/sEttqbxO37Ru8+GlrDw$txuyp10uN88HjgwaU/n2rg";
// ... type=argon2.Type.I
const std::string kPyArgon2i = "$argon2i$v=19$m=65536,t=3,p=4$igztcaJMJ3YfbzolaXzBxA$Jeakx4zSybaonXIfR6klvQ";
// time_cost=1, memory_cost=8, parallelism=1
const std::string kPyArgon2idLowMem = "$argon2id$v=19$m=8,t=1,p=1$SBtmH3IBQDy8A7Mqudqtjg$UFoj3l/azlOMj1Bj2R5IaA";
// time_cost=2, memory_cost=1024, parallelism=2, type=argon2.Type.I
const std::string kPyArgon2iLowMem = "$argon2i$v=19$m=1024,t=2,p=2$OyquPTUn7e7X2oz/k0/zsQ$TiSYrhYxBS7VTdYn/kRL9Q";
// time_cost=1, memory_cost=64, parallelism=1, type=argon2.Type.D
const std::string kPyArgon2d = "$argon2d$v=19$m=64,t=1,p=1$AWm0kLoSqd2EGJM+Sj/mBA$AOp1v2jDCbvJvZZYxop7Dw";
// time_cost=2, memory_cost=256, parallelism=1, hash_len=16, salt_len=8, password 'pässwörd' (UTF-8)
const std::string kPyShortSaltUtf8 = "$argon2id$v=19$m=256,t=2,p=1$CsaJxh8tmNg$BCaxBg1sx1Dr5knPpV6+HA";

TEST(Password, HashUsesArgon2idAtTheDefaultParameters) {
  std::string h = hash("correct horse battery", Argon2Params{});
  EXPECT_EQ(h.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << h;
  EXPECT_TRUE(verify(h, "correct horse battery"));
}

TEST(Password, HashIsSaltedEachTime) {
  Argon2Params fast{1, 8, 1};
  std::string a = hash("same password", fast);
  std::string b = hash("same password", fast);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("$argon2id$v=19$m=8,t=1,p=1$", 0), 0u) << a;
  EXPECT_TRUE(verify(a, "same password"));
  EXPECT_TRUE(verify(b, "same password"));
}

TEST(Password, WrongPasswordFails) {
  std::string h = hash("correct horse battery", Argon2Params{});
  EXPECT_FALSE(verify(h, "correct horse batterY"));
  EXPECT_FALSE(verify(h, ""));
  EXPECT_FALSE(verify(h, "correct horse battery "));
}

TEST(Password, VerifiesPythonArgon2idAtOtherParameters) {
  EXPECT_TRUE(verify(kPyArgon2id, "correct horse"));
  EXPECT_FALSE(verify(kPyArgon2id, "correct horsE"));
}

TEST(Password, VerifiesPythonArgon2i) {
  EXPECT_TRUE(verify(kPyArgon2i, "correct horse"));
  EXPECT_FALSE(verify(kPyArgon2i, "wrong horse"));
}

TEST(Password, VerifiesPythonLowMemoryVariants) {
  EXPECT_TRUE(verify(kPyArgon2idLowMem, "correct horse"));
  EXPECT_FALSE(verify(kPyArgon2idLowMem, "correct horses"));
  EXPECT_TRUE(verify(kPyArgon2iLowMem, "correct horse"));
  EXPECT_FALSE(verify(kPyArgon2iLowMem, "Correct horse"));
}

TEST(Password, VerifiesPythonArgon2d) {
  EXPECT_TRUE(verify(kPyArgon2d, "correct horse"));
  EXPECT_FALSE(verify(kPyArgon2d, "correct"));
}

TEST(Password, VerifiesShortSaltAndUtf8Password) {
  EXPECT_TRUE(verify(kPyShortSaltUtf8, "p\xC3\xA4ssw\xC3\xB6rd"));
  EXPECT_FALSE(verify(kPyShortSaltUtf8, "passwort"));
}

TEST(Password, TypeInThePrefixMatters) {
  // The argon2i hash relabelled as argon2id must not verify: the variant is part of the hash.
  std::string relabelled = "$argon2id$" + kPyArgon2i.substr(std::string("$argon2i$").size());
  EXPECT_FALSE(verify(relabelled, "correct horse"));
}

TEST(Password, RefusesNonArgon2StringsWithoutCrashing) {
  EXPECT_FALSE(verify("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "rasmuslerdorf"));
  EXPECT_FALSE(verify("", "anything"));
  EXPECT_FALSE(verify("", ""));
  EXPECT_FALSE(verify("plaintext-password", "plaintext-password"));
  EXPECT_FALSE(verify("$argon2id$", "correct horse"));
  EXPECT_FALSE(verify("$argon2id$v=19$m=65536,t=3,p=4$", "correct horse"));
  EXPECT_FALSE(verify("$argon2id$v=19$m=65536,t=3,p=4$Of/sEttqbxO37Ru8+GlrDw$", "correct horse"));
}

TEST(Password, BurnVerifyDoesNotThrow) { EXPECT_NO_THROW(burn_verify("whatever")); }

}  // namespace
}  // namespace chat::password

// Tests domain/accounts.hpp: the username rule and email normalization of docs/api.md#accounts-and-users.
#include "domain/accounts.hpp"

#include <gtest/gtest.h>

#include <string>

namespace chat::domain {
namespace {

TEST(ValidUsername, AcceptsLettersDigitsAndUnderscoreDotDash) {
  for (const char* name : {"abc", "alice", "Bob_99", "j.doe", "the-admin", "a.b-c_d", "007", "___",
                           "abcdefghijklmnopqrstuvwxyz012345"}) {
    EXPECT_TRUE(valid_username(name)) << name;
  }
}

TEST(ValidUsername, LengthIsThreeToThirtyTwo) {
  EXPECT_FALSE(valid_username(""));
  EXPECT_FALSE(valid_username("a"));
  EXPECT_FALSE(valid_username("ab"));
  EXPECT_TRUE(valid_username("abc"));
  EXPECT_TRUE(valid_username(std::string(32, 'x')));
  EXPECT_FALSE(valid_username(std::string(33, 'x')));
}

TEST(ValidUsername, RefusesSpacesAtAndOtherPunctuation) {
  for (const char* name : {"john doe", " alice", "alice ", "alice@example.com", "al!ce", "al/ce", "al\\ce",
                           "a'b'c", "a\"bc", "a<b>c", "a,bc", "a+bc", "tab\tname", "new\nline", "semi;colon"}) {
    EXPECT_FALSE(valid_username(name)) << name;
  }
}

TEST(ValidUsername, CountsCharactersNotBytes) {
  // Two letters of two bytes each are two characters: too short, although four bytes long.
  EXPECT_FALSE(valid_username("\xC3\xA9\xC3\xA9"));
}

TEST(ValidUsername, AcceptsLettersOfOtherScripts) {
  EXPECT_TRUE(valid_username("jos\xC3\xA9"));                  // josé
  EXPECT_TRUE(valid_username("\xD0\xB8\xD0\xB2\xD0\xB0\xD0\xBD"));  // иван
}

TEST(ValidUsername, RefusesUnicodeSpacesAndInvisibleCharacters) {
  // docs/api.md#accounts-and-users: letters, digits, '_', '.', '-' only. These are not letters.
  EXPECT_FALSE(valid_username("ali\xC2\xA0" "ce"));      // U+00A0 no-break space
  EXPECT_FALSE(valid_username("ali\xE3\x80\x80" "ce"));  // U+3000 ideographic space
  EXPECT_FALSE(valid_username("ali\xE2\x80\x8B" "ce"));  // U+200B zero-width space
  EXPECT_FALSE(valid_username("\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"));  // three emoji
}

TEST(NormalizeEmail, LowercasesOnlyTheDomain) {
  EXPECT_EQ(normalize_email("John.Doe@Example.COM"), std::optional<std::string>("John.Doe@example.com"));
  EXPECT_EQ(normalize_email("alice@example.com"), std::optional<std::string>("alice@example.com"));
  EXPECT_EQ(normalize_email("a+tag@Mail.Example.Org"), std::optional<std::string>("a+tag@mail.example.org"));
}

TEST(NormalizeEmail, RefusesWithoutAt) {
  EXPECT_EQ(normalize_email("alice.example.com"), std::nullopt);
  EXPECT_EQ(normalize_email(""), std::nullopt);
}

TEST(NormalizeEmail, RefusesADomainWithoutADot) {
  EXPECT_EQ(normalize_email("alice@localhost"), std::nullopt);
}

TEST(NormalizeEmail, RefusesAnEmptyLocalPartOrDomain) {
  EXPECT_EQ(normalize_email("@example.com"), std::nullopt);
  EXPECT_EQ(normalize_email("alice@"), std::nullopt);
}

TEST(NormalizeEmail, RefusesConsecutiveDots) {
  EXPECT_EQ(normalize_email("john..doe@example.com"), std::nullopt);
  EXPECT_EQ(normalize_email("john@example..com"), std::nullopt);
  EXPECT_EQ(normalize_email(".john@example.com"), std::nullopt);
  EXPECT_EQ(normalize_email("john.@example.com"), std::nullopt);
  EXPECT_EQ(normalize_email("john@.example.com"), std::nullopt);
  EXPECT_EQ(normalize_email("john@example.com."), std::nullopt);
}

TEST(NormalizeEmail, RefusesSpaces) {
  EXPECT_EQ(normalize_email("john doe@example.com"), std::nullopt);
  EXPECT_EQ(normalize_email("john@exa mple.com"), std::nullopt);
  EXPECT_EQ(normalize_email(" john@example.com"), std::nullopt);
  EXPECT_EQ(normalize_email("john@example.com "), std::nullopt);
}

TEST(NormalizeEmail, RefusesTwoAtsAndBadDomainLabels) {
  EXPECT_EQ(normalize_email("a@b@example.com"), std::nullopt);
  EXPECT_EQ(normalize_email("john@-example.com"), std::nullopt);
  EXPECT_EQ(normalize_email("john@example-.com"), std::nullopt);
  EXPECT_EQ(normalize_email("john@exa_mple.com"), std::nullopt);
}

TEST(NormalizeEmail, RefusesOverlongParts) {
  EXPECT_EQ(normalize_email(std::string(65, 'a') + "@example.com"), std::nullopt);
  EXPECT_TRUE(normalize_email(std::string(64, 'a') + "@example.com").has_value());
  EXPECT_EQ(normalize_email("a@" + std::string(250, 'b') + ".com"), std::nullopt);
}

}  // namespace
}  // namespace chat::domain

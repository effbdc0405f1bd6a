// Tests core/limits.hpp: `--schema` prints each limit as the validators use it.
#include "core/limits.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "core/json.hpp"

namespace chat::limits {
namespace {

double number_at(const json::Value& v, const char* section, const char* name, const char* key) {
  const cJSON* n = json::field(json::field(json::field(v.get(), section), name), key);
  std::optional<double> d = json::as_number(n);
  EXPECT_TRUE(d.has_value()) << section << "." << name << "." << key;
  return d.value_or(-1);
}

TEST(Limits, JsonCarriesTheConstants) {
  std::optional<json::Value> v = json::Value::parse(limits_json());
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(json::as_number(json::field(v->get(), "body_max_bytes")), static_cast<double>(kBodyMaxBytes));
  EXPECT_EQ(json::as_number(json::field(v->get(), "emoji_max_bytes")), static_cast<double>(kEmojiMaxBytes));
  EXPECT_EQ(number_at(*v, "text", "message_content", "max"), static_cast<double>(kMessageContent.max));
  EXPECT_EQ(number_at(*v, "text", "username", "min"), static_cast<double>(kUsername.min));
  EXPECT_EQ(number_at(*v, "text", "password", "max"), static_cast<double>(kPassword.max));
  EXPECT_EQ(number_at(*v, "pages", "channels", "max"), static_cast<double>(kChannelsPage.max));
  EXPECT_EQ(number_at(*v, "pages", "conversations", "default"), static_cast<double>(kConversationsPage.fallback));
}

}  // namespace
}  // namespace chat::limits

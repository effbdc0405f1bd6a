// The input limits of the API, defined once: the validators read them, and `chat-<group> --schema` prints them
// for docs/gen_openapi.py, so the document states what the server enforces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace chat::limits {

// A text field's length in characters (code points), after trimming where the reader trims.
struct Text {
  size_t min;
  size_t max;
};

// A `limit` query parameter: its range and the page size when it is absent.
struct Page {
  int64_t min;
  int64_t max;
  int64_t fallback;
};

// docs/api.md#conventions; nginx's client_max_body_size says the same.
inline constexpr size_t kBodyMaxBytes = 1024 * 1024;

inline constexpr Text kUsername{3, 32};
inline constexpr Text kEmail{1, 254};  // RFC 5321's longest forward path, minus the angle brackets
inline constexpr Text kPassword{8, 256};
inline constexpr Text kAvatar{0, 2048};
inline constexpr Text kChannelName{1, 80};
inline constexpr Text kChannelDescription{0, 1000};
inline constexpr Text kMessageContent{1, 4000};
inline constexpr Text kMediaUrl{0, 2048};
inline constexpr Text kIdempotencyKey{1, 128};  // the Idempotency-Key header and client_msg_id: one namespace
inline constexpr Text kConversationTitle{0, 200};
inline constexpr Text kModerationReason{0, 500};
// An emoji is measured in bytes: one "character" a user sees may be many code points (ZWJ sequences).
inline constexpr size_t kEmojiMaxBytes = 64;

inline constexpr Page kUsersPage{1, 100, 50};
inline constexpr Page kUserSearchPage{1, 100, 20};
inline constexpr Page kChannelsPage{1, 1000, 200};
inline constexpr Page kHistoryPage{1, 100, 50};
inline constexpr Page kMentionsPage{1, 100, 50};
inline constexpr Page kRepliesPage{1, 100, 50};
inline constexpr Page kMessageSearchPage{1, 100, 20};
inline constexpr Page kConversationsPage{1, 100, 100};
inline constexpr Page kConversationMessagesPage{1, 100, 20};
inline constexpr Page kAuditLogPage{1, 100, 50};

// Every limit above as one JSON object (what `--schema` prints): {"body_max_bytes": ..., "text": {"username":
// {"min": 3, "max": 32}, ...}, "emoji_max_bytes": 64, "pages": {"users": {"min": 1, "max": 100, "default": 50}, ...}}.
std::string limits_json();

}  // namespace chat::limits

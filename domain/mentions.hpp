// @mentions in message content (docs/api.md#messages): which names a message mentions.
#pragma once

#include <string>
#include <vector>

namespace chat::domain {

// The names mentioned, each once, in order of appearance (as written; compare case-insensitively). A mention is an '@' at the start
// or after a character that is not a letter, digit or '_', followed by letters, digits, '_', '.', '-'
// (trailing '.' and '-' are not part of it), so "x@bob.com" mentions nobody. Whether a name is a user
// who may see the conversation is decided by the caller against the database.
std::vector<std::string> parse_mentions(const std::string& content);

}  // namespace chat::domain

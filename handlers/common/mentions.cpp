// Mention scanning over UTF-8 bytes: every non-ASCII byte counts as a letter (usernames may be any script).
#include "handlers/common/mentions.hpp"

#include <algorithm>
#include <cctype>

namespace chat::handlers {
namespace {

bool word_char(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }
bool name_char(unsigned char c) { return word_char(c) || c == '.' || c == '-'; }

}  // namespace

std::vector<std::string> parse_mentions(const std::string& content) {
  std::vector<std::string> out;
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] != '@') continue;
    if (i > 0 && word_char(static_cast<unsigned char>(content[i - 1]))) continue;
    size_t end = i + 1;
    while (end < content.size() && name_char(static_cast<unsigned char>(content[end]))) ++end;
    size_t stop = end;
    while (stop > i + 1 && (content[stop - 1] == '.' || content[stop - 1] == '-')) --stop;
    if (stop > i + 1) {
      std::string name = content.substr(i + 1, stop - i - 1);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
    i = end - 1;
  }
  return out;
}

}  // namespace chat::handlers

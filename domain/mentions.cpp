// Mention scanning over UTF-8: a name is letters and digits of any script, '_', '.', '-' (the
// username rule), so "@josé," mentions josé and "@bob’s" mentions bob.
#include "domain/mentions.hpp"

#include <algorithm>

#include "core/validate.hpp"

namespace chat::domain {
namespace {

bool word_char(uint32_t cp) { return http::is_letter_or_digit(cp) || cp == '_'; }
bool name_char(uint32_t cp) { return word_char(cp) || cp == '.' || cp == '-'; }

}  // namespace

std::vector<std::string> parse_mentions(const std::string& content) {
  std::vector<std::string> out;
  uint32_t prev = ' ';
  for (size_t i = 0; i < content.size();) {
    uint32_t cp = 0;
    size_t len = http::utf8_next(content, i, &cp);
    if (cp != '@' || word_char(prev)) {
      prev = cp;
      i += len;
      continue;
    }
    size_t start = i + 1;
    size_t end = start;
    size_t stop = start;  // the end without trailing '.' and '-'
    prev = '@';
    while (end < content.size()) {
      uint32_t c = 0;
      size_t l = http::utf8_next(content, end, &c);
      if (!name_char(c)) break;
      end += l;
      prev = c;  // "@a@b": the second '@' follows a letter, so it is no mention
      if (c != '.' && c != '-') stop = end;
    }
    if (stop > start) {
      // Compared with lower(username) in SQL, which also folds non-ASCII letters.
      std::string name = content.substr(start, stop - start);
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
    i = std::max(end, i + 1);
  }
  return out;
}

}  // namespace chat::domain

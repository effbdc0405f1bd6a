// RFC 3339 formatting: the contract's clients parse exactly six fractional digits and a `Z`.
#include "core/timefmt.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace chat {

std::string pg_to_rfc3339(std::string_view pg) {
  // "YYYY-MM-DD HH:MM:SS[.ffffff]+00" (the session TimeZone is UTC, so the offset is always +00).
  if (pg.size() < 19 || pg[10] != ' ') return std::string(pg);
  std::string out(pg.substr(0, 19));
  out[10] = 'T';
  std::string frac;
  size_t i = 19;
  if (i < pg.size() && pg[i] == '.') {
    ++i;
    while (i < pg.size() && pg[i] >= '0' && pg[i] <= '9') frac.push_back(pg[i++]);
  }
  frac.resize(6, '0');
  out.push_back('.');
  out += frac;
  out.push_back('Z');
  return out;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339_from_micros(int64_t micros) {
  std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(micros % 1000000));
  return buf;
}

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339_now() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return rfc3339_from_micros(us);
}

bool is_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), RFC 3339 §5.6 (a space for the T is accepted too)
  auto digits = [&s](size_t at, size_t n) {
    if (at + n > s.size()) return false;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
  };
  if (!(digits(0, 4) && s.size() > 19 && s[4] == '-' && digits(5, 2) && s[7] == '-' && digits(8, 2) &&
        (s[10] == 'T' || s[10] == 't' || s[10] == ' ') && digits(11, 2) && s[13] == ':' && digits(14, 2) &&
        s[16] == ':' && digits(17, 2))) {
    return false;
  }
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start || i - start > 9) return false;
  }
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == s.size();
  return i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && digits(i + 1, 2) && s[i + 3] == ':' && digits(i + 4, 2);
}

}  // namespace chat

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

std::string rfc3339_now() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return rfc3339_from_micros(us);
}

}  // namespace chat

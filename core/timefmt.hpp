// Timestamps on the wire: RFC 3339 UTC with microseconds and `Z`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace chat {

// Turns PostgreSQL's text form of a timestamptz in a UTC session ("2026-11-21 22:23:17.3719+00")
// into "2026-11-21T22:23:17.371900Z". Returns the input unchanged if it does not look like one.
std::string pg_to_rfc3339(std::string_view pg);

// Seconds since the Unix epoch, now.
int64_t unix_now();
// Milliseconds since the Unix epoch, now (wall clock: comparable across processes and with PostgreSQL's now()).
int64_t unix_now_ms();
// Milliseconds of a monotonic clock (steady: for timeouts and intervals inside one process, never for timestamps).
int64_t steady_now_ms();

// The given instant as RFC 3339 UTC with microseconds.
std::string rfc3339_from_micros(int64_t micros_since_epoch);
std::string rfc3339_now();

// Whether `s` is an RFC 3339 date-time with an offset (Z or ±HH:MM), as query parameters give time ranges.
bool is_rfc3339(std::string_view s);

}  // namespace chat

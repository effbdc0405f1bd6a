// GCRA in one Lua script, so the read-modify-write of the bucket is atomic across processes.
#include "core/rate_limit.hpp"

#include "core/log.hpp"

namespace chat {
namespace {

// KEYS[1]: the bucket; ARGV[1]: rate per second; ARGV[2]: burst. The theoretical arrival time (TAT)
// advances by one interval per request; a request is refused while TAT - now > burst * interval.
constexpr const char* kScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = 1000000 / tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2]) * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return math.ceil((tat - now - tolerance) / 1000000)
end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return 0
)lua";

}  // namespace

std::optional<int> take_token(redis::Client& redis, const std::string& key, int rate, int burst) {
  try {
    redis::Reply r = redis.command({"EVAL", kScript, "1", key, std::to_string(rate), std::to_string(burst)});
    if (r.is_error()) {
      log::warn("rate_limit_script_error", {{"error", r.str()}});
      return std::nullopt;
    }
    if (r.integer() > 0) return static_cast<int>(r.integer());
    return std::nullopt;
  } catch (const redis::RedisError& e) {
    log::warn("rate_limit_unavailable", {{"error", e.what()}});
    return std::nullopt;
  }
}

}  // namespace chat

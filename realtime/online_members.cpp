// The members from PostgreSQL (domain/membership), their expiries from presence:online (stream::kPresence)
// in one ZMSCORE.
#include "realtime/online_members.hpp"

#include "core/stream.hpp"
#include "core/timefmt.hpp"
#include "domain/membership.hpp"

namespace chat::realtime {

std::vector<std::string> online_members(Context& ctx, const std::string& conversation_id) {
  std::vector<std::string> members = domain::member_ids_of(ctx, conversation_id);
  if (members.empty()) return {};
  std::vector<std::string> args{"ZMSCORE", stream::kPresence};
  args.insert(args.end(), members.begin(), members.end());
  redis::Reply scores = ctx.redis.command(args);
  std::vector<std::string> online;
  const int64_t now = unix_now_ms();
  for (size_t i = 0; i < members.size() && i < scores.size(); ++i) {
    redis::Reply s = scores.element(i);
    if (s.is_nil()) continue;
    // A score is an expiry; a stale one belongs to a daemon that died and the sweep has not run yet.
    if (std::stod(s.str()) > static_cast<double>(now)) online.push_back(members[i]);
  }
  return online;
}

}  // namespace chat::realtime

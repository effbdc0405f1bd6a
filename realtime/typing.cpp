// Typing state with its 10 s expiry (docs/api.md#typing).
#include "realtime/typing.hpp"

namespace chat::realtime {

void TypingTracker::set(const std::string& user_id, const std::string& username, const std::string& conversation_id,
                        bool is_typing, int64_t now_ms) {
  auto key = std::make_pair(user_id, conversation_id);
  if (!is_typing) {
    typing_.erase(key);
    return;
  }
  State& s = typing_[key];
  s.username = username;
  s.deadline_ms = now_ms + kTimeoutMs;
}

std::vector<TypingTracker::Entry> TypingTracker::expire(int64_t now_ms) {
  std::vector<Entry> out;
  for (auto it = typing_.begin(); it != typing_.end();) {
    if (it->second.deadline_ms <= now_ms) {
      out.push_back(Entry{it->first.first, it->second.username, it->first.second});
      it = typing_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<TypingTracker::Entry> TypingTracker::end_user(const std::string& user_id) {
  std::vector<Entry> out;
  auto it = typing_.lower_bound(std::make_pair(user_id, std::string()));
  while (it != typing_.end() && it->first.first == user_id) {
    out.push_back(Entry{it->first.first, it->second.username, it->first.second});
    it = typing_.erase(it);
  }
  return out;
}

std::optional<TypingTracker::Entry> TypingTracker::end(const std::string& user_id,
                                                       const std::string& conversation_id) {
  auto it = typing_.find(std::make_pair(user_id, conversation_id));
  if (it == typing_.end()) return std::nullopt;
  Entry e{user_id, it->second.username, conversation_id};
  typing_.erase(it);
  return e;
}

}  // namespace chat::realtime

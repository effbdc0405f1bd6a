// Who is typing where, for the typists connected to this daemon: a `true` lasts 10 s after the last
// `true` (docs/api.md#typing), and ends early on `false`, a leave, or the typist's last socket closing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace chat::realtime {

class TypingTracker {
 public:
  static constexpr int64_t kTimeoutMs = 10'000;

  struct Entry {
    std::string user_id;
    std::string username;
    std::string conversation_id;
  };

  // Records a typing_indicator from a local socket: true starts or extends, false ends.
  void set(const std::string& user_id, const std::string& username, const std::string& conversation_id,
           bool is_typing, int64_t now_ms);
  // The typists whose 10 s ran out (they are forgotten): the others must get is_typing false.
  std::vector<Entry> expire(int64_t now_ms);
  // Ends every typing of a user (its last socket here closed).
  std::vector<Entry> end_user(const std::string& user_id);
  // Ends one typing (the user left or was removed); nullopt when the user was not typing there.
  std::optional<Entry> end(const std::string& user_id, const std::string& conversation_id);
  size_t size() const { return typing_.size(); }

 private:
  struct State {
    std::string username;
    int64_t deadline_ms = 0;
  };
  std::map<std::pair<std::string, std::string>, State> typing_;  // (user, conversation)
};

}  // namespace chat::realtime

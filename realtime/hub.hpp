// Who gets what on this daemon: local sockets by user, session and conversation, per-socket left
// channels, and the routing of stream events and ephemeral signals (docs/events.md). No I/O: frames
// go to a Sink, so the routing is tested without sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/stream.hpp"
#include "realtime/stream_event.hpp"

namespace chat::realtime {

// Where the hub puts frames: the server queues them on the socket with that id.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void send(uint64_t conn_id, const Frame& frame) = 0;
};

// A pub/sub message of chat:ephemeral (docs/events.md §3), parsed by stream::parse.
using stream::Ephemeral;

struct SocketInfo {
  uint64_t id = 0;
  std::string user_id;
  std::string username;
  std::string session_id;
  std::unordered_set<std::string> left;  // conversations this socket asked not to receive (leave_channel)
  StreamId deliver_after;  // stream events up to this id were replayed already (a resume from a newer id)
};

// (user, conversation) pairs whose membership just ended on this daemon: their typing ends.
using Removal = std::pair<std::string, std::string>;

class Hub {
 public:
  explicit Hub(Sink& sink) : sink_(sink) {}

  // Registers a socket. When the user has no other socket here, `conversations` (loaded from
  // PostgreSQL) becomes the user's membership, corrected by `since`: membership events newer than the
  // position the load started at (so a join that raced the load is not missed). Otherwise the live
  // membership the hub already follows wins. Returns true when this is the user's first local socket.
  bool add_socket(uint64_t conn, const std::string& user_id, const std::string& username,
                  const std::string& session_id, const std::vector<std::string>& conversations,
                  const std::vector<EventPtr>& since);
  // Forgets a socket; returns true when it was the user's last local socket (the user is forgotten too).
  bool remove_socket(uint64_t conn);

  const SocketInfo* socket(uint64_t conn) const;
  bool is_member(const std::string& user_id, const std::string& conversation_id) const;
  // The user's conversations as the hub knows them (empty for a user with no local socket).
  std::set<std::string> conversations_of(const std::string& user_id) const;
  // Local users who are members of the conversation.
  std::vector<std::string> local_members(const std::string& conversation_id) const;
  std::vector<uint64_t> sockets_of_user(const std::string& user_id) const;
  std::vector<uint64_t> sockets_of_session(const std::string& session_id) const;
  std::vector<uint64_t> all_sockets() const;
  std::vector<std::string> local_users() const;
  size_t socket_count() const { return sockets_.size(); }
  size_t user_count() const { return users_.size(); }

  // join_channel: false when the user is not a member (access_denied). leave_channel: always allowed.
  bool join(uint64_t conn, const std::string& conversation_id);
  void leave(uint64_t conn, const std::string& conversation_id);
  // Live stream events up to `id` are not delivered to this socket (it resumed from a newer id).
  void set_deliver_after(uint64_t conn, StreamId id);

  // Delivers a stream event to its local recipients and applies its membership change: adds before
  // delivering (the joiner gets its user_joined), removes after (the leaver gets its user_left).
  // Returns the memberships it ended. Duplicates are skipped.
  std::vector<Removal> route(const StreamEvent& e);
  // Delivers an ephemeral signal (already encoded as `frame`).
  void route_ephemeral(const Ephemeral& m, const Frame& frame);
  // Sends `frame` to every socket (channel_created to everyone, shutdown notices).
  void broadcast(const Frame& frame);

 private:
  struct UserEntry {
    std::string username;
    std::unordered_set<uint64_t> sockets;
    std::unordered_set<std::string> conversations;
  };

  void add_member(const std::string& user_id, const std::string& conversation_id);
  void remove_member(const std::string& user_id, const std::string& conversation_id);
  // Applies a membership event to a local user only (no delivery).
  void apply_membership(const StreamEvent& e, const std::string& user_id);

  // Looks a user up by std::string_view without building a std::string (routing does it per recipient).
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const noexcept { return std::hash<std::string_view>{}(id); }
  };

  Sink& sink_;
  std::unordered_map<uint64_t, SocketInfo> sockets_;
  std::unordered_map<std::string, UserEntry, IdHash, std::equal_to<>> users_;
  std::unordered_map<std::string, std::unordered_set<std::string>> members_;  // conversation → local users
  std::unordered_map<std::string, std::unordered_set<uint64_t>> sessions_;
};

}  // namespace chat::realtime

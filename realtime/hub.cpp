// Routing of stream events and ephemeral signals to local sockets (docs/events.md §1, §3).
#include "realtime/hub.hpp"

#include <unordered_set>

namespace chat::realtime {

bool Hub::add_socket(uint64_t conn, const std::string& user_id, const std::string& username,
                     const std::string& session_id, const std::vector<std::string>& conversations,
                     const std::vector<EventPtr>& since) {
  auto [it, first] = users_.try_emplace(user_id);
  UserEntry& u = it->second;
  u.username = username;
  if (first) {
    for (const auto& c : conversations) add_member(user_id, c);
    for (const auto& e : since) {
      if (!e->duplicate && e->changes_membership_of(user_id)) apply_membership(*e, user_id);
    }
  }
  u.sockets.insert(conn);
  SocketInfo& s = sockets_[conn];
  s.id = conn;
  s.user_id = user_id;
  s.username = username;
  s.session_id = session_id;
  sessions_[session_id].insert(conn);
  return first;
}

bool Hub::remove_socket(uint64_t conn) {
  auto it = sockets_.find(conn);
  if (it == sockets_.end()) return false;
  const std::string user_id = it->second.user_id;
  if (auto s = sessions_.find(it->second.session_id); s != sessions_.end()) {
    s->second.erase(conn);
    if (s->second.empty()) sessions_.erase(s);
  }
  sockets_.erase(it);
  auto u = users_.find(user_id);
  if (u == users_.end()) return false;
  u->second.sockets.erase(conn);
  if (!u->second.sockets.empty()) return false;
  for (const auto& c : u->second.conversations) {
    auto m = members_.find(c);
    if (m == members_.end()) continue;
    m->second.erase(user_id);
    if (m->second.empty()) members_.erase(m);
  }
  users_.erase(u);
  return true;
}

const SocketInfo* Hub::socket(uint64_t conn) const {
  auto it = sockets_.find(conn);
  return it == sockets_.end() ? nullptr : &it->second;
}

bool Hub::is_member(const std::string& user_id, const std::string& conversation_id) const {
  auto u = users_.find(user_id);
  return u != users_.end() && u->second.conversations.count(conversation_id) > 0;
}

std::set<std::string> Hub::conversations_of(const std::string& user_id) const {
  auto u = users_.find(user_id);
  if (u == users_.end()) return {};
  return std::set<std::string>(u->second.conversations.begin(), u->second.conversations.end());
}

std::vector<std::string> Hub::local_members(const std::string& conversation_id) const {
  auto m = members_.find(conversation_id);
  if (m == members_.end()) return {};
  return std::vector<std::string>(m->second.begin(), m->second.end());
}

std::vector<uint64_t> Hub::sockets_of_user(const std::string& user_id) const {
  auto u = users_.find(user_id);
  if (u == users_.end()) return {};
  return std::vector<uint64_t>(u->second.sockets.begin(), u->second.sockets.end());
}

std::vector<uint64_t> Hub::sockets_of_session(const std::string& session_id) const {
  auto s = sessions_.find(session_id);
  if (s == sessions_.end()) return {};
  return std::vector<uint64_t>(s->second.begin(), s->second.end());
}

std::vector<uint64_t> Hub::all_sockets() const {
  std::vector<uint64_t> out;
  out.reserve(sockets_.size());
  for (const auto& [id, s] : sockets_) out.push_back(id);
  return out;
}

std::vector<std::string> Hub::local_users() const {
  std::vector<std::string> out;
  out.reserve(users_.size());
  for (const auto& [id, u] : users_) out.push_back(id);
  return out;
}

bool Hub::join(uint64_t conn, const std::string& conversation_id) {
  auto it = sockets_.find(conn);
  if (it == sockets_.end() || !is_member(it->second.user_id, conversation_id)) return false;
  it->second.left.erase(conversation_id);
  return true;
}

void Hub::leave(uint64_t conn, const std::string& conversation_id) {
  auto it = sockets_.find(conn);
  if (it != sockets_.end()) it->second.left.insert(conversation_id);
}

void Hub::set_deliver_after(uint64_t conn, StreamId id) {
  auto it = sockets_.find(conn);
  if (it != sockets_.end()) it->second.deliver_after = id;
}

void Hub::add_member(const std::string& user_id, const std::string& conversation_id) {
  auto u = users_.find(user_id);
  if (u == users_.end()) return;  // not connected here: nothing to follow
  u->second.conversations.insert(conversation_id);
  members_[conversation_id].insert(user_id);
  // A (re)join resubscribes every socket, also one that had sent leave_channel for it.
  for (uint64_t s : u->second.sockets) sockets_[s].left.erase(conversation_id);
}

void Hub::remove_member(const std::string& user_id, const std::string& conversation_id) {
  auto u = users_.find(user_id);
  if (u == users_.end()) return;
  u->second.conversations.erase(conversation_id);
  auto m = members_.find(conversation_id);
  if (m == members_.end()) return;
  m->second.erase(user_id);
  if (m->second.empty()) members_.erase(m);
}

void Hub::apply_membership(const StreamEvent& e, const std::string& user_id) {
  if (e.adds_members()) add_member(user_id, e.conversation_id);
  if (e.removes_members()) remove_member(user_id, e.conversation_id);
}

std::vector<Removal> Hub::route(const StreamEvent& e) {
  std::vector<Removal> removed;
  if (e.duplicate) return removed;
  const bool membership = !e.conversation_id.empty() && (e.adds_members() || e.removes_members());
  if (membership && e.adds_members()) {
    for (const auto& u : e.user_ids) add_member(u, e.conversation_id);
  }

  // One frame per socket even when it qualifies twice (a member named in user_ids too). Users are served once
  // each, so their sockets are too: a member named in user_ids is left to the user_ids pass, which does not
  // skip the conversations its sockets left. Nothing is allocated per recipient (a set of the sockets sent
  // to was an allocation per delivery): only `named`, when user_ids is not empty.
  std::unordered_set<std::string_view> named(e.user_ids.begin(), e.user_ids.end());
  auto to_user = [&](std::string_view user_id, bool skip_left) {
    auto u = users_.find(user_id);
    if (u == users_.end()) return;
    for (uint64_t s : u->second.sockets) {
      auto info = sockets_.find(s);
      if (info == sockets_.end()) continue;
      if (skip_left && !info->second.left.empty() && info->second.left.count(e.conversation_id)) continue;
      if (e.id <= info->second.deliver_after) continue;
      sink_.send(s, e.frame);
    }
  };
  switch (e.audience) {
    case Audience::kEveryone:
      for (const auto& [id, s] : sockets_) {
        if (e.id <= s.deliver_after) continue;
        sink_.send(id, e.frame);
      }
      break;
    case Audience::kUsers:
      for (std::string_view u : named) to_user(u, false);
      break;
    case Audience::kConversation:
      if (auto m = members_.find(e.conversation_id); m != members_.end()) {
        for (const auto& u : m->second) {
          if (named.empty() || !named.count(u)) to_user(u, true);
        }
      }
      for (std::string_view u : named) to_user(u, false);
      break;
  }

  if (membership && e.removes_members()) {
    for (const auto& u : e.user_ids) {
      if (is_member(u, e.conversation_id)) {
        remove_member(u, e.conversation_id);
        removed.emplace_back(u, e.conversation_id);
      }
    }
  }
  return removed;
}

void Hub::route_ephemeral(const Ephemeral& m, const Frame& frame) {
  // As in route(): each user once, so each socket once, with no set of the sockets sent to.
  auto to_user = [&](std::string_view user_id, const std::string* skip_left_of) {
    if (user_id == m.except_user_id) return;
    auto u = users_.find(user_id);
    if (u == users_.end()) return;
    for (uint64_t s : u->second.sockets) {
      auto info = sockets_.find(s);
      if (info == sockets_.end()) continue;
      if (skip_left_of && !info->second.left.empty() && info->second.left.count(*skip_left_of)) continue;
      sink_.send(s, frame);
    }
  };
  if (!m.user_ids.empty()) {
    std::unordered_set<std::string_view> named(m.user_ids.begin(), m.user_ids.end());
    for (std::string_view u : named) to_user(u, nullptr);
    return;
  }
  if (!m.conversation_ids.empty()) {
    // user_status: to everyone who shares a conversation, whatever its sockets left.
    std::unordered_set<std::string_view> done;
    for (const auto& c : m.conversation_ids) {
      auto mem = members_.find(c);
      if (mem == members_.end()) continue;
      for (const auto& u : mem->second) {
        if (done.insert(u).second) to_user(u, nullptr);
      }
    }
    return;
  }
  if (auto mem = members_.find(m.conversation_id); mem != members_.end()) {
    for (const auto& u : mem->second) to_user(u, &m.conversation_id);
  }
}

void Hub::broadcast(const Frame& frame) {
  for (const auto& [id, s] : sockets_) sink_.send(id, frame);
}

}  // namespace chat::realtime

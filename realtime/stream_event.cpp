// Stream entries: parsing of Redis replies, the event_id splice, and the ring of recent entries.
#include "realtime/stream_event.hpp"

#include <algorithm>
#include <charconv>

#include "core/json.hpp"
#include "core/redis.hpp"
#include "realtime/ws_codec.hpp"

namespace chat::realtime {
namespace {

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string> split_ids(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

Frame make_text_frame(std::string_view json_text) {
  return std::make_shared<const std::string>(ws::encode_text(json_text));
}

std::optional<StreamId> StreamId::parse(std::string_view text) {
  StreamId id;
  size_t dash = text.find('-');
  if (!parse_u64(text.substr(0, dash), id.ms)) return std::nullopt;
  if (dash != std::string_view::npos && !parse_u64(text.substr(dash + 1), id.seq)) return std::nullopt;
  return id;
}

bool StreamEvent::names_user(std::string_view user_id) const {
  return std::find(user_ids.begin(), user_ids.end(), user_id) != user_ids.end();
}

bool StreamEvent::adds_members() const {
  return type == "user_joined" || type == "conversation_created" || type == "channel_created";
}

bool StreamEvent::removes_members() const { return type == "user_left"; }

bool StreamEvent::changes_membership_of(std::string_view user_id) const {
  return !conversation_id.empty() && (adds_members() || removes_members()) && names_user(user_id);
}

std::string splice_event_id(std::string_view payload, std::string_view event_id) {
  size_t close = payload.find_last_of('}');
  if (close == std::string_view::npos) return std::string(payload);
  size_t last = close;  // the last non-space character before the closing brace
  while (last > 0 && is_space(payload[last - 1])) --last;
  bool empty_object = last > 0 && payload[last - 1] == '{';
  std::string out;
  out.reserve(payload.size() + event_id.size() + 16);
  out.append(payload.substr(0, close));
  out.append(empty_object ? "\"event_id\":" : ",\"event_id\":");
  out.append(json::quote(event_id));
  out.append(payload.substr(close));
  return out;
}

std::optional<StreamEvent> make_event(std::string_view id, const std::map<std::string, std::string>& fields,
                                      int64_t now_ms) {
  auto parsed = StreamId::parse(id);
  if (!parsed) return std::nullopt;
  auto get = [&fields](const char* k) -> std::string {
    auto it = fields.find(k);
    return it == fields.end() ? std::string() : it->second;
  };
  std::string payload = get("payload");
  size_t a = payload.find_first_not_of(" \t\r\n");
  size_t b = payload.find_last_not_of(" \t\r\n");
  if (a == std::string::npos || payload[a] != '{' || payload[b] != '}') return std::nullopt;

  StreamEvent e;
  e.id = *parsed;
  e.id_text = std::string(id);
  e.type = get("type");
  e.conversation_id = get("conversation_id");
  std::string audience = get("audience");
  e.audience = audience == "everyone" ? Audience::kEveryone
               : audience == "users"  ? Audience::kUsers
                                      : Audience::kConversation;
  e.user_ids = split_ids(get("user_ids"));
  e.outbox_id = get("outbox_id");
  e.payload = splice_event_id(payload, e.id_text);
  e.frame = make_text_frame(e.payload);
  e.received_ms = now_ms;
  return e;
}

size_t parse_entries(const redis::Reply& entries, int64_t now_ms, std::vector<std::shared_ptr<StreamEvent>>& out,
                     StreamId* last_seen) {
  size_t n = entries.size();
  for (size_t i = 0; i < n; ++i) {
    redis::Reply entry = entries.element(i);
    if (!entry.is_array() || entry.size() != 2) continue;
    std::string id = entry.element(0).str();
    if (last_seen) {
      if (auto sid = StreamId::parse(id)) *last_seen = *sid;
    }
    redis::Reply kv = entry.element(1);
    std::map<std::string, std::string> fields;
    for (size_t k = 0; k + 1 < kv.size(); k += 2) fields[kv.element(k).str()] = kv.element(k + 1).str();
    if (auto e = make_event(id, fields, now_ms)) out.push_back(std::make_shared<StreamEvent>(std::move(*e)));
  }
  return n;
}

// ---- ring -----------------------------------------------------------------------------------

void EventRing::reset(StreamId start) {
  events_.clear();
  outbox_ids_.clear();
  floor_ = newest_ = start;
}

void EventRing::push(const std::shared_ptr<StreamEvent>& e, int64_t now_ms) {
  if (!e->outbox_id.empty()) {
    int& seen = outbox_ids_[e->outbox_id];
    if (seen > 0) e->duplicate = true;
    ++seen;
  }
  newest_ = e->id;
  events_.push_back(e);
  while (events_.size() > max_events_) evict_front();
  expire(now_ms);
}

void EventRing::expire(int64_t now_ms) {
  while (!events_.empty() && now_ms - events_.front()->received_ms > max_age_ms_) evict_front();
}

void EventRing::evict_front() {
  const EventPtr& e = events_.front();
  floor_ = e->id;
  if (!e->outbox_id.empty()) {
    auto it = outbox_ids_.find(e->outbox_id);
    if (it != outbox_ids_.end() && --it->second <= 0) outbox_ids_.erase(it);
  }
  events_.pop_front();
}

bool EventRing::knows(StreamId id) const {
  if (id == floor_) return true;
  auto it = std::lower_bound(events_.begin(), events_.end(), id,
                             [](const EventPtr& e, StreamId v) { return e->id < v; });
  return it != events_.end() && (*it)->id == id;
}

std::vector<EventPtr> EventRing::after(StreamId after) const {
  auto it = std::upper_bound(events_.begin(), events_.end(), after,
                             [](StreamId v, const EventPtr& e) { return v < e->id; });
  return std::vector<EventPtr>(it, events_.end());
}

}  // namespace chat::realtime

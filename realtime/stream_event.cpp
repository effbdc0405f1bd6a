// Stream entries: parsing of Redis replies, the event_id splice, and the ring of recent entries.
#include "realtime/stream_event.hpp"

#include <algorithm>

#include "core/json.hpp"
#include "core/redis.hpp"
#include "realtime/ws_codec.hpp"

namespace chat::realtime {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

Frame make_text_frame(std::string_view json_text) {
  return std::make_shared<const std::string>(ws::encode_text(json_text));
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
  std::optional<stream::Entry> entry = stream::parse_entry(fields);
  if (!entry) return std::nullopt;

  StreamEvent e;
  e.id = *parsed;
  e.id_text = std::string(id);
  e.type = std::move(entry->type);
  e.conversation_id = std::move(entry->conversation_id);
  e.audience = entry->audience;
  e.user_ids = std::move(entry->user_ids);
  e.outbox_id = std::move(entry->outbox_id);
  e.payload = splice_event_id(entry->payload, e.id_text);
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

bool could_have_missed(const StreamCheck& check, const EventRing& ring, bool relay_waits_for_replicas) {
  if (!check.last_present && !relay_waits_for_replicas) return true;
  for (StreamId id : check.before) {
    if (id < ring.floor()) break;  // older than the daemon's memory: read before it started, or long replayed
    if (!ring.knows(id)) return true;
  }
  return false;
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

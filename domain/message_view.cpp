// Message JSON view.
#include "domain/message_view.hpp"

#include <algorithm>

#include "core/json.hpp"
#include "core/timefmt.hpp"

namespace chat::domain {

MessageRows::MessageRows(const db::Result& r)
    : r_(r),
      id_(r.column("id")),
      conversation_id_(r.column("conversation_id")),
      sender_id_(r.column("sender_id")),
      seq_(r.column("seq")),
      content_(r.column("content")),
      message_type_(r.column("message_type")),
      media_url_(r.column("media_url")),
      parent_id_(r.column("parent_id")),
      reply_count_(r.column("reply_count")),
      is_edited_(r.column("is_edited")),
      is_deleted_(r.column("is_deleted")),
      created_at_(r.column("created_at")),
      updated_at_(r.column("updated_at")),
      reactions_(r.column("reactions")),
      mentions_(r.column("mentions")),
      sender_(r, "su_") {}

void MessageRows::append(std::string& out, int row) {
  auto key = [&](const char* k) {
    out += k;  // the keys are literals: nothing to escape
  };
  auto str = [&](const char* k, int col) {
    key(k);
    json::append_quoted(out, r_.text(row, col));
  };
  auto str_or_null = [&](const char* k, int col) {
    if (r_.is_null(row, col)) {
      key(k);
      out += "null";
    } else {
      str(k, col);
    }
  };
  auto number = [&](const char* k, int col) {  // an integer column: PostgreSQL's text is the JSON number
    key(k);
    out += r_.text(row, col);
  };
  auto boolean = [&](const char* k, int col) {
    key(k);
    out += r_.text(row, col) == "t" ? "true" : "false";
  };
  auto raw_or = [&](const char* k, int col, const char* otherwise) {  // JSON built by PostgreSQL
    key(k);
    if (r_.is_null(row, col)) out += otherwise;
    else out += r_.text(row, col);
  };
  auto time = [&](const char* k, int col) {
    key(k);
    json::append_quoted(out, pg_to_rfc3339(r_.text(row, col)));
  };

  str("{\"id\":", id_);
  str(",\"conversation_id\":", conversation_id_);
  str(",\"channel_id\":", conversation_id_);
  str(",\"sender_id\":", sender_id_);
  str(",\"user_id\":", sender_id_);
  key(",\"user\":");
  if (r_.is_null(row, sender_.id)) {
    out += "null";
  } else {
    const std::string_view id = r_.text(row, sender_.id);
    auto it = senders_.find(id);
    if (it == senders_.end()) it = senders_.emplace(id, user_json(r_, row, sender_, false).dump()).first;
    out += it->second;
  }
  number(",\"seq\":", seq_);
  str(",\"content\":", content_);
  str(",\"message_type\":", message_type_);
  str_or_null(",\"media_url\":", media_url_);
  str_or_null(",\"parent_id\":", parent_id_);
  number(",\"reply_count\":", reply_count_);
  boolean(",\"is_edited\":", is_edited_);
  boolean(",\"is_deleted\":", is_deleted_);
  raw_or(",\"reactions\":", reactions_, "[]");
  raw_or(",\"mentions\":", mentions_, "[]");
  time(",\"created_at\":", created_at_);
  time(",\"updated_at\":", updated_at_);
  out += '}';
}

std::string MessageRows::json(int row) {
  std::string out;
  append(out, row);
  return out;
}

std::string MessageRows::array(int first, int count) {
  int end = count < 0 ? size() : std::min(size(), first + count);
  std::string out;
  out.reserve(static_cast<size_t>(end - first) * 768 + 2);
  out += '[';
  for (int i = first; i < end; ++i) {
    if (i > first) out += ',';
    append(out, i);
  }
  out += ']';
  return out;
}

}  // namespace chat::domain

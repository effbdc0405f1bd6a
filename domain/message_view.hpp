// The Message object (docs/api.md#message) rendered by the handler from rows of CHAT_MESSAGE_ROWS
// (domain/message_sql.hpp), field for field what CHAT_MESSAGE_JSON builds in PostgreSQL.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "core/db.hpp"
#include "domain/user_view.hpp"

namespace chat::domain {

class MessageRows {
 public:
  // Looks the columns up once; `r` must outlive this.
  explicit MessageRows(const db::Result& r);

  int size() const { return r_.rows(); }
  // The Message of one row, appended to `out`.
  void append(std::string& out, int row);
  std::string json(int row);
  // Rows [first, first + count) as a JSON array, in their order; count < 0: to the end.
  std::string array(int first = 0, int count = -1);

 private:
  const db::Result& r_;
  int id_, conversation_id_, sender_id_, seq_, content_, message_type_, media_url_, parent_id_, reply_count_,
      is_edited_, is_deleted_, created_at_, updated_at_, reactions_, mentions_;
  UserColumns sender_;
  // Each sender's User JSON, rendered once a page; keyed by the id's text in `r_`.
  std::unordered_map<std::string_view, std::string> senders_;
};

}  // namespace chat::domain

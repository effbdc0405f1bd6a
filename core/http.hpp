// HTTP request and response as the handlers see them, and HttpError, the one way request code fails.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.hpp"

namespace chat::http {

struct Request {
  std::string method;
  std::string path;          // decoded, normalized by nginx, without the query string
  std::string query_string;  // raw
  std::map<std::string, std::string> query;  // decoded; the first value of a repeated key wins
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  std::string remote_addr;
  std::string request_id;
  std::map<std::string, std::string> params;  // route captures (":id" -> "id")
  const char* route = nullptr;                 // the matched pattern ("/api/v1/users/:id"), for /metrics

  const std::string* header(const std::string& lower_name) const;
  const std::string* query_param(const std::string& name) const;
  const std::string& param(const std::string& name) const;
  // The media type of Content-Type without parameters, lowercase ("" when absent).
  std::string content_type() const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool has_body = true;  // false for 204

  static Response json(int status, const json::Value& v);
  static Response json(int status, std::string body);
  static Response no_content();
  // A one-field object such as {"message": "Successfully joined channel"} or {"status": "ok"}.
  static Response json_field(int status, const char* key, std::string_view value);
};

// One problem of a 422, FastAPI style: {"loc": [...], "msg": "...", "type": "..."}.
struct FieldError {
  std::vector<std::string> loc;
  std::string msg;
  std::string type;
};

// Thrown by request code; the FastCGI loop renders it as docs/api.md#errors's JSON in exactly one place.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string detail) : std::runtime_error(detail), status_(status), detail_(std::move(detail)) {}
  HttpError& with_header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
  }

  int status() const { return status_; }
  const std::string& detail() const { return detail_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }
  const std::vector<FieldError>& errors() const { return errors_; }
  void set_errors(std::vector<FieldError> e) { errors_ = std::move(e); }

 private:
  int status_;
  std::string detail_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::vector<FieldError> errors_;
};

// Shorthands that read like the contract.
[[noreturn]] void fail(int status, std::string detail);
[[noreturn]] void not_found(std::string detail = "Not Found");
[[noreturn]] void forbidden(std::string detail);
[[noreturn]] void bad_request(std::string detail);
[[noreturn]] void unprocessable(std::vector<FieldError> errors);

// Renders an HttpError into its JSON response: {"detail": ...} plus "errors" for 422.
Response render_error(const HttpError& e);

const char* reason_phrase(int status);

// Decodes application/x-www-form-urlencoded (and query strings): '+' is a space, %XX a byte.
std::map<std::string, std::string> parse_urlencoded(std::string_view s);
std::string url_decode(std::string_view s, bool plus_is_space);

}  // namespace chat::http

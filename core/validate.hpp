// Input validation of JSON bodies, forms and query strings, collecting every problem FastAPI-style.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/http.hpp"
#include "core/json.hpp"
#include "core/limits.hpp"

namespace chat::http {

struct StringRule {
  bool required = true;
  size_t min_chars = 0;
  size_t max_chars = std::numeric_limits<size_t>::max();
  bool trim = false;           // strip surrounding white space before checking
  const char* label = nullptr;  // "Password" in messages; derived from the key when null
};

struct IntRule {
  bool required = false;
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
};

// Fields read from one source (the JSON object body, a urlencoded form, or the query string).
// Every reader records its problem and returns nullopt; check() throws one 422 listing them all.
class Input {
 public:
  // An empty body is no body (clients send Content-Type: application/json with nothing on GET and
  // DELETE): every field is then simply missing. Malformed JSON is a 422 json_invalid at once.
  static Input body(const Request& req, bool allow_form = false);
  static Input query(const Request& req);
  // The route's captures (":query" -> "query"), for path segments that are text rather than ids.
  static Input path(const Request& req);

  // A request header as text: problems are reported at ["header", lower_name]; nullopt when absent.
  std::optional<std::string> header(const Request& req, const char* lower_name, size_t max_chars);

  bool present(const char* key) const;  // given, even as null
  bool is_null(const char* key) const;  // given as JSON null

  std::optional<std::string> string(const char* key, const StringRule& rule = {});
  std::optional<int64_t> integer(const char* key, const IntRule& rule = {});
  // The `limit` of a page (core/limits.hpp): its default when absent, and when out of range (a problem recorded).
  int64_t page_limit(const limits::Page& page);
  // A number (JSON number, or a decimal in a form or query) within [min, max].
  std::optional<double> number(const char* key, double min, double max, bool required = false);
  std::optional<bool> boolean(const char* key, bool required = false);
  // A UUID field; malformed is a 422. Returns the lowercase form.
  std::optional<std::string> uuid(const char* key, bool required = true);
  // A JSON array of UUIDs (JSON bodies only).
  std::optional<std::vector<std::string>> uuid_list(const char* key, bool required = true);

  void add_error(const char* key, std::string msg, std::string type);
  // A problem outside this source, e.g. {"header", "idempotency-key"}.
  void add_error_at(std::vector<std::string> loc, std::string msg, std::string type);
  bool ok() const { return errors_.empty(); }
  void check() const;  // throws HttpError 422 when any problem was recorded

 private:
  Input(std::string where) : where_(std::move(where)) {}
  std::optional<std::string> raw_string(const char* key, bool& wrong_type) const;

  std::string where_;  // "body", "query" or "path"
  std::set<std::string> nul_fields_;  // top-level JSON fields whose strings held \u0000 (cJSON cuts there)
  std::optional<json::Value> json_;
  std::map<std::string, std::string> form_;
  bool is_form_ = false;
  std::vector<FieldError> errors_;
};

// Where a JSON object text holds the escape \u0000: the top-level fields (by their decoded names) whose
// string values contain it at any depth, and whether some key does. cJSON ends its C strings at a NUL, so
// such a value would silently lose its tail, and such a key would be read as a shorter one.
struct NulEscapes {
  std::set<std::string> fields;
  bool in_key = false;
};
NulEscapes fields_with_nul_escape(std::string_view json_text);

// Decodes the code point at `s[i]` of valid UTF-8 into *cp and returns its length in bytes (1 for a
// stray byte, with *cp set to that byte).
size_t utf8_next(std::string_view s, size_t i, uint32_t* cp);
// A letter or digit of any script (Unicode classes through glibc's C.UTF-8 locale).
bool is_letter_or_digit(uint32_t cp);

// At most `max_bytes` of `s`, cut before a code point rather than inside one (so valid UTF-8 stays valid).
std::string utf8_truncate(std::string_view s, size_t max_bytes);

// Code points in a UTF-8 string (continuation bytes are not counted).
size_t utf8_length(const std::string& s);
bool valid_utf8(const std::string& s);
// "current_password" -> "Current password".
std::string label_of(const char* key);
std::string trim_copy(const std::string& s);

}  // namespace chat::http

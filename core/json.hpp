// JSON through cJSON: an owning Value for building responses and null-safe readers for request bodies.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct cJSON;

namespace chat::json {

struct CJsonDeleter {
  void operator()(cJSON* p) const;
};
using Ptr = std::unique_ptr<cJSON, CJsonDeleter>;

// An owned JSON tree. Builders return *this so objects read like their wire form.
class Value {
 public:
  static Value object();
  static Value array();
  static Value null();
  static Value string(std::string_view s);
  // Already-serialized JSON (e.g. built by PostgreSQL), inserted as is when printed.
  static Value raw(std::string_view json_text);
  // Parses `text`; nullopt when it is not valid JSON (the caller turns that into a 422), including what
  // lexically_valid() refuses.
  static std::optional<Value> parse(std::string_view text);

  Value() = default;
  explicit Value(cJSON* adopt) : p_(adopt) {}

  Value& set(const char* key, std::string_view s);
  Value& set(const char* key, const char* s) { return set(key, std::string_view(s)); }
  Value& set(const char* key, const std::string& s) { return set(key, std::string_view(s)); }
  Value& set(const char* key, bool b);
  Value& set(const char* key, int v) { return set(key, static_cast<int64_t>(v)); }
  Value& set(const char* key, int64_t v);
  Value& set(const char* key, double v);
  Value& set(const char* key, Value&& v);
  Value& set(const char* key, const std::optional<std::string>& s);  // null when empty
  Value& set_null(const char* key);

  Value& push(Value&& v);
  Value& push(std::string_view s);

  std::string dump() const;  // compact
  cJSON* get() const { return p_.get(); }
  cJSON* release() { return p_.release(); }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  Ptr p_;
};

// Readers over a borrowed node: each returns nullopt for a missing field or a different type.
const cJSON* field(const cJSON* obj, const char* key);
bool is_object(const cJSON* n);
bool is_array(const cJSON* n);
bool is_string(const cJSON* n);
bool is_null(const cJSON* n);
bool is_bool(const cJSON* n);
bool is_number(const cJSON* n);
std::optional<std::string> as_string(const cJSON* n);
std::optional<bool> as_bool(const cJSON* n);
std::optional<double> as_number(const cJSON* n);
int array_size(const cJSON* n);
const cJSON* array_item(const cJSON* n, int i);
// The compact JSON text of a borrowed node ("" for nullptr).
std::string dump(const cJSON* n);

// False when a raw control character (below U+0020) sits inside a string or between tokens (where only
// space, tab, CR and LF are white space), or a string holds an escape RFC 8259 §7 does not define (a \u
// without four hex digits included).
bool lexically_valid(std::string_view text);

// A JSON string literal with quotes, for hand-built bodies such as {"detail": ...}: `"` and `\` escaped, control
// characters as \b \f \n \r \t or \u00XX (as cJSON prints them), every other byte as it is (UTF-8 passes through).
std::string quote(std::string_view s);
// The same, appended to `out` (for writers that build a long answer in one string).
void append_quoted(std::string& out, std::string_view s);

}  // namespace chat::json

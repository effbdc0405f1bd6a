// cJSON wrapper: the only place that includes cJSON.h; ownership is always a json::Ptr.
#include "core/json.hpp"

#include <cJSON.h>

#include <cctype>
#include <cmath>

namespace chat::json {

void CJsonDeleter::operator()(cJSON* p) const { cJSON_Delete(p); }

Value Value::object() { return Value(cJSON_CreateObject()); }
Value Value::array() { return Value(cJSON_CreateArray()); }
Value Value::null() { return Value(cJSON_CreateNull()); }
Value Value::string(std::string_view s) { return Value(cJSON_CreateString(std::string(s).c_str())); }

Value Value::raw(std::string_view json_text) { return Value(cJSON_CreateRaw(std::string(json_text).c_str())); }

bool lexically_valid(std::string_view text) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (in_string) {
      if (c < 0x20) return false;  // RFC 8259 §7: control characters must be escaped
      if (c == '"') {
        in_string = false;
      } else if (c == '\\') {
        // §7: the escapes are \" \\ \/ \b \f \n \r \t and \u with four hex digits. cJSON would read a
        // \u without them as U+0000, and so cut the value there.
        if (++i >= text.size()) return false;
        char e = text[i];
        if (e == 'u') {
          if (i + 4 >= text.size() || !hex(text[i + 1]) || !hex(text[i + 2]) || !hex(text[i + 3]) || !hex(text[i + 4])) {
            return false;
          }
          i += 4;
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      return false;  // only these four are white space between tokens (RFC 8259 §2)
    }
  }
  return true;
}

std::optional<Value> Value::parse(std::string_view text) {
  // cJSON copies raw control characters into its C strings (a NUL then cuts the value there), reads a
  // malformed \u escape as U+0000, and takes any byte up to 0x20 for white space: refuse all three, as the
  // RFC does, before it sees the text.
  if (!lexically_valid(text)) return std::nullopt;
  const char* end = nullptr;
  cJSON* root = cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, 0);
  if (!root) return std::nullopt;
  Value v(root);
  // Trailing bytes other than white space make the document malformed.
  const char* stop = text.data() + text.size();
  for (const char* p = end; p && p < stop; ++p) {
    if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') return std::nullopt;
  }
  return v;
}

Value& Value::set(const char* key, std::string_view s) {
  cJSON_AddItemToObject(p_.get(), key, cJSON_CreateString(std::string(s).c_str()));
  return *this;
}
Value& Value::set(const char* key, bool b) {
  cJSON_AddItemToObject(p_.get(), key, cJSON_CreateBool(b));
  return *this;
}
Value& Value::set(const char* key, int64_t v) {
  cJSON_AddItemToObject(p_.get(), key, cJSON_CreateNumber(static_cast<double>(v)));
  return *this;
}
Value& Value::set(const char* key, double v) {
  cJSON_AddItemToObject(p_.get(), key, cJSON_CreateNumber(v));
  return *this;
}
Value& Value::set(const char* key, Value&& v) {
  cJSON_AddItemToObject(p_.get(), key, v.release());
  return *this;
}
Value& Value::set(const char* key, const std::optional<std::string>& s) {
  return s ? set(key, std::string_view(*s)) : set_null(key);
}
Value& Value::set_null(const char* key) {
  cJSON_AddItemToObject(p_.get(), key, cJSON_CreateNull());
  return *this;
}
Value& Value::push(Value&& v) {
  cJSON_AddItemToArray(p_.get(), v.release());
  return *this;
}
Value& Value::push(std::string_view s) {
  cJSON_AddItemToArray(p_.get(), cJSON_CreateString(std::string(s).c_str()));
  return *this;
}

std::string Value::dump() const {
  if (!p_) return "null";
  char* s = cJSON_PrintUnformatted(p_.get());
  if (!s) return "null";
  std::string out(s);
  cJSON_free(s);
  return out;
}

const cJSON* field(const cJSON* obj, const char* key) {
  if (!obj || !cJSON_IsObject(obj)) return nullptr;
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}
bool is_object(const cJSON* n) { return n && cJSON_IsObject(n); }
bool is_array(const cJSON* n) { return n && cJSON_IsArray(n); }
bool is_string(const cJSON* n) { return n && cJSON_IsString(n); }
bool is_null(const cJSON* n) { return n && cJSON_IsNull(n); }
bool is_bool(const cJSON* n) { return n && cJSON_IsBool(n); }
bool is_number(const cJSON* n) { return n && cJSON_IsNumber(n); }

std::optional<std::string> as_string(const cJSON* n) {
  if (!is_string(n) || !n->valuestring) return std::nullopt;
  return std::string(n->valuestring);
}
std::optional<bool> as_bool(const cJSON* n) {
  if (!is_bool(n)) return std::nullopt;
  return cJSON_IsTrue(n) != 0;
}
std::optional<double> as_number(const cJSON* n) {
  if (!is_number(n) || !std::isfinite(n->valuedouble)) return std::nullopt;
  return n->valuedouble;
}
int array_size(const cJSON* n) { return is_array(n) ? cJSON_GetArraySize(n) : 0; }
const cJSON* array_item(const cJSON* n, int i) { return is_array(n) ? cJSON_GetArrayItem(n, i) : nullptr; }

std::string dump(const cJSON* n) {
  if (!n) return "";
  char* text = cJSON_PrintUnformatted(n);
  if (!text) return "";
  std::string out(text);
  cJSON_free(text);
  return out;
}

void append_quoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t plain = 0;  // start of the run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out.push_back('"');
}

std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  append_quoted(out, s);
  return out;
}

}  // namespace chat::json

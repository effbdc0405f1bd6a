// Validation helpers: messages are whole sentences a client can show as they are.
#include "core/validate.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cwctype>
#include <locale.h>
#include <wctype.h>

#include "core/crypto.hpp"

namespace chat::http {

size_t utf8_next(std::string_view s, size_t i, uint32_t* cp) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  if (len == 1 || i + len > s.size()) {
    *cp = c;
    return 1;
  }
  uint32_t v = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) v = (v << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  *cp = v;
  return len;
}

bool is_letter_or_digit(uint32_t cp) {
  if (cp < 0x80) return std::isalnum(static_cast<int>(cp)) != 0;
  // One locale object for the process; iswalnum_l never consults the global (per-thread) locale.
  static const locale_t kUtf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return kUtf8 && iswalnum_l(static_cast<wint_t>(cp), kUtf8);
}

std::string utf8_truncate(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;  // s[end] starts the next one
  return std::string(s.substr(0, end));
}

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 (RFC 3629 §3).
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string label_of(const char* key) {
  std::string out(key);
  for (char& c : out) {
    if (c == '_') c = ' ';
  }
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string trim_copy(const std::string& s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

NulEscapes fields_with_nul_escape(std::string_view t) {
  NulEscapes out;
  if (t.find("\\u0000") == std::string_view::npos) return out;  // the common case costs one scan
  // A key as cJSON reads it: its escapes decoded ("\u0063ontent" is the field "content").
  auto decoded = [](std::string_view raw) {
    auto v = json::Value::parse("\"" + std::string(raw) + "\"");
    return v ? json::as_string(v->get()).value_or("") : std::string();
  };
  int depth = 0;
  std::string key;  // the current top-level key
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') --depth;
    if (c != '"') continue;
    size_t start = ++i;
    bool nul = false;
    for (; i < t.size() && t[i] != '"'; ++i) {
      if (t[i] != '\\') continue;
      if (i + 5 < t.size() && t.substr(i, 6) == "\\u0000") nul = true;
      ++i;  // skip the escaped character
    }
    std::string_view text = t.substr(start, i - start);
    size_t j = i + 1;
    while (j < t.size() && std::isspace(static_cast<unsigned char>(t[j]))) ++j;
    bool is_key = j < t.size() && t[j] == ':';
    if (is_key && nul) out.in_key = true;  // cJSON would look the field up by the name cut at the NUL
    else if (is_key && depth == 1) key = decoded(text);
    else if (nul && depth >= 1) out.fields.insert(key);
  }
  return out;
}

Input Input::body(const Request& req, bool allow_form) {
  Input in("body");
  bool blank = trim_copy(req.body).empty();
  if (allow_form && req.content_type() == "application/x-www-form-urlencoded") {
    in.is_form_ = true;
    in.form_ = parse_urlencoded(req.body);
    return in;
  }
  if (blank) {
    in.json_ = json::Value::object();
    return in;
  }
  auto parsed = json::Value::parse(req.body);
  if (!parsed) {
    unprocessable({{{"body"}, "Request body is not valid JSON", "json_invalid"}});
  }
  if (!json::is_object(parsed->get())) {
    unprocessable({{{"body"}, "Request body must be a JSON object", "model_attributes_type"}});
  }
  NulEscapes nuls = fields_with_nul_escape(req.body);
  if (nuls.in_key) {
    unprocessable({{{"body"}, "Field names must not contain NUL characters", "string_unicode"}});
  }
  in.json_ = std::move(*parsed);
  in.nul_fields_ = std::move(nuls.fields);
  return in;
}

Input Input::query(const Request& req) {
  Input in("query");
  in.is_form_ = true;
  in.form_ = req.query;
  return in;
}

Input Input::path(const Request& req) {
  Input in("path");
  in.is_form_ = true;
  in.form_ = req.params;
  return in;
}

std::optional<std::string> Input::header(const Request& req, const char* lower_name, size_t max_chars) {
  const std::string* v = req.header(lower_name);
  if (!v) return std::nullopt;
  std::string label = lower_name;  // "idempotency-key" -> "Idempotency-Key", as HTTP spells it
  for (size_t i = 0; i < label.size(); ++i) {
    if (i == 0 || label[i - 1] == '-') label[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(label[i])));
  }
  // RFC 9110 §5.5: a field value holds no control characters but tab; past ASCII it must be UTF-8 here.
  bool controls = std::any_of(v->begin(), v->end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7f;
  });
  if (controls || !valid_utf8(*v)) {
    add_error_at({"header", lower_name}, label + " must be valid UTF-8 text", "string_unicode");
    return std::nullopt;
  }
  size_t n = utf8_length(*v);
  if (n == 0 || n > max_chars) {
    add_error_at({"header", lower_name}, label + " must be 1 to " + std::to_string(max_chars) + " characters",
                 n == 0 ? "string_too_short" : "string_too_long");
    return std::nullopt;
  }
  return *v;
}

bool Input::present(const char* key) const {
  if (is_form_) return form_.count(key) > 0;
  return json::field(json_->get(), key) != nullptr;
}

bool Input::is_null(const char* key) const { return !is_form_ && json::is_null(json::field(json_->get(), key)); }

std::optional<std::string> Input::raw_string(const char* key, bool& wrong_type) const {
  wrong_type = false;
  if (is_form_) {
    auto it = form_.find(key);
    if (it == form_.end()) return std::nullopt;
    return it->second;
  }
  const cJSON* f = json::field(json_->get(), key);
  if (!f || json::is_null(f)) return std::nullopt;
  auto s = json::as_string(f);
  if (!s) wrong_type = true;
  return s;
}

void Input::add_error(const char* key, std::string msg, std::string type) {
  errors_.push_back({{where_, key}, std::move(msg), std::move(type)});
}

void Input::add_error_at(std::vector<std::string> loc, std::string msg, std::string type) {
  errors_.push_back({std::move(loc), std::move(msg), std::move(type)});
}

std::optional<std::string> Input::string(const char* key, const StringRule& rule) {
  std::string label = rule.label ? rule.label : label_of(key);
  bool wrong_type = false;
  auto v = raw_string(key, wrong_type);
  if (wrong_type) {
    add_error(key, label + " must be a string", "string_type");
    return std::nullopt;
  }
  if (!v) {
    if (rule.required) add_error(key, label + " is required", "missing");
    return std::nullopt;
  }
  if (!valid_utf8(*v)) {
    add_error(key, label + " must be valid UTF-8", "string_unicode");
    return std::nullopt;
  }
  // PostgreSQL text cannot hold NUL, and a C string would end there: refuse rather than cut.
  if (v->find('\0') != std::string::npos || nul_fields_.count(key)) {
    add_error(key, label + " must not contain NUL characters", "string_unicode");
    return std::nullopt;
  }
  if (rule.trim) *v = trim_copy(*v);
  size_t n = utf8_length(*v);
  if (n < rule.min_chars) {
    add_error(key,
              rule.min_chars == 1 ? label + " cannot be empty"
                                  : label + " must be at least " + std::to_string(rule.min_chars) + " characters",
              "string_too_short");
    return std::nullopt;
  }
  if (n > rule.max_chars) {
    add_error(key, label + " must be at most " + std::to_string(rule.max_chars) + " characters", "string_too_long");
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> Input::integer(const char* key, const IntRule& rule) {
  std::string label = label_of(key);
  std::optional<int64_t> value;
  bool given = false;
  if (is_form_) {
    auto it = form_.find(key);
    if (it != form_.end()) {
      given = true;
      int64_t v = 0;
      const std::string& s = it->second;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) value = v;
    }
  } else {
    const cJSON* f = json::field(json_->get(), key);
    if (f && !json::is_null(f)) {
      given = true;
      auto d = json::as_number(f);
      // Range first: casting a double outside int64_t is undefined behaviour.
      if (d && *d >= -9.0e18 && *d <= 9.0e18 && *d == static_cast<double>(static_cast<int64_t>(*d))) {
        value = static_cast<int64_t>(*d);
      }
    }
  }
  if (!given) {
    if (rule.required) add_error(key, label + " is required", "missing");
    return std::nullopt;
  }
  if (!value) {
    add_error(key, label + " must be an integer", "int_parsing");
    return std::nullopt;
  }
  if (*value < rule.min) {
    add_error(key, label + " must be greater than or equal to " + std::to_string(rule.min), "greater_than_equal");
    return std::nullopt;
  }
  if (*value > rule.max) {
    add_error(key, label + " must be less than or equal to " + std::to_string(rule.max), "less_than_equal");
    return std::nullopt;
  }
  return value;
}

int64_t Input::page_limit(const limits::Page& page) {
  return integer("limit", {false, page.min, page.max}).value_or(page.fallback);
}

std::optional<double> Input::number(const char* key, double min, double max, bool required) {
  std::string label = label_of(key);
  std::optional<double> value;
  bool given = false;
  if (is_form_) {
    auto it = form_.find(key);
    if (it != form_.end()) {
      given = true;
      double v = 0;
      const std::string& s = it->second;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc() && end == s.data() + s.size() && !s.empty() && std::isfinite(v)) value = v;
    }
  } else {
    const cJSON* f = json::field(json_->get(), key);
    if (f && !json::is_null(f)) {
      given = true;
      value = json::as_number(f);  // nullopt for another type or a value that is not finite
    }
  }
  if (!given) {
    if (required) add_error(key, label + " is required", "missing");
    return std::nullopt;
  }
  if (!value) {
    add_error(key, label + " must be a number", "float_parsing");
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    auto text = [](double d) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", d);
      return std::string(buf);
    };
    add_error(key, label + " must be between " + text(min) + " and " + text(max),
              *value < min ? "greater_than_equal" : "less_than_equal");
    return std::nullopt;
  }
  return value;
}

std::optional<bool> Input::boolean(const char* key, bool required) {
  std::string label = label_of(key);
  if (is_form_) {
    auto it = form_.find(key);
    if (it == form_.end()) {
      if (required) add_error(key, label + " is required", "missing");
      return std::nullopt;
    }
    std::string v = it->second;
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "0" || v == "no" || v == "off") return false;
    add_error(key, label + " must be a boolean", "bool_parsing");
    return std::nullopt;
  }
  const cJSON* f = json::field(json_->get(), key);
  if (!f || json::is_null(f)) {
    if (required) add_error(key, label + " is required", "missing");
    return std::nullopt;
  }
  auto b = json::as_bool(f);
  if (!b) add_error(key, label + " must be a boolean", "bool_type");
  return b;
}

std::optional<std::string> Input::uuid(const char* key, bool required) {
  auto v = string(key, StringRule{required, 0, std::numeric_limits<size_t>::max(), true, nullptr});
  if (!v) return std::nullopt;
  if (!crypto::is_uuid(*v)) {
    add_error(key, label_of(key) + " must be a valid UUID", "uuid_parsing");
    return std::nullopt;
  }
  for (char& c : *v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v;
}

std::optional<std::vector<std::string>> Input::uuid_list(const char* key, bool required) {
  std::string label = label_of(key);
  const cJSON* f = is_form_ ? nullptr : json::field(json_->get(), key);
  if (!f || json::is_null(f)) {
    if (required) add_error(key, label + " is required", "missing");
    return std::nullopt;
  }
  if (!json::is_array(f)) {
    add_error(key, label + " must be a list", "list_type");
    return std::nullopt;
  }
  if (nul_fields_.count(key)) {  // cJSON cut an item at its \u0000: refuse rather than read a shorter id
    add_error(key, label + " must not contain NUL characters", "string_unicode");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (int i = 0; i < json::array_size(f); ++i) {
    auto s = json::as_string(json::array_item(f, i));
    if (!s || !crypto::is_uuid(*s)) {
      errors_.push_back({{where_, key, std::to_string(i)}, label + " must contain valid UUIDs", "uuid_parsing"});
      return std::nullopt;
    }
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(*s);
  }
  return out;
}

void Input::check() const {
  if (!errors_.empty()) unprocessable(errors_);
}

}  // namespace chat::http

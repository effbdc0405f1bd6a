// The REST fuzz target's independent oracles: what core's readers must agree with, written again from the
// RFCs here (UTF-8, JSON strings and objects, form decoding, path segments) so that the two are not one code.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace chat::fuzz {

// RFC 3629 §4's table, written out rather than computed.
inline bool utf8_ok(std::string_view s) {
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return k < s.size() && at(k) >= lo && at(k) <= hi;
  };
  while (i < s.size()) {
    const unsigned c = at(i);
    if (c <= 0x7F) {
      i += 1;
    } else if (c >= 0xC2 && c <= 0xDF && cont(i + 1)) {
      i += 2;
    } else if (c == 0xE0 && cont(i + 1, 0xA0, 0xBF) && cont(i + 2)) {
      i += 3;
    } else if (((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) && cont(i + 1) && cont(i + 2)) {
      i += 3;
    } else if (c == 0xED && cont(i + 1, 0x80, 0x9F) && cont(i + 2)) {
      i += 3;
    } else if (c == 0xF0 && cont(i + 1, 0x90, 0xBF) && cont(i + 2) && cont(i + 3)) {
      i += 4;
    } else if (c >= 0xF1 && c <= 0xF3 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      i += 4;
    } else if (c == 0xF4 && cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3)) {
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

inline bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// True when a raw byte below 0x20 sits inside a JSON string (escaped or not: "\<0x01>" is one too).
inline bool raw_control_in_string(std::string_view t) {
  bool in = false;
  for (size_t i = 0; i < t.size(); ++i) {
    const auto c = static_cast<unsigned char>(t[i]);
    if (!in) {
      in = c == '"';
    } else if (c < 0x20) {
      return true;
    } else if (c == '\\') {
      if (i + 1 < t.size() && static_cast<unsigned char>(t[i + 1]) < 0x20) return true;
      ++i;
    } else if (c == '"') {
      in = false;
    }
  }
  return false;
}

inline int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the JSON string whose opening quote is t[i]; returns the index past its closing quote.
// *ok is false when the text is not an RFC 8259 string (e.g. "\u00zz"); the bytes are then what a
// lenient parser would make of it (a bad \u escape as U+0000, like cJSON 1.7's parse_hex4).
inline size_t decode_json_string(std::string_view t, size_t i, std::string* out, bool* ok) {
  *ok = true;
  out->clear();
  size_t end = i + 1;  // find the closing quote the way a parser does: a backslash hides the next byte
  while (end < t.size() && t[end] != '"') end += t[end] == '\\' ? 2 : 1;
  end = std::min(end, t.size());
  for (size_t k = i + 1; k < end;) {
    const char c = t[k];
    if (c != '\\') {
      out->push_back(c);
      ++k;
      continue;
    }
    if (k + 1 >= end) {
      *ok = false;
      break;
    }
    const char e = t[k + 1];
    static constexpr std::string_view kFrom = "\"\\/bfnrt", kTo = "\"\\/\b\f\n\r\t";
    if (size_t p = kFrom.find(e); p != std::string_view::npos) {
      out->push_back(kTo[p]);
      k += 2;
      continue;
    }
    if (e != 'u') {
      *ok = false;
      k += 2;
      continue;
    }
    auto unit = [&](size_t at, bool* valid) -> uint32_t {
      uint32_t v = 0;
      *valid = at + 6 <= end;
      for (size_t d = 0; *valid && d < 4; ++d) {
        const int h = hex_digit(t[at + 2 + d]);
        if (h < 0) *valid = false;
        v = v * 16 + static_cast<uint32_t>(h < 0 ? 0 : h);
      }
      return *valid ? v : 0;
    };
    bool valid = false;
    uint32_t cp = unit(k, &valid);
    k += 6;
    if (!valid) *ok = false;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      bool low_ok = false;
      const uint32_t low = k + 1 < end && t[k] == '\\' && t[k + 1] == 'u' ? unit(k, &low_ok) : 0;
      if (low_ok && low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + (((cp & 0x3FF) << 10) | (low & 0x3FF));
        k += 6;
      } else {
        *ok = false;  // a lone surrogate (a parser refuses it)
        cp = 0xFFFD;
      }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      *ok = false;
      cp = 0xFFFD;
    }
    append_utf8(*out, cp);
  }
  return end + 1;
}

// True when every string of a JSON text (keys included) is an RFC 8259 string: escapes are one of
// \" \\ \/ \b \f \n \r \t or \u with four hex digits, surrogates paired.
inline bool strings_well_formed(std::string_view t) {
  std::string s;
  for (size_t i = 0; i < t.size();) {
    if (t[i] != '"') {
      ++i;
      continue;
    }
    bool ok = false;
    i = decode_json_string(t, i, &s, &ok);
    if (!ok) return false;
  }
  return true;
}

// What the client sent as one top-level member of a JSON object, decoded here rather than by cJSON.
struct Member {
  bool is_string = false;
  bool is_array = false;
  std::string value;  // when is_string
  bool value_ok = true;
  std::vector<std::string> items;  // the strings directly inside, when is_array
  bool items_ok = true;
};

// The top-level members of a JSON object text cJSON accepted, keyed as cJSON looks them up (the
// decoded key up to its first NUL) and, like cJSON_GetObjectItem, the first of repeated keys only.
inline std::map<std::string, Member> top_level_members(std::string_view t) {
  std::map<std::string, Member> members;
  // cJSON skips a leading UTF-8 byte order mark (RFC 8259 §8.1 lets a parser ignore one).
  size_t i = t.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  if (i >= t.size() || t[i] != '{') return members;
  int depth = 0;
  bool expect_key = false;
  Member* current = nullptr;  // the member being recorded (null for a repeated key)
  std::string s;
  while (i < t.size()) {
    const char c = t[i];
    if (c == '"') {
      bool ok = false;
      const size_t next = decode_json_string(t, i, &s, &ok);
      if (depth == 1 && expect_key) {
        const std::string key = s.substr(0, s.find('\0'));
        current = members.count(key) ? nullptr : &members[key];
        expect_key = false;
      } else if (depth == 1 && current) {
        current->is_string = true;
        current->value = s;
        current->value_ok = ok;
      } else if (depth == 2 && current && current->is_array) {
        current->items.push_back(s);
        current->items_ok = current->items_ok && ok;
      }
      i = next;
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
      if (depth == 1) expect_key = c == '{';
      if (depth == 2 && c == '[' && current) current->is_array = true;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 1) {
      expect_key = true;
    }
    ++i;
  }
  return members;
}

inline std::string my_url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Every byte as %XX, upper or lower case hex by position.
inline std::string percent_encode_all(std::string_view s) {
  static constexpr char kUpper[] = "0123456789ABCDEF", kLower[] = "0123456789abcdef";
  std::string out;
  out.reserve(3 * s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char* digits = i % 2 ? kLower : kUpper;
    const auto b = static_cast<unsigned char>(s[i]);
    out += '%';
    out += digits[b >> 4];
    out += digits[b & 0xF];
  }
  return out;
}

inline std::vector<std::string> segments_of(std::string_view path) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : path) {
    if (c != '/') {
      cur += c;
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace chat::fuzz

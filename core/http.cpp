// Request helpers, error rendering and form decoding shared by every handler.
#include "core/http.hpp"

#include <algorithm>
#include <cctype>

namespace chat::http {

const std::string* Request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? nullptr : &it->second;
}

const std::string* Request::query_param(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? nullptr : &it->second;
}

const std::string& Request::param(const std::string& name) const {
  static const std::string kEmpty;
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

std::string Request::content_type() const {
  const std::string* ct = header("content-type");
  if (!ct) return "";
  std::string t = ct->substr(0, ct->find(';'));
  t.erase(std::remove_if(t.begin(), t.end(), [](unsigned char c) { return std::isspace(c); }), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t;
}

Response Response::json(int status, const json::Value& v) { return json(status, v.dump()); }

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::json_field(int status, const char* key, std::string_view value) {
  json::Value v = json::Value::object();
  v.set(key, value);
  return json(status, v);
}

Response Response::no_content() {
  Response r;
  r.status = 204;
  r.has_body = false;
  return r;
}

void fail(int status, std::string detail) { throw HttpError(status, std::move(detail)); }
void not_found(std::string detail) { fail(404, std::move(detail)); }
void forbidden(std::string detail) { fail(403, std::move(detail)); }
void bad_request(std::string detail) { fail(400, std::move(detail)); }

void unprocessable(std::vector<FieldError> errors) {
  HttpError e(422, errors.empty() ? "Validation error" : errors.front().msg);
  e.set_errors(std::move(errors));
  throw e;
}

Response render_error(const HttpError& e) {
  json::Value body = json::Value::object();
  body.set("detail", e.detail());
  if (!e.errors().empty()) {
    json::Value list = json::Value::array();
    for (const auto& fe : e.errors()) {
      json::Value loc = json::Value::array();
      for (const auto& part : fe.loc) loc.push(part);
      json::Value item = json::Value::object();
      item.set("loc", std::move(loc)).set("msg", fe.msg).set("type", fe.type);
      list.push(std::move(item));
    }
    body.set("errors", std::move(list));
  }
  Response r = Response::json(e.status(), body);
  r.headers = e.headers();
  return r;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

std::string url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::map<std::string, std::string> parse_urlencoded(std::string_view s) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t amp = s.find('&', pos);
    if (amp == std::string_view::npos) amp = s.size();
    std::string_view pair = s.substr(pos, amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key = url_decode(pair.substr(0, eq), true);
      std::string value = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1), true);
      out.emplace(std::move(key), std::move(value));  // emplace keeps the first of repeated keys
    }
    pos = amp + 1;
  }
  return out;
}

}  // namespace chat::http

// Route matching: literal segments beat captures; the method is checked only after the path is resolved.
#include "core/router.hpp"

#include <algorithm>

#include "core/json.hpp"

namespace chat::http {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > pos) out.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

std::string openapi_path(std::string_view pattern) {
  std::string out;
  for (auto seg : split_path(pattern)) {
    out += '/';
    if (seg[0] == ':') out.append("{").append(seg.substr(1)).append("}");
    else out += seg;
  }
  return out.empty() ? "/" : out;
}

std::string routes_json(const std::vector<Route>& routes) {
  json::Value rows = json::Value::array();
  for (const auto& r : routes) {
    json::Value row = json::Value::object();
    row.set("method", r.method).set("path", openapi_path(r.pattern));
    rows.push(std::move(row));
  }
  return rows.dump();
}

Router::Router(std::vector<Route> routes) : routes_(std::move(routes)) {
  compiled_.reserve(routes_.size());
  for (const auto& r : routes_) {
    Compiled c{&r, {}};
    for (auto seg : split_path(r.pattern)) c.segments.emplace_back(seg);
    compiled_.push_back(std::move(c));
  }
}

namespace {

// A route's specificity for a path: one bit per segment, set where the pattern is literal.
// Comparing these vectors lexicographically makes the leftmost literal win.
bool matches(const std::vector<std::string>& pattern, const std::vector<std::string_view>& path,
             std::vector<bool>& literal) {
  if (pattern.size() != path.size()) return false;
  literal.assign(pattern.size(), false);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (!pattern[i].empty() && pattern[i][0] == ':') {
      if (path[i].empty()) return false;
      continue;
    }
    if (pattern[i] != path[i]) return false;
    literal[i] = true;
  }
  return true;
}

}  // namespace

Match Router::match(std::string_view method, std::string_view path) const {
  const auto segs = split_path(path);
  std::vector<bool> best_shape;
  std::vector<const Compiled*> winners;
  std::vector<bool> shape;
  for (const auto& c : compiled_) {
    if (!matches(c.segments, segs, shape)) continue;
    if (winners.empty() || shape > best_shape) {
      best_shape = shape;
      winners.assign(1, &c);
    } else if (shape == best_shape) {
      winners.push_back(&c);
    }
  }
  Match m;
  if (winners.empty()) return m;
  std::vector<std::string> allowed;
  for (const Compiled* c : winners) {
    if (method == c->route->method) {
      m.kind = Match::Kind::kFound;
      m.handler = c->route->handler;
      m.route = c->route;
      for (size_t i = 0; i < c->segments.size(); ++i) {
        if (c->segments[i][0] == ':') m.params.emplace_back(c->segments[i].substr(1), std::string(segs[i]));
      }
      return m;
    }
    if (std::find(allowed.begin(), allowed.end(), c->route->method) == allowed.end()) {
      allowed.emplace_back(c->route->method);
    }
  }
  m.kind = Match::Kind::kMethodNotAllowed;
  for (size_t i = 0; i < allowed.size(); ++i) {
    if (i) m.allow += ", ";
    m.allow += allowed[i];
  }
  return m;
}

}  // namespace chat::http

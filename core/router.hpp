// Route tables in the style of Redis's command table: {method, pattern, function} rows with :captures.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/http.hpp"

namespace chat {
struct Context;
}

namespace chat::http {

using Handler = Response (*)(Context& ctx, Request& req);

struct Route {
  const char* method;   // "GET", "POST", ...
  const char* pattern;  // "/api/v1/users/:id" — a segment starting with ':' captures
  Handler handler;
};

// The outcome of matching a request path and method against a table.
struct Match {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed } kind = Kind::kNotFound;
  Handler handler = nullptr;
  const Route* route = nullptr;  // for kFound
  std::vector<std::pair<std::string, std::string>> params;
  std::string allow;  // for kMethodNotAllowed: "GET, PUT"
};

class Router {
 public:
  explicit Router(std::vector<Route> routes);

  // Trailing slashes are ignored ("/users/" is "/users"). Among patterns matching the path, the one
  // with a literal segment where another has a capture wins (leftmost difference decides), so
  // "/users/me" beats "/users/:id"; a method that the winning pattern lacks is a 405 with Allow.
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Compiled {
    const Route* route;
    std::vector<std::string> segments;
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

// Splits a path on '/', dropping empty segments (so trailing and doubled slashes do not matter).
std::vector<std::string_view> split_path(std::string_view path);

// A pattern as OpenAPI writes it: segments as the router reads them (no trailing or doubled slash), each
// ":name" capture as "{name}" ("/api/v1/users/:id/" -> "/api/v1/users/{id}", "/" stays "/").
std::string openapi_path(std::string_view pattern);

// The table as `--routes` prints it for docs/gen_openapi.py and the tests, rows in table order:
// [{"method":"GET","path":"/api/v1/users/{id}"}, ...].
std::string routes_json(const std::vector<Route>& routes);

}  // namespace chat::http

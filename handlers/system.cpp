// /health and /: what operators and load balancers ask first.
#include "core/log.hpp"
#include "handlers/routes.hpp"

namespace chat::handlers {
namespace {

using http::Request;
using http::Response;

constexpr const char* kVersion = "0.1.0";

// 200 when PostgreSQL and Redis both answer; 503 naming the part that does not.
Response health(Context& ctx, Request&) {
  bool pg = ctx.db.ping();
  bool redis = ctx.redis.ping();
  json::Value out = json::Value::object();
  out.set("status", pg && redis ? "healthy" : "unhealthy")
      .set("postgres", pg ? "ok" : "unavailable")
      .set("redis", redis ? "ok" : "unavailable");
  if (!pg || !redis) log::warn("health_degraded", {{"postgres", pg ? "ok" : "down"}, {"redis", redis ? "ok" : "down"}});
  return Response::json(pg && redis ? 200 : 503, out);
}

Response root(Context&, Request&) {
  json::Value out = json::Value::object();
  out.set("message", "Chat API").set("version", kVersion).set("docs", "/docs");
  return Response::json(200, out);
}

}  // namespace

std::vector<http::Route> system_routes() {
  return {
      {"GET", "/health", health},
      {"GET", "/", root},
  };
}

}  // namespace chat::handlers

// /health, / and /metrics: what operators, load balancers and Prometheus ask first.
#include <algorithm>

#include "core/heartbeat.hpp"
#include "core/http_metrics.hpp"
#include "core/log.hpp"
#include "handlers/routes.hpp"
#include "core/stream.hpp"

namespace chat::handlers {
namespace {

using http::Request;
using http::Response;

constexpr const char* kVersion = "0.1.0";

// One component of /health: its instances by heartbeat age (core/heartbeat.hpp). "ok": at least one live
// instance and no stale one; "degraded": some are stale (died, or hang); "unavailable": none alive.
json::Value component(const std::vector<heartbeat::Instance>& instances, bool* ok) {
  int alive = 0;
  json::Value list = json::Value::array();
  for (const auto& i : instances) {
    alive += i.alive();
    json::Value one = json::Value::object();
    one.set("id", i.id).set("heartbeat_age_s", static_cast<double>(i.age_ms) / 1000.0).set("alive", i.alive());
    list.push(std::move(one));
  }
  const int stale = static_cast<int>(instances.size()) - alive;
  const char* status = alive == 0 ? "unavailable" : stale > 0 ? "degraded" : "ok";
  *ok = std::string_view(status) == "ok";
  json::Value out = json::Value::object();
  out.set("status", status).set("alive", alive).set("stale", stale).set("instances", std::move(list));
  return out;
}

// 503 when PostgreSQL or Redis does not answer (the API cannot work), naming it. Otherwise 200: "healthy", or
// "degraded" when a worker or realtime daemon is missing (the API works; live delivery or background jobs
// do not), each component listed with its instances so that a monitor sees what is gone.
Response health(Context& ctx, Request&) {
  bool pg = ctx.db.ping();
  bool redis = ctx.redis.ping();
  json::Value out = json::Value::object();
  bool workers_ok = false;
  bool realtime_ok = false;
  json::Value workers;
  json::Value realtime;
  if (redis) {
    try {
      workers = component(heartbeat::read(ctx.redis, heartbeat::Kind::kWorker), &workers_ok);
      realtime = component(heartbeat::read(ctx.redis, heartbeat::Kind::kRealtime), &realtime_ok);
    } catch (const redis::RedisError&) {
      redis = false;
    }
  }
  const char* status = !pg || !redis ? "unhealthy" : workers_ok && realtime_ok ? "healthy" : "degraded";
  out.set("status", status).set("postgres", pg ? "ok" : "unavailable").set("redis", redis ? "ok" : "unavailable");
  if (redis) out.set("workers", std::move(workers)).set("realtime", std::move(realtime));
  if (!pg || !redis || !workers_ok || !realtime_ok) {
    log::warn("health_degraded", {{"postgres", pg ? "ok" : "down"}, {"redis", redis ? "ok" : "down"},
                                  {"workers", workers_ok ? "ok" : "missing"}, {"realtime", realtime_ok ? "ok" : "missing"}});
  }
  return Response::json(pg && redis ? 200 : 503, out);
}

Response root(Context&, Request&) {
  json::Value out = json::Value::object();
  out.set("message", "Chat API").set("version", kVersion).set("docs", "/docs");
  return Response::json(200, out);
}

// Prometheus text exposition (version 0.0.4): the handlers' requests and latencies, and the job queue
// from chat-worker's Redis counters (each realtime daemon serves its own socket metrics).
Response metrics(Context& ctx, Request&) {
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  bool redis_up = true;
  try {
    out += http::render_request_metrics(ctx.redis);
    const stream::QueueStats q = stream::queue_stats(ctx.redis);
    metric("chat_jobs_total", "counter", "Background jobs by outcome (done, retried, dead_lettered).");
    out += "chat_jobs_total{outcome=\"done\"} " + std::to_string(q.done) + "\n";
    out += "chat_jobs_total{outcome=\"retried\"} " + std::to_string(q.retried) + "\n";
    out += "chat_jobs_total{outcome=\"dead_lettered\"} " + std::to_string(q.dead_lettered) + "\n";
    metric("chat_jobs_by_type_total", "counter", "Background jobs by type and outcome.");
    for (const auto& [type, outcomes] : q.by_type) {
      for (const auto& [outcome, n] : outcomes) {
        out += "chat_jobs_by_type_total{type=\"" + type + "\",outcome=\"" + outcome + "\"} " + std::to_string(n) + "\n";
      }
    }
    metric("chat_jobs_queue_depth", "gauge", "Jobs in the chat:jobs stream, waiting or in flight.");
    out += "chat_jobs_queue_depth " + std::to_string(q.depth) + "\n";
    metric("chat_jobs_in_flight", "gauge", "Jobs taken by a worker and not acked yet.");
    out += "chat_jobs_in_flight " + std::to_string(q.pending) + "\n";
    metric("chat_jobs_delayed", "gauge", "Jobs waiting for their retry time.");
    out += "chat_jobs_delayed " + std::to_string(q.delayed) + "\n";
    metric("chat_jobs_dead", "gauge", "Jobs in the dead-letter stream chat:jobs:dead.");
    out += "chat_jobs_dead " + std::to_string(q.dead) + "\n";
    metric("chat_jobs_oldest_age_seconds", "gauge", "Age of the oldest job in chat:jobs.");
    out += "chat_jobs_oldest_age_seconds " + std::to_string(static_cast<double>(q.oldest_age_ms.value_or(0)) / 1000) + "\n";
    metric("chat_heartbeat_age_seconds", "gauge",
           "Age of the last heartbeat of each worker and realtime daemon (stale past 10 s: dead or hung).");
    for (auto kind : {heartbeat::Kind::kWorker, heartbeat::Kind::kRealtime}) {
      for (const auto& i : heartbeat::read(ctx.redis, kind)) {
        out += std::string("chat_heartbeat_age_seconds{kind=\"") + heartbeat::name(kind) + "\",instance=\"" + i.id +
               "\"} " + std::to_string(static_cast<double>(i.age_ms) / 1000.0) + "\n";
      }
    }
  } catch (const std::exception& e) {  // Redis down, or a reply not shaped as expected
    log::warn("metrics_redis_failed", {{"error", e.what()}});
    redis_up = false;
    out.clear();
  }
  metric("chat_redis_up", "gauge", "Whether Redis answered the metrics queries.");
  out += std::string("chat_redis_up ") + (redis_up ? "1" : "0") + "\n";
  Response r;
  r.status = 200;
  r.body = std::move(out);
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return r;
}

}  // namespace

std::vector<http::Route> system_routes() {
  return {
      {"GET", "/health", health},
      {"GET", "/", root},
      {"GET", "/metrics", metrics},
  };
}

}  // namespace chat::handlers

// /health, / and /metrics: what operators, load balancers and Prometheus ask first.
#include <algorithm>

#include "core/heartbeat.hpp"
#include "core/http_metrics.hpp"
#include "core/log.hpp"
#include "core/prom_text.hpp"
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

// The Prometheus page of the handlers (their requests and latencies, summed over every process) and of the
// job queue from chat-worker's Redis counters; each realtime daemon and each worker serves its own too.
Response metrics(Context& ctx, Request&) {
  prom::Page page;
  bool redis_up = true;
  try {
    page = http::render_request_metrics(ctx.redis);
    const stream::QueueStats q = stream::queue_stats(ctx.redis);
    page.counter("chat_jobs_total", "Background jobs by outcome (done, retried, dead_lettered).")
        .add(static_cast<double>(q.done), {{"outcome", "done"}})
        .add(static_cast<double>(q.retried), {{"outcome", "retried"}})
        .add(static_cast<double>(q.dead_lettered), {{"outcome", "dead_lettered"}});
    page.counter("chat_jobs_by_type_total", "Background jobs by type and outcome.");
    for (const auto& [type, outcomes] : q.by_type) {
      for (const auto& [outcome, n] : outcomes) page.add(static_cast<double>(n), {{"type", type}, {"outcome", outcome}});
    }
    page.gauge("chat_jobs_queue_depth", "Jobs in the chat:jobs stream, waiting or in flight.")
        .add(static_cast<double>(q.depth));
    page.gauge("chat_jobs_in_flight", "Jobs taken by a worker and not acked yet.").add(static_cast<double>(q.pending));
    page.gauge("chat_jobs_delayed", "Jobs waiting for their retry time.").add(static_cast<double>(q.delayed));
    page.gauge("chat_jobs_dead", "Jobs in the dead-letter stream chat:jobs:dead.").add(static_cast<double>(q.dead));
    page.gauge("chat_jobs_oldest_age_seconds", "Age of the oldest job in chat:jobs (0: none).")
        .add(static_cast<double>(q.oldest_age_ms.value_or(0)) / 1000);
    page.gauge("chat_heartbeat_age_seconds",
               "Age of the last heartbeat of each worker and realtime daemon (stale past 10 s: dead or hung).");
    for (auto kind : {heartbeat::Kind::kWorker, heartbeat::Kind::kRealtime}) {
      for (const auto& i : heartbeat::read(ctx.redis, kind)) {
        page.add(static_cast<double>(i.age_ms) / 1000.0, {{"kind", heartbeat::name(kind)}, {"instance", i.id}});
      }
    }
  } catch (const std::exception& e) {  // Redis down, or a reply not shaped as expected
    log::warn("metrics_redis_failed", {{"error", e.what()}});
    redis_up = false;
    page = prom::Page();
  }
  page.gauge("chat_redis_up", "Whether Redis answered the metrics queries.").add(redis_up ? 1 : 0);
  Response r;
  r.status = 200;
  r.body = page.text();
  r.content_type = prom::kContentType;
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

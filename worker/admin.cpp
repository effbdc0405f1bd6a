// chat-worker --stats / --dead-letter: reads the queue's Redis keys and prints them for people or (--json) machines.
#include "worker/admin.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "core/redis.hpp"
#include "core/stream.hpp"

namespace chat::worker {

const char* const kAdminUsage =
    "usage: chat-worker                       run the worker daemon\n"
    "       chat-worker --stats [--json]      queue depth, in-flight jobs per consumer, delayed, dead, totals\n"
    "       chat-worker --dead-letter list [ID] [--json]\n"
    "       chat-worker --dead-letter retry [ID] [--json]   back to the queue, attempts reset (all without ID)\n"
    "       chat-worker --dead-letter drop [ID] [--json]    delete (all without ID)\n";

namespace {

// KEYS: dead, jobs. ARGV: dead id, field, value, ... The XDEL decides: a job is revived once.
constexpr const char* kReviveScript = R"(
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2)))";

std::string seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string field_of(const Fields& f, std::string_view name) {
  for (const auto& [k, v] : f) {
    if (k == name) return v;
  }
  return "";
}

// "<type> <period> <consumer> <ms> <ok|failed> <duration>" split in its words.
std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

int64_t to_int(const std::string& s) {
  try {
    return std::stoll(s);
  } catch (const std::exception&) {
    return 0;
  }
}

redis::Reply must(redis::Client& r, const std::vector<std::string>& args) {
  redis::Reply reply = r.command(args);
  if (reply.is_error()) throw redis::RedisError(args[0] + ": " + reply.str());
  return reply;
}

std::vector<std::pair<std::string, Fields>> dead_entries(redis::Client& r, const std::optional<std::string>& id) {
  std::vector<std::pair<std::string, Fields>> out;
  std::string start = id ? *id : "-";
  const std::string end = id ? *id : "+";
  for (;;) {
    redis::Reply page = must(r, {"XRANGE", stream::kDead, start, end, "COUNT", "500"});
    for (size_t i = 0; i < page.size(); ++i) out.emplace_back(page.element(i).element(0).str(), fields_of(page.element(i)));
    if (id || page.size() < 500) break;
    start = "(" + out.back().first;
  }
  return out;
}

void print(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

}  // namespace

bool is_admin_invocation(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--stats" || a == "--dead-letter") return true;
  }
  return false;
}

std::optional<AdminCommand> parse_admin_args(const std::vector<std::string>& args, std::string* error) {
  AdminCommand cmd;
  std::vector<std::string> rest;
  bool stats = false, dead = false;
  for (const auto& a : args) {
    if (a == "--json") cmd.json = true;
    else if (a == "--stats") stats = true;
    else if (a == "--dead-letter") dead = true;
    else if (!a.empty() && a[0] == '-') return *error = "unknown option " + a, std::nullopt;
    else rest.push_back(a);
  }
  if (stats == dead) return *error = "give exactly one of --stats and --dead-letter", std::nullopt;
  if (stats) {
    if (!rest.empty()) return *error = "--stats takes no argument", std::nullopt;
    return cmd;
  }
  if (rest.empty() || rest.size() > 2) return *error = "--dead-letter needs list, retry or drop, and at most one id", std::nullopt;
  if (rest[0] == "list") cmd.kind = AdminCommand::Kind::kDeadList;
  else if (rest[0] == "retry") cmd.kind = AdminCommand::Kind::kDeadRetry;
  else if (rest[0] == "drop") cmd.kind = AdminCommand::Kind::kDeadDrop;
  else return *error = "unknown --dead-letter action " + rest[0], std::nullopt;
  if (rest.size() == 2) {
    if (!stream::StreamId::parse(rest[1]) || rest[1].find('-') == std::string::npos) {
      return *error = "not a stream entry id: " + rest[1], std::nullopt;
    }
    cmd.id = rest[1];
  }
  return cmd;
}

std::string render_stats_text(const Stats& s) {
  std::ostringstream o;
  o << "queue " << stream::kJobs << " (group " << stream::kGroup << ")\n";
  o << "  depth           " << s.depth << "  (waiting " << std::max<int64_t>(s.depth - s.pending, 0) << ", in flight "
    << s.pending << ")\n";
  o << "  oldest job age  " << (s.oldest_age_ms ? seconds(*s.oldest_age_ms) : "-") << "\n";
  o << "  delayed         " << s.delayed;
  if (s.next_delayed_in_ms) o << "  (next due in " << seconds(*s.next_delayed_in_ms) << ")";
  o << "\n  dead-letter     " << s.dead << "  (" << stream::kDead << ")\n";
  o << "consumers\n";
  if (s.consumers.empty()) o << "  (none)\n";
  for (const auto& c : s.consumers) o << "  " << c.name << "  in flight " << c.pending << "  idle " << seconds(c.idle_ms) << "\n";
  o << "totals\n  done " << s.done << "  retried " << s.retried << "  dead-lettered " << s.dead_lettered << "\n";
  o << "periodic jobs (last run)\n";
  if (s.periodic.empty()) o << "  (none yet)\n";
  for (const auto& rec : s.periodic) {
    auto w = words(rec);
    if (w.size() < 6) continue;
    o << "  " << w[0] << "  " << seconds(std::max<int64_t>(s.now_ms - to_int(w[3]), 0)) << " ago by " << w[2] << " ("
      << w[4] << ", " << w[5] << " ms)\n";
  }
  return o.str();
}

json::Value stats_json(const Stats& s) {
  json::Value consumers = json::Value::array();
  for (const auto& c : s.consumers) {
    json::Value v = json::Value::object();
    v.set("name", c.name).set("pending", c.pending).set("idle_ms", c.idle_ms);
    consumers.push(std::move(v));
  }
  json::Value periodic = json::Value::array();
  for (const auto& rec : s.periodic) {
    auto w = words(rec);
    if (w.size() < 6) continue;
    json::Value v = json::Value::object();
    v.set("type", w[0]).set("period", to_int(w[1])).set("consumer", w[2]).set("at_ms", to_int(w[3]));
    v.set("ok", w[4] == "ok").set("duration_ms", to_int(w[5]));
    periodic.push(std::move(v));
  }
  json::Value totals = json::Value::object();
  totals.set("done", s.done).set("retried", s.retried).set("dead_lettered", s.dead_lettered);
  json::Value out = json::Value::object();
  out.set("queue", stream::kJobs).set("depth", s.depth).set("waiting", std::max<int64_t>(s.depth - s.pending, 0));
  out.set("in_flight", s.pending).set("consumers", std::move(consumers)).set("delayed", s.delayed).set("dead", s.dead);
  out.set("totals", std::move(totals));
  if (s.oldest_age_ms) out.set("oldest_age_ms", *s.oldest_age_ms);
  else out.set_null("oldest_age_ms");
  if (s.next_delayed_in_ms) out.set("next_delayed_in_ms", *s.next_delayed_in_ms);
  else out.set_null("next_delayed_in_ms");
  out.set("periodic", std::move(periodic));
  return out;
}

std::string render_dead_text(const std::string& id, const Fields& f) {
  std::string payload = field_of(f, "payload");
  if (payload.size() > 300) payload = payload.substr(0, 300) + "...";
  std::ostringstream o;
  o << id << "  " << field_of(f, "type") << "  attempts " << field_of(f, "attempts") << "  failed " << field_of(f, "failed_at")
    << " by " << field_of(f, "failed_by") << "\n";
  o << "  job id:  " << field_of(f, "job_id") << "\n";
  o << "  error:   " << field_of(f, "error") << "\n";
  o << "  payload: " << payload << "\n";
  return o.str();
}

json::Value dead_json(const std::string& id, const Fields& f) {
  json::Value all = json::Value::object();
  for (const auto& [k, v] : f) all.set(k.c_str(), v);
  json::Value out = json::Value::object();
  out.set("id", id).set("type", field_of(f, "type")).set("job_id", field_of(f, "job_id"));
  out.set("attempts", to_int(field_of(f, "attempts"))).set("error", field_of(f, "error"));
  out.set("failed_at", field_of(f, "failed_at")).set("failed_by", field_of(f, "failed_by"));
  out.set("payload", field_of(f, "payload")).set("fields", std::move(all));
  return out;
}

int run_admin(const AdminCommand& cmd, const Config& config) {
  try {
    redis::Client r(redis::target_of(config));
    using Kind = AdminCommand::Kind;
    if (cmd.kind == Kind::kStats) {
      Stats s = stream::queue_stats(r);
      print(cmd.json ? stats_json(s).dump() + "\n" : render_stats_text(s));
      return 0;
    }
    auto entries = dead_entries(r, cmd.id);
    if (cmd.id && entries.empty()) {
      std::fprintf(stderr, "chat-worker: no dead job %s\n", cmd.id->c_str());
      return 1;
    }
    if (cmd.kind == Kind::kDeadList) {
      json::Value list = json::Value::array();
      std::string text;
      for (const auto& [id, f] : entries) {
        if (cmd.json) list.push(dead_json(id, f));
        else text += render_dead_text(id, f);
      }
      if (!cmd.json && entries.empty()) text = "no dead jobs\n";
      print(cmd.json ? list.dump() + "\n" : text);
      return 0;
    }
    json::Value ids = json::Value::array();
    int64_t n = 0;
    for (const auto& [id, f] : entries) {
      if (cmd.kind == Kind::kDeadRetry) {
        std::vector<std::string> args{"EVAL", kReviveScript, "2", stream::kDead, stream::kJobs, id};
        for (const auto& [k, v] : revive_fields(f)) {
          args.push_back(k);
          args.push_back(v);
        }
        redis::Reply added = must(r, args);
        if (added.is_nil()) continue;  // someone else revived or dropped it meanwhile
        ids.push(id);
      } else {
        if (must(r, {"XDEL", stream::kDead, id}).integer() == 0) continue;
        ids.push(id);
      }
      ++n;
    }
    const char* verb = cmd.kind == Kind::kDeadRetry ? "retried" : "dropped";
    if (cmd.json) {
      json::Value out = json::Value::object();
      out.set(verb, n).set("ids", std::move(ids));
      print(out.dump() + "\n");
    } else {
      print(std::string(verb) + " " + std::to_string(n) + " dead job" + (n == 1 ? "" : "s") + "\n");
    }
    return 0;
  } catch (const redis::RedisError& e) {
    std::fprintf(stderr, "chat-worker: %s\n", e.what());
    return 1;
  }
}

}  // namespace chat::worker

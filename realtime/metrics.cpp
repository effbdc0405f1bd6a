// Prometheus text exposition format 0.0.4: # HELP / # TYPE lines, then samples.
#include "realtime/metrics.hpp"

namespace chat::realtime {
namespace {

void metric(std::string& out, const char* name, const char* type, const char* help, uint64_t value) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

}  // namespace

std::string Metrics::render(uint64_t ring_size, uint64_t pending_auth) const {
  std::string out;
  out.reserve(4096);
  metric(out, "chat_realtime_tcp_connections", "gauge", "Accepted TCP connections still open.", tcp_connections);
  metric(out, "chat_realtime_open_sockets", "gauge", "Open WebSocket connections.", open_sockets);
  metric(out, "chat_realtime_local_users", "gauge", "Users with at least one socket on this daemon.", local_users);
  metric(out, "chat_realtime_pending_upgrades", "gauge", "Upgrades waiting for authentication.", pending_auth);
  metric(out, "chat_realtime_ring_events", "gauge", "Recent stream events kept in memory for resumes.", ring_size);

  out.append("# HELP chat_realtime_upgrades_total WebSocket upgrade requests by outcome.\n");
  out.append("# TYPE chat_realtime_upgrades_total counter\n");
  out.append("chat_realtime_upgrades_total{result=\"accepted\",status=\"101\"} ")
      .append(std::to_string(upgrades_accepted))
      .append("\n");
  for (const auto& [status, n] : upgrades_refused) {
    out.append("chat_realtime_upgrades_total{result=\"refused\",status=\"")
        .append(std::to_string(status))
        .append("\"} ")
        .append(std::to_string(n))
        .append("\n");
  }
  metric(out, "chat_realtime_stream_events_total", "counter", "Entries read from the chat:events stream.",
         stream_events_in);
  metric(out, "chat_realtime_stream_duplicates_total", "counter", "Stream entries dropped as outbox duplicates.",
         stream_duplicates);
  metric(out, "chat_realtime_ephemeral_total", "counter", "Messages received on chat:ephemeral.", ephemeral_in);
  metric(out, "chat_realtime_frames_out_total", "counter", "Frames queued to sockets.", frames_out);
  metric(out, "chat_realtime_bytes_out_total", "counter", "Bytes written to sockets.", bytes_out);
  metric(out, "chat_realtime_backpressure_drops_total", "counter",
         "Sockets closed with 1013 because they stopped reading (unsent output past 4 MiB, or none of it taken for 10 s).", backpressure_drops);
  metric(out, "chat_realtime_pings_total", "counter", "Ping frames sent.", pings_sent);
  metric(out, "chat_realtime_client_messages_total", "counter", "Messages received from clients.", client_messages);
  metric(out, "chat_realtime_replayed_events_total", "counter", "Events replayed to resuming sockets.",
         replayed_events);
  metric(out, "chat_realtime_resyncs_total", "counter", "resync_required sent.", resyncs);
  metric(out, "chat_realtime_revocations_total", "counter", "Sockets closed by a session revocation.", revocations);
  metric(out, "chat_realtime_http_requests_total", "counter", "Plain HTTP requests (not upgrades).", http_requests);
  out.append("# HELP chat_realtime_closes_total Closed sockets by close code (timeout: no answer for 75 s).\n");
  out.append("# TYPE chat_realtime_closes_total counter\n");
  for (const auto& [code, n] : closes) {
    out.append("chat_realtime_closes_total{code=\"").append(code).append("\"} ").append(std::to_string(n)).append("\n");
  }
  return out;
}

}  // namespace chat::realtime

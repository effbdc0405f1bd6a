// The daemon's Prometheus page (core/prom_text writes the format).
#include "realtime/metrics.hpp"

#include "core/prom_text.hpp"

namespace chat::realtime {

std::string Metrics::render(uint64_t ring_size, uint64_t pending_auth) const {
  auto n = [](uint64_t v) { return static_cast<double>(v); };
  prom::Page page;
  page.gauge("chat_realtime_tcp_connections", "Accepted TCP connections still open.").add(n(tcp_connections));
  page.gauge("chat_realtime_open_sockets", "Open WebSocket connections.").add(n(open_sockets));
  page.gauge("chat_realtime_local_users", "Users with at least one socket on this daemon.").add(n(local_users));
  page.gauge("chat_realtime_descriptor_limit",
             "Open descriptors the daemon may have (RLIMIT_NOFILE): one per TCP connection, and a few of its own.")
      .add(n(descriptor_limit));
  page.gauge("chat_realtime_pending_upgrades", "Upgrades waiting for authentication.").add(n(pending_auth));
  page.gauge("chat_realtime_ring_events", "Recent stream events kept in memory for resumes.").add(n(ring_size));
  page.counter("chat_realtime_upgrades_total", "WebSocket upgrade requests by outcome.")
      .add(n(upgrades_accepted), {{"result", "accepted"}, {"status", "101"}});
  for (const auto& [status, count] : upgrades_refused) {
    page.add(n(count), {{"result", "refused"}, {"status", std::to_string(status)}});
  }
  page.counter("chat_realtime_stream_events_total", "Entries read from the chat:events stream.")
      .add(n(stream_events_in));
  page.counter("chat_realtime_stream_duplicates_total", "Stream entries dropped as outbox duplicates.")
      .add(n(stream_duplicates));
  page.counter("chat_realtime_stream_reopens_total",
               "Times the stream reader's Redis connection was reopened (a restart or a failover).")
      .add(n(stream_reopens));
  page.counter("chat_realtime_ephemeral_total", "Messages received on chat:ephemeral.").add(n(ephemeral_in));
  page.counter("chat_realtime_frames_out_total", "Frames queued to sockets.").add(n(frames_out));
  page.counter("chat_realtime_bytes_out_total", "Bytes written to sockets.").add(n(bytes_out));
  page.counter("chat_realtime_backpressure_drops_total",
               "Sockets closed with 1013 because they stopped reading (unsent output past 4 MiB, or none of it taken "
               "for 10 s).")
      .add(n(backpressure_drops));
  page.counter("chat_realtime_pings_total", "Ping frames sent.").add(n(pings_sent));
  page.counter("chat_realtime_client_messages_total", "Messages received from clients.").add(n(client_messages));
  page.counter("chat_realtime_replayed_events_total", "Events replayed to resuming sockets.").add(n(replayed_events));
  page.counter("chat_realtime_resyncs_total", "resync_required sent.").add(n(resyncs));
  page.counter("chat_realtime_revocations_total", "Sockets closed by a session revocation.").add(n(revocations));
  page.counter("chat_realtime_http_requests_total", "Plain HTTP requests (not upgrades).").add(n(http_requests));
  page.counter("chat_realtime_closes_total", "Closed sockets by close code (timeout: no answer for 75 s).");
  for (const auto& [code, count] : closes) page.add(n(count), {{"code", code}});
  return page.text();
}

}  // namespace chat::realtime

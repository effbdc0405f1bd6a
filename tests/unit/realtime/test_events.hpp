// Helpers for the realtime unit tests: stream events built like the handlers write them, and a Sink
// that records what each socket would have received.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "realtime/hub.hpp"
#include "realtime/stream_event.hpp"
#include "realtime/ws_codec.hpp"

namespace chat::realtime::testing {

inline std::shared_ptr<StreamEvent> event(const std::string& id, const std::string& type, const std::string& conv,
                                          const std::string& audience = "conversation",
                                          const std::string& user_ids = "", const std::string& outbox_id = "") {
  std::map<std::string, std::string> f{{"type", type},          {"conversation_id", conv}, {"audience", audience},
                                       {"user_ids", user_ids},  {"outbox_id", outbox_id},
                                       {"payload", "{\"type\":\"" + type + "\",\"channel_id\":\"" + conv + "\"}"}};
  auto e = make_event(id, f, 0);
  return std::make_shared<StreamEvent>(std::move(*e));
}

// Decodes the server frames a socket got back into their JSON texts.
inline std::string text_of(const Frame& f) {
  ws::Decoder d;
  // Server frames are unmasked; re-encode as a masked client frame so the server-side decoder reads it.
  const std::string& bytes = *f;
  size_t header = 2;
  uint64_t len = static_cast<uint8_t>(bytes[1]) & 0x7F;
  if (len == 126) header = 4;
  if (len == 127) header = 10;
  d.feed(ws::encode_masked_frame(ws::Opcode::kText, std::string_view(bytes).substr(header), {1, 2, 3, 4}));
  return d.next().payload;
}

class RecordingSink : public Sink {
 public:
  void send(uint64_t conn, const Frame& frame) override { got[conn].push_back(frame); }
  std::vector<std::string> texts(uint64_t conn) const {
    std::vector<std::string> out;
    auto it = got.find(conn);
    if (it == got.end()) return out;
    for (const auto& f : it->second) out.push_back(text_of(f));
    return out;
  }
  size_t count(uint64_t conn) const {
    auto it = got.find(conn);
    return it == got.end() ? 0 : it->second.size();
  }
  void clear() { got.clear(); }
  std::map<uint64_t, std::vector<Frame>> got;
};

}  // namespace chat::realtime::testing

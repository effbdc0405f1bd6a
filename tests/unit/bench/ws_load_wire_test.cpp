// Tests the load generator's pure pieces (tests/bench/ws_load_wire.hpp) and the codec's client-side reader
// (ws::read_server_frame) it parses the daemon's frames with, against the daemon's own encoders.
#include "tests/bench/ws_load_wire.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "realtime/ws_codec.hpp"
#include "realtime/ws_handshake.hpp"

namespace chat::bench {
namespace {

using ws::Opcode;
using ws::ServerFrame;

TEST(WsLoadUpgrade, RequestPassesTheDaemonsHandshakeChecks) {
  ws::RequestParser parser;
  ws::ParseResult r = parser.feed(upgrade_request("/ws?token=abc.def", "127.0.0.1"));
  ASSERT_EQ(r.status, ws::ParseStatus::kRequest);
  EXPECT_EQ(r.request.target, "/ws?token=abc.def");
  ws::UpgradeCheck check = ws::validate_upgrade(r.request);
  ASSERT_TRUE(check.ok) << check.detail;
  EXPECT_EQ(ws::query_param(r.request.target, "token"), "abc.def");
}

TEST(WsLoadUpgrade, TheDaemonsAnswerOpensWithFramesBehindIt) {
  const std::string head = ws::build_upgrade_response(ws::accept_key(kClientKey));
  const std::string frame = ws::encode_text("{\"type\":\"connection_established\"}");
  UpgradeAnswer a = read_upgrade_answer(head + frame);
  ASSERT_EQ(a.status, UpgradeAnswer::Status::kOpen);
  EXPECT_EQ(a.head_size, head.size());
  for (size_t cut = 0; cut + 1 < head.size(); ++cut) {
    EXPECT_EQ(read_upgrade_answer(head.substr(0, cut)).status, UpgradeAnswer::Status::kNeedMore) << cut;
  }
}

TEST(WsLoadUpgrade, RefusalsAndBad101sAreRefused) {
  UpgradeAnswer a = read_upgrade_answer(ws::build_http_error(401, "{\"detail\":\"Could not validate credentials\"}"));
  EXPECT_EQ(a.status, UpgradeAnswer::Status::kRefused);
  EXPECT_EQ(a.why, "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(read_upgrade_answer(ws::build_upgrade_response("d3Jvbmc=")).status, UpgradeAnswer::Status::kRefused);
  EXPECT_EQ(read_upgrade_answer(
                "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: " + ws::accept_key(kClientKey) + "\r\n\r\n")
                .status,
            UpgradeAnswer::Status::kRefused);
}

TEST(WsLoadMark, ReadsThePhaseAndSendTimeOutOfAPayload) {
  auto m = find_mark(R"({"type":"new_message","content":"bench raw 12345.678901","event_id":"1-0"})", "bench ");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->phase, "raw");
  EXPECT_DOUBLE_EQ(m->sent_s, 12345.678901);
  m = find_mark(R"({"author":"bench x","content": "bench rest 7.5"})", "bench ");  // an earlier non-mark is skipped
  ASSERT_TRUE(m);
  EXPECT_EQ(m->phase, "rest");
  EXPECT_DOUBLE_EQ(m->sent_s, 7.5);
}

TEST(WsLoadMark, AnythingElseIsNotAMark) {
  EXPECT_FALSE(find_mark(R"({"content":"warm-up 3"})", "bench "));
  EXPECT_FALSE(find_mark(R"({"content":"the bench raw 1.0"})", "bench "));  // not at the content's start
  EXPECT_FALSE(find_mark(R"({"content":"bench raw"})", "bench "));
  EXPECT_FALSE(find_mark(R"({"content":"bench raw 1.0x"})", "bench "));
  EXPECT_FALSE(find_mark(R"({"content":"bench raw nan"})", "bench "));
  EXPECT_FALSE(find_mark(R"({"content":"bench raw 1.0)", "bench "));
}

TEST(WsLoadPercentile, NearestRank) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(percentile(v, 50), 50);
  EXPECT_EQ(percentile(v, 99), 99);
  EXPECT_EQ(percentile(v, 100), 100);
  EXPECT_EQ(percentile(v, 0), 1);
  EXPECT_EQ(percentile({7}, 99), 7);
  EXPECT_EQ(percentile({}, 99), 0);
}

TEST(WsServerFrame, ReadsEveryLengthEncodingTheEncoderWrites) {
  for (size_t len : {size_t{0}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536}, size_t{70000}}) {
    const std::string payload(len, 'x');
    const std::string wire = ws::encode_text(payload) + ws::encode_ping("p");
    ServerFrame f = ws::read_server_frame(wire);
    ASSERT_EQ(f.status, ServerFrame::Status::kFrame) << len;
    EXPECT_EQ(f.opcode, Opcode::kText);
    EXPECT_TRUE(f.fin);
    EXPECT_EQ(f.payload, payload);
    ServerFrame ping = ws::read_server_frame(std::string_view(wire).substr(f.size));
    ASSERT_EQ(ping.status, ServerFrame::Status::kFrame);
    EXPECT_EQ(ping.opcode, Opcode::kPing);
    EXPECT_EQ(ping.payload, "p");
    // Every cut short of the whole first frame needs more.
    for (size_t cut : {size_t{0}, size_t{1}, f.size / 2, f.size - 1}) {
      if (cut < f.size) {
        EXPECT_EQ(ws::read_server_frame(wire.substr(0, cut)).status, ServerFrame::Status::kNeedMore) << cut;
      }
    }
  }
}

TEST(WsServerFrame, RefusesWhatAServerMustNotSend) {
  EXPECT_EQ(ws::read_server_frame(ws::encode_masked_frame(Opcode::kText, "hi", {1, 2, 3, 4})).status,
            ServerFrame::Status::kError);                                                            // §5.1: masked
  EXPECT_EQ(ws::read_server_frame(std::string("\xC1\x00", 2)).status, ServerFrame::Status::kError);  // RSV1
  EXPECT_EQ(ws::read_server_frame(std::string("\x83\x00", 2)).status, ServerFrame::Status::kError);  // opcode 3
  EXPECT_EQ(ws::read_server_frame(std::string("\x09\x00", 2)).status, ServerFrame::Status::kError);  // fragmented ping
  EXPECT_EQ(ws::read_server_frame(std::string("\x81\x7E\x00\x05hello", 9)).status,
            ServerFrame::Status::kError);  // non-minimal length
  EXPECT_EQ(ws::read_server_frame(ws::encode_close(1000, "bye")).opcode, Opcode::kClose);
}

}  // namespace
}  // namespace chat::bench

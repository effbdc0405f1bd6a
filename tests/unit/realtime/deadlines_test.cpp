// Tests realtime/deadlines.hpp: each stage's time limit, and an open socket's silence, stall and ping.
#include "realtime/deadlines.hpp"

#include <gtest/gtest.h>

namespace chat::realtime {
namespace {

using State = Connection::State;

class DeadlinesTest : public ::testing::Test {
 protected:
  // No socket behind it: due() reads only the state and the times.
  Connection c{UniqueFd(), 1, "127.0.0.1", 0};
};

TEST_F(DeadlinesTest, TheRequestHeadHasTenSeconds) {
  EXPECT_EQ(due(c, kHandshakeTimeoutMs), Due::kNothing);
  EXPECT_EQ(due(c, kHandshakeTimeoutMs + 1), Due::kHandshakeTimeout);
}

TEST_F(DeadlinesTest, AuthenticationHasThirtySecondsFromAccept) {
  c.set_state(State::kAuthenticating);
  EXPECT_EQ(due(c, kAuthTimeoutMs), Due::kNothing);
  EXPECT_EQ(due(c, kAuthTimeoutMs + 1), Due::kAuthTimeout);
}

TEST_F(DeadlinesTest, AnOpenSocketIsPingedEveryThirtySeconds) {
  c.set_state(State::kOpen);
  EXPECT_EQ(due(c, kPingEveryMs - 1), Due::kNothing);
  EXPECT_EQ(due(c, kPingEveryMs), Due::kPing);
  c.last_ping_ms = kPingEveryMs;
  c.last_read_ms = kPingEveryMs;
  EXPECT_EQ(due(c, kPingEveryMs + 1), Due::kNothing);
}

TEST_F(DeadlinesTest, SilenceWinsOverStallAndPing) {
  c.set_state(State::kOpen);
  c.stalled_since_ms = 1;
  EXPECT_EQ(due(c, kSilenceLimitMs + 1), Due::kSilent);
  c.last_read_ms = kSilenceLimitMs;
  EXPECT_EQ(due(c, kSilenceLimitMs + 1), Due::kOutputStalled) << "the stall before the ping";
}

TEST_F(DeadlinesTest, OutputTheKernelTakesNoneOfIsAStallAfterTenSeconds) {
  c.set_state(State::kOpen);
  c.last_ping_ms = c.last_read_ms = 20'000;
  c.stalled_since_ms = 20'000;
  EXPECT_EQ(due(c, 20'000 + kOutputStallMs), Due::kNothing);
  EXPECT_EQ(due(c, 20'000 + kOutputStallMs + 1), Due::kOutputStalled);
  c.stalled_since_ms = 0;
  EXPECT_EQ(due(c, 20'000 + kOutputStallMs + 1), Due::kNothing) << "0: not stalled";
}

TEST_F(DeadlinesTest, ClosingAndDoneLastUntilTheirDeadline) {
  for (State s : {State::kClosing, State::kDone}) {
    c.set_state(s);
    c.close_deadline_ms = 5'000;
    EXPECT_EQ(due(c, 5'000), Due::kNothing);
    EXPECT_EQ(due(c, 5'001), Due::kCloseTimeout);
    EXPECT_EQ(due(c, 500'000'000), Due::kCloseTimeout) << "no silence rule once closing";
  }
}

}  // namespace
}  // namespace chat::realtime

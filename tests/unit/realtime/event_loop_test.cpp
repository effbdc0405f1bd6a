// The epoll loop on its own: timer order and cancellation, wake-ups from other threads, and stale
// events of a watcher removed earlier in the same batch.
#include "realtime/event_loop.hpp"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace chat::realtime {
namespace {

TEST(EventLoopTest, TimersRunInDeadlineOrderAndCancelledOnesDoNot) {
  EventLoop loop;
  std::vector<int> order;
  loop.add_timer(30, [&] { order.push_back(3); });
  loop.add_timer(10, [&] { order.push_back(1); });
  uint64_t cancelled = loop.add_timer(20, [&] { order.push_back(2); });
  loop.cancel_timer(cancelled);
  loop.add_timer(40, [&] { loop.stop(); });
  loop.run();
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
}

TEST(EventLoopTest, EveryRepeatsUntilStopped) {
  EventLoop loop;
  int ticks = 0;
  loop.every(5, [&] {
    if (++ticks == 3) loop.stop();
  });
  loop.run();
  EXPECT_EQ(ticks, 3);
}

TEST(EventLoopTest, PostFromAnotherThreadWakesTheLoop) {
  EventLoop loop;
  std::thread::id ran_on;
  std::thread other([&] { loop.post([&] { ran_on = std::this_thread::get_id(); loop.stop(); }); });
  int64_t start = monotonic_ms();
  loop.run();  // no timers: without the eventfd this would sit in epoll_wait
  other.join();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_LT(monotonic_ms() - start, 900);
}

TEST(EventLoopTest, AWatcherRemovedInTheSameBatchGetsNoEvent) {
  EventLoop loop;
  int a[2], b[2];
  ASSERT_EQ(pipe(a), 0);
  ASSERT_EQ(pipe(b), 0);
  ASSERT_EQ(write(a[1], "x", 1), 1);
  ASSERT_EQ(write(b[1], "x", 1), 1);
  int calls = 0;
  uint64_t ids[2] = {0, 0};
  // Whichever fires first removes the other (as closing a connection does); the other's event, already
  // in the same epoll_wait batch, must be dropped by its id.
  ids[0] = loop.add(a[0], EPOLLIN, [&](uint64_t, uint32_t) {
    ++calls;
    loop.remove(ids[0]);
    loop.remove(ids[1]);
  });
  ids[1] = loop.add(b[0], EPOLLIN, [&](uint64_t, uint32_t) {
    ++calls;
    loop.remove(ids[0]);
    loop.remove(ids[1]);
  });
  EXPECT_NE(ids[0], ids[1]);
  loop.add_timer(50, [&] { loop.stop(); });
  loop.run();
  EXPECT_EQ(calls, 1);
  for (int fd : {a[0], a[1], b[0], b[1]}) close(fd);
}

}  // namespace
}  // namespace chat::realtime

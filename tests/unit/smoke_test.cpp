// Placeholder replaced by the real unit tests.
#include <gtest/gtest.h>
TEST(Smoke, Builds) { EXPECT_TRUE(true); }

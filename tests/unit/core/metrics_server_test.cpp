// Tests core/metrics_server.hpp: the answer to each kind of request, and a real listener on a free loopback port.
#include "core/metrics_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>

namespace chat {
namespace {

const MetricsServer::Render kPage = [] { return std::string("chat_up 1\n"); };

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(MetricsHttpAnswer, GetMetricsIsThePage) {
  std::string a = metrics_http_answer("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", kPage);
  EXPECT_TRUE(starts_with(a, "HTTP/1.1 200 OK\r\n")) << a;
  EXPECT_NE(a.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << a;
  EXPECT_NE(a.find("Content-Length: 10\r\n"), std::string::npos) << a;
  EXPECT_TRUE(a.ends_with("\r\n\r\nchat_up 1\n")) << a;
  EXPECT_TRUE(starts_with(metrics_http_answer("GET /metrics/?x=1 HTTP/1.0\r\n\r\n", kPage), "HTTP/1.1 200 "));
}

TEST(MetricsHttpAnswer, OtherPathsMethodsAndGarbage) {
  EXPECT_TRUE(starts_with(metrics_http_answer("GET / HTTP/1.1\r\n\r\n", kPage), "HTTP/1.1 404 "));
  std::string post = metrics_http_answer("POST /metrics HTTP/1.1\r\n\r\n", kPage);
  EXPECT_TRUE(starts_with(post, "HTTP/1.1 405 ")) << post;
  EXPECT_NE(post.find("Allow: GET\r\n"), std::string::npos) << post;
  EXPECT_TRUE(starts_with(metrics_http_answer("hello\r\n\r\n", kPage), "HTTP/1.1 400 "));
  EXPECT_TRUE(starts_with(metrics_http_answer("GET /metrics SPDY\r\n\r\n", kPage), "HTTP/1.1 400 "));
}

std::string fetch(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

TEST(MetricsServer, ServesEachScrapeAFreshPageOnLoopback) {
  std::atomic<int> renders{0};
  MetricsServer server("127.0.0.1", 0, [&renders] { return "chat_scrapes " + std::to_string(++renders) + "\n"; });
  ASSERT_GT(server.port(), 0);
  EXPECT_TRUE(fetch(server.port(), "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").ends_with("chat_scrapes 1\n"));
  EXPECT_TRUE(fetch(server.port(), "GET /metrics HTTP/1.1\r\n\r\n").ends_with("chat_scrapes 2\n"));
  EXPECT_TRUE(starts_with(fetch(server.port(), "GET /x HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 "));
  EXPECT_EQ(renders.load(), 2);
}

TEST(MetricsServer, APortInUseIsAnError) {
  MetricsServer first("127.0.0.1", 0, kPage);
  EXPECT_THROW(MetricsServer("127.0.0.1", first.port(), kPage), std::runtime_error);
  EXPECT_THROW(MetricsServer("localhost", 0, kPage), std::runtime_error);
}

}  // namespace
}  // namespace chat

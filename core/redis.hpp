// Redis through hiredis 0.14 (RESP2): a synchronous client per thread that reconnects on failure.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;
struct redisReply;

namespace chat::redis {

class RedisError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ReplyDeleter {
  void operator()(redisReply* r) const;
};
struct ContextDeleter {
  void operator()(redisContext* c) const;
};

class Reply {
 public:
  explicit Reply(redisReply* r) : r_(r) {}
  bool is_nil() const;
  bool is_error() const;
  bool is_string() const;  // bulk or status
  bool is_integer() const;
  bool is_array() const;
  std::string str() const;
  int64_t integer() const;
  size_t size() const;  // array length
  Reply element(size_t i) const;  // a copy-free view is not possible with 0.14's tree; see Element
  const redisReply* raw() const { return r_.get(); }

 private:
  struct Borrowed {};
  Reply(const redisReply* r, Borrowed) : borrowed_(r) {}
  const redisReply* node() const { return r_ ? r_.get() : borrowed_; }
  std::unique_ptr<redisReply, ReplyDeleter> r_;
  const redisReply* borrowed_ = nullptr;
};

// Where to connect: "redis://[:password@]host[:port][/db]" or "unix:///path/to/redis.sock[?password=..&db=..]".
struct Endpoint {
  bool unix_socket = false;
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string path;
  std::string password;
  int db = 0;
};
std::optional<Endpoint> parse_url(const std::string& url);

class Client {
 public:
  explicit Client(std::string url);

  // Runs one command (arguments are sent as binary-safe bulk strings, never formatted).
  // A broken connection is reopened and the command retried once; failure throws RedisError.
  Reply command(const std::vector<std::string>& args);
  // Sends every command, then reads every reply: one round trip. Reconnects and resends once like
  // command() (a resent XADD can append twice: the stream's readers drop repeated outbox ids).
  std::vector<Reply> pipeline(const std::vector<std::vector<std::string>>& commands);
  bool ping();
  // Round trips to the server so far (a pipeline is one), for /metrics.
  uint64_t round_trips() const { return round_trips_; }

 private:
  void connect();

  std::string url_;
  Endpoint ep_;
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  uint64_t round_trips_ = 0;
};

// A connection in RESP2 subscribe mode (SUBSCRIBE, then pushed messages only), for one thread.
// next() waits with poll(2), so a reader thread can check a stop flag between messages without the
// 1 s socket timeout breaking the connection.
class Subscriber {
 public:
  struct Message {
    std::string channel;
    std::string payload;
  };

  explicit Subscriber(std::string url);
  // (Re)connects and subscribes to `channels`; throws RedisError.
  void subscribe(const std::vector<std::string>& channels);
  // The next published message, or nullopt when none came within `timeout_ms`. Throws RedisError
  // when the connection broke: call subscribe() again (messages published meanwhile are lost).
  std::optional<Message> next(int timeout_ms);

 private:
  std::string url_;
  Endpoint ep_;
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
};

}  // namespace chat::redis

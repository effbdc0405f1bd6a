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

namespace chat {
struct Config;
}

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

// A Sentinel's address: "host:port", "[v6]:port"; the port is required (Sentinels are not on 6379).
struct HostPort {
  std::string host;
  int port = 0;
  bool operator==(const HostPort&) const = default;
};
// Every item well-formed (no spaces, a host, a port 1..65535), else nullopt.
std::optional<std::vector<HostPort>> parse_sentinels(const std::vector<std::string>& items);

// Where a program finds its Redis: REDIS_URL's endpoint, or, with REDIS_SENTINELS, the master that those
// Sentinels name REDIS_MASTER_NAME (REDIS_URL then gives only the password and the database number).
struct Target {
  Endpoint endpoint;
  std::vector<HostPort> sentinels;
  std::string master_name;
};
// Throws RedisError on a bad URL or Sentinel list (the config has reported those already).
Target target_of(const std::string& url, const std::vector<std::string>& sentinels = {},
                 const std::string& master_name = "");
// REDIS_URL, REDIS_SENTINELS and REDIS_MASTER_NAME of the config: what every program connects with.
Target target_of(const Config& config);

// What a command's outcome means for its connection. A node that answers READONLY (a demoted master),
// MASTERDOWN or LOADING is not the master to talk to: like a broken connection, the connection is dropped
// and the master asked for again (through Sentinel, when there is one) and the command sent once more.
enum class Outcome { kOk, kIoError, kErrorReply };
enum class Next { kReturn, kReconnectAndRetry, kFail };
Next after(Outcome outcome, std::string_view error_reply, bool retried);

// Whether a message on a Sentinel's +switch-master channel ("<name> <old ip> <old port> <new ip> <new port>")
// announces a new master for `master_name`.
bool announces_switch(std::string_view payload, std::string_view master_name);
// How many master switches this process has heard of for the target's master name. The first call with
// Sentinels starts one watcher thread per name, subscribed to +switch-master on the first Sentinel that answers
// (the next one when it goes away); a Client or Subscriber whose connection is older than the latest switch drops
// it before its next command, so a program follows a failover even where its old connection still works (a
// demoted master answers reads, and a subscriber on it would wait for messages that never come). Always 0 without
// Sentinels.
uint64_t master_generation(const Target& target);

class Client {
 public:
  explicit Client(std::string url);
  explicit Client(Target target);

  // Runs one command (arguments are sent as binary-safe bulk strings, never formatted).
  // A broken connection is reopened and the command retried once; failure throws RedisError.
  Reply command(const std::vector<std::string>& args);
  // Sends every command, then reads every reply: one round trip. Reconnects and resends once like
  // command() (a resent XADD can append twice: the stream's readers drop repeated outbox ids).
  std::vector<Reply> pipeline(const std::vector<std::vector<std::string>>& commands);
  bool ping();
  // Round trips to the server so far (a pipeline is one), for /metrics.
  uint64_t round_trips() const { return round_trips_; }
  // Connections opened so far: a reader that changes when this does may be reading another master.
  uint64_t opens() const { return opens_; }

 private:
  Target target_;
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  uint64_t generation_ = 0;  // master_generation() when ctx_ was opened
  uint64_t round_trips_ = 0;
  uint64_t opens_ = 0;
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
  explicit Subscriber(Target target);
  // (Re)connects and subscribes to `channels`; throws RedisError.
  void subscribe(const std::vector<std::string>& channels);
  // The next published message, or nullopt when none came within `timeout_ms`. Throws RedisError
  // when the connection broke or the master switched: call subscribe() again (messages published meanwhile
  // are lost).
  std::optional<Message> next(int timeout_ms);

 private:
  Target target_;
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  uint64_t generation_ = 0;
};

}  // namespace chat::redis

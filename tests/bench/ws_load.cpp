// ws_load: a WebSocket load generator for chat-realtime (make bench, tests/bench/realtime.py). One epoll thread
// holds thousands of client sockets, spread over several source addresses (one address's ephemeral ports would
// not last); each does the opening handshake with ?token=, waits for connection_established, answers pings, and
// counts the frames it gets. A bench message's content carries its send time ("bench <phase> <CLOCK_MONOTONIC
// seconds>"), so send→receive latency is read from the payload, per phase.
//
//   ws_load --port P --tokens FILE [--host 127.0.0.1] [--sources 127.0.0.31,127.0.0.32] [--path /ws?token=]
//           [--pause-us 200]   (a pause after each epoll batch: see Generator::run; 0 wakes up for every frame)
//
// Socket k (counted from 0 over the whole run) authenticates with line k % n of FILE. Driven over stdin, one
// command a line, each answered by one JSON line on stdout:
//   open N CONCURRENCY MAX_FAILURES  opens N more sockets, CONCURRENCY at a time; stops opening after
//                                     MAX_FAILURES refusals → {"opened":ok,"failed":n,"error":"first","seconds":s}
//   reset                             forgets the latencies and frame counts → {"reset":true}
//   count                             {"open":n,"lost":n,"frames":n,"marked":{"raw":n,..},"last_rx":s,"cpu_s":s}
//   stats PHASE                       {"n":n,"p50":ms,"p99":ms,"max":ms,"arrival_p50":ms,"arrival_p99":ms,
//                                      "first_rx":s,"last_rx":s}: send → parsed here, and send → in the socket
//   close                             resets every socket (RST: no TIME_WAIT for the next run) → {"closed":n}
//   quit
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "realtime/ws_codec.hpp"
#include "tests/bench/ws_load_wire.hpp"

namespace {

using chat::bench::UpgradeAnswer;
using chat::ws::Opcode;
using chat::ws::ServerFrame;

constexpr uint64_t kStdinId = ~uint64_t{0};
constexpr double kHandshakeTimeoutS = 30;
constexpr int kSmallBatch = 64;  // epoll events; see the pause in Generator::run
constexpr std::string_view kMarkPrefix = "bench ";

double monotonic_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CLOCK_REALTIME minus CLOCK_MONOTONIC: the kernel stamps received data in real time, the bench's clock is monotonic.
double realtime_offset_s() {
  timespec rt{}, mono{};
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  return static_cast<double>(rt.tv_sec - mono.tv_sec) + static_cast<double>(rt.tv_nsec - mono.tv_nsec) * 1e-9;
}

double cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

struct Client {
  enum class State : uint8_t { kFree, kConnecting, kUpgrading, kEstablishing, kOpen };
  int fd = -1;
  State state = State::kFree;
  double started_s = 0;
  std::string token;
  std::string in;  // received bytes not parsed yet
};

struct PhaseStats {
  std::vector<double> latencies_s;  // send → parsed here
  std::vector<double> arrivals_s;   // send → in this socket's receive queue (the kernel's SO_TIMESTAMPNS)
  double first_rx = 0;
  double last_rx = 0;
};

class Generator {
 public:
  Generator(std::string host, int port, std::vector<in_addr> sources, std::vector<std::string> tokens, std::string path,
            int pause_us)
      : host_(std::move(host)),
        port_(port),
        sources_(std::move(sources)),
        tokens_(std::move(tokens)),
        path_(std::move(path)),
        epoll_(epoll_create1(EPOLL_CLOEXEC)),
        pause_us_(std::clamp(pause_us, 0, 100'000)) {}

  int run();

 private:
  void on_command(const std::string& line);
  void start_more();
  void start_one();
  void on_event(Client& c, uint32_t events);
  void on_connected(Client& c);
  void on_readable(Client& c);
  // Parses the frames at the start of `bytes`; returns how many bytes it used, or npos when the socket failed.
  size_t on_frames(Client& c, std::string_view bytes, double now, double arrived);
  void fail(Client& c, const std::string& why);
  void lose(Client& c);
  void release(Client& c);
  void finish_open_if_done();
  void check_timeouts(double now);
  void reply(const std::string& json);
  void send_all(Client& c, std::string_view bytes);

  std::string host_;
  int port_;
  std::vector<in_addr> sources_;
  std::vector<std::string> tokens_;
  std::string path_;
  int epoll_;
  std::vector<Client> clients_;
  std::vector<size_t> free_;
  uint64_t next_socket_ = 0;  // socket k uses tokens_[k % n] and sources_[k % m]

  // The open command in progress.
  bool opening_ = false;
  uint64_t to_start_ = 0;
  uint64_t inflight_ = 0;
  uint64_t opened_ = 0;
  uint64_t failed_ = 0;
  uint64_t max_failures_ = 0;
  uint64_t concurrency_ = 0;
  std::string first_error_;
  double open_started_s_ = 0;

  uint64_t open_now_ = 0;
  uint64_t lost_ = 0;
  uint64_t frames_ = 0;
  std::map<std::string, PhaseStats, std::less<>> phases_;
  std::string stdin_buf_;
  bool quit_ = false;
  int pause_us_;
};

int Generator::run() {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kStdinId;
  if (epoll_ < 0 || epoll_ctl(epoll_, EPOLL_CTL_ADD, STDIN_FILENO, &ev) != 0) {
    std::perror("ws_load: epoll");
    return 1;
  }
  constexpr int kMaxEvents = 4096;
  std::vector<epoll_event> events(kMaxEvents);
  double last_timeout_check = monotonic_s();
  while (!quit_) {
    int n = epoll_wait(epoll_, events.data(), kMaxEvents, 100);
    if (n < 0 && errno != EINTR) {
      std::perror("ws_load: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[i].data.u64;
      if (id == kStdinId) {
        char buf[4096];
        ssize_t r = ::read(STDIN_FILENO, buf, sizeof buf);
        if (r <= 0) return 0;  // the driver went away
        stdin_buf_.append(buf, static_cast<size_t>(r));
        for (size_t eol; (eol = stdin_buf_.find('\n')) != std::string::npos;) {
          std::string line = stdin_buf_.substr(0, eol);
          stdin_buf_.erase(0, eol + 1);
          on_command(line);
        }
        continue;
      }
      if (id < clients_.size() && clients_[id].state != Client::State::kFree) on_event(clients_[id], events[i].events);
    }
    if (n > 0 && n < kSmallBatch && pause_us_ > 0) {
      // Over loopback the daemon's send runs this side's TCP receive too, and waking a generator blocked in
      // epoll_wait is an IPI per frame on its CPU (a VM's costliest part of a send). Pausing after a small batch
      // lets frames pile up as they would behind a NIC: one wake-up per batch, at most pause_us_ added to a
      // latency. A big batch says frames are coming faster than they are read: no pause then.
      timespec pause{0, static_cast<long>(pause_us_) * 1000};
      nanosleep(&pause, nullptr);
    }
    const double now = monotonic_s();
    if (opening_ && now - last_timeout_check > 0.5) {
      check_timeouts(now);
      last_timeout_check = now;
    }
    start_more();
    finish_open_if_done();
  }
  return 0;
}

void Generator::reply(const std::string& json) {
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void Generator::on_command(const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "open") {
    uint64_t n = 0, conc = 64, max_fail = 1;
    in >> n >> conc >> max_fail;
    opening_ = true;
    to_start_ = n;
    inflight_ = opened_ = failed_ = 0;
    concurrency_ = std::max<uint64_t>(1, conc);
    max_failures_ = std::max<uint64_t>(1, max_fail);
    first_error_.clear();
    open_started_s_ = monotonic_s();
    start_more();
    finish_open_if_done();
  } else if (cmd == "reset") {
    phases_.clear();
    frames_ = 0;
    reply("{\"reset\":true}");
  } else if (cmd == "count") {
    std::string out = "{\"open\":" + std::to_string(open_now_) + ",\"lost\":" + std::to_string(lost_) +
                      ",\"frames\":" + std::to_string(frames_) + ",\"marked\":{";
    double last_rx = 0;
    bool first = true;
    for (const auto& [phase, st] : phases_) {
      out += (first ? "" : ",") + chat::json::quote(phase) + ":" + std::to_string(st.latencies_s.size());
      first = false;
      last_rx = std::max(last_rx, st.last_rx);
    }
    char tail[96];
    std::snprintf(tail, sizeof tail, "},\"last_rx\":%.6f,\"cpu_s\":%.3f}", last_rx, cpu_s());
    reply(out + tail);
  } else if (cmd == "stats") {
    std::string phase;
    in >> phase;
    auto it = phases_.find(phase);
    std::vector<double> v = it == phases_.end() ? std::vector<double>{} : it->second.latencies_s;
    std::vector<double> a = it == phases_.end() ? std::vector<double>{} : it->second.arrivals_s;
    std::sort(v.begin(), v.end());
    std::sort(a.begin(), a.end());
    char out[320];
    std::snprintf(out, sizeof out,
                  "{\"n\":%zu,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"arrival_p50\":%.3f,\"arrival_p99\":%.3f,"
                  "\"first_rx\":%.6f,\"last_rx\":%.6f}",
                  v.size(), chat::bench::percentile(v, 50) * 1e3, chat::bench::percentile(v, 99) * 1e3,
                  v.empty() ? 0.0 : v.back() * 1e3, chat::bench::percentile(a, 50) * 1e3,
                  chat::bench::percentile(a, 99) * 1e3, it == phases_.end() ? 0.0 : it->second.first_rx,
                  it == phases_.end() ? 0.0 : it->second.last_rx);
    reply(out);
  } else if (cmd == "close") {
    uint64_t closed = 0;
    for (auto& c : clients_) {
      if (c.state == Client::State::kFree) continue;
      linger lg{1, 0};  // RST: thousands of FIN handshakes and TIME_WAITs would only slow the next step
      setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      if (c.state == Client::State::kOpen) --open_now_;
      release(c);
      ++closed;
    }
    opening_ = false;
    to_start_ = inflight_ = 0;
    reply("{\"closed\":" + std::to_string(closed) + "}");
  } else if (cmd == "quit") {
    quit_ = true;
  } else if (!cmd.empty()) {
    reply("{\"error\":" + chat::json::quote("unknown command " + cmd) + "}");
  }
}

void Generator::start_more() {
  while (opening_ && to_start_ > 0 && inflight_ < concurrency_ && failed_ < max_failures_) {
    --to_start_;
    start_one();
  }
}

void Generator::start_one() {
  const uint64_t k = next_socket_++;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ++failed_;
    if (first_error_.empty()) first_error_ = std::string("socket: ") + std::strerror(errno);
    return;
  }
  size_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = clients_.size();
    clients_.emplace_back();
  }
  Client& c = clients_[slot];
  c.fd = fd;
  c.state = Client::State::kConnecting;
  c.started_s = monotonic_s();
  c.token = tokens_[k % tokens_.size()];
  c.in.clear();
  ++inflight_;
  int one = 1;
  // The port is chosen at connect(), per (source, destination): a source address then has its whole range.
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // The time each read's data reached the socket: the daemon's side of a latency, without this process's own
  // scheduling (on a busy machine the generator may run well after the daemon wrote).
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr = sources_[k % sources_.size()];
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port_));
  inet_pton(AF_INET, host_.c_str(), &dst.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
    fail(c, std::string("bind: ") + std::strerror(errno));
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = slot;
  if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    fail(c, std::string("epoll_ctl: ") + std::strerror(errno));
    return;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
    fail(c, std::string("connect: ") + std::strerror(errno));
  }
}

void Generator::on_event(Client& c, uint32_t events) {
  if (c.state == Client::State::kConnecting) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
}

void Generator::on_connected(Client& c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    fail(c, std::string("connect: ") + std::strerror(err));
    return;
  }
  c.state = Client::State::kUpgrading;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<uint64_t>(&c - clients_.data());
  epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
  send_all(c, chat::bench::upgrade_request(path_ + c.token, host_));
  std::string().swap(c.token);  // sent: the socket does not need it any more
}

void Generator::send_all(Client& c, std::string_view bytes) {
  // Requests and pongs are a few hundred bytes at most: the socket's empty send buffer takes them whole.
  while (!bytes.empty()) {
    ssize_t w = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // the read side will see the reset
    bytes.remove_prefix(static_cast<size_t>(w));
  }
}

void Generator::on_readable(Client& c) {
  static char buf[256 * 1024];
  for (;;) {
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(c.fd, &msg, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      if (c.state == Client::State::kOpen)
        lose(c);
      else
        fail(c, n == 0 ? "closed by the daemon" : std::string("recv: ") + std::strerror(errno));
      return;
    }
    const double now = monotonic_s();
    // For TCP the stamp is the newest segment's of the read: for earlier frames in it, a later arrival than theirs.
    double arrived = now;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts{};
        std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
        arrived = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9 - realtime_offset_s();
      }
    }
    std::string_view data(buf, static_cast<size_t>(n));
    if (!c.in.empty()) {
      c.in.append(data);
      data = c.in;
    }
    size_t used = 0;
    if (c.state == Client::State::kUpgrading) {
      UpgradeAnswer a = chat::bench::read_upgrade_answer(data);
      if (a.status == UpgradeAnswer::Status::kRefused) {
        fail(c, a.why);
        return;
      }
      if (a.status == UpgradeAnswer::Status::kOpen) {
        c.state = Client::State::kEstablishing;
        used = a.head_size;
      }
    }
    if (c.state != Client::State::kUpgrading) {
      size_t more = on_frames(c, data.substr(used), now, arrived);
      if (more == std::string_view::npos) return;
      used += more;
    }
    // Keep only the unparsed tail (a partial frame): the next read completes it.
    if (c.in.empty())
      c.in.assign(data.substr(used));
    else
      c.in.erase(0, used);
    if (static_cast<size_t>(n) < sizeof buf) return;  // drained for now
  }
}

size_t Generator::on_frames(Client& c, std::string_view bytes, double now, double arrived) {
  size_t used = 0;
  for (;;) {
    ServerFrame f = chat::ws::read_server_frame(bytes.substr(used));
    if (f.status == ServerFrame::Status::kNeedMore) return used;
    if (f.status == ServerFrame::Status::kError) {
      c.state == Client::State::kOpen ? lose(c) : fail(c, f.error);
      return std::string_view::npos;
    }
    used += f.size;
    switch (f.opcode) {
      case Opcode::kText:
        if (c.state == Client::State::kEstablishing) {
          // The daemon's first frame: the socket is authenticated and registered in the hub.
          if (f.payload.find("\"connection_established\"") == std::string_view::npos) {
            fail(c, "first frame is not connection_established");
            return std::string_view::npos;
          }
          c.state = Client::State::kOpen;
          --inflight_;
          ++opened_;
          ++open_now_;
          break;
        }
        ++frames_;
        if (auto m = chat::bench::find_mark(f.payload, kMarkPrefix)) {
          auto it = phases_.find(m->phase);
          if (it == phases_.end()) it = phases_.emplace(std::string(m->phase), PhaseStats{}).first;
          PhaseStats& st = it->second;
          if (st.latencies_s.empty()) st.first_rx = now;
          st.latencies_s.push_back(now - m->sent_s);
          st.arrivals_s.push_back(std::min(arrived, now) - m->sent_s);
          st.last_rx = now;
        }
        break;
      case Opcode::kPing:  // §5.5.2; the daemon's keep-alive (a client frame is masked, §5.3)
        send_all(c, chat::ws::encode_masked_frame(Opcode::kPong, f.payload, {0, 0, 0, 0}));
        break;
      case Opcode::kClose:
        c.state == Client::State::kOpen ? lose(c) : fail(c, "close frame before connection_established");
        return std::string_view::npos;
      default:
        break;
    }
  }
}

void Generator::fail(Client& c, const std::string& why) {
  ++failed_;
  if (first_error_.empty()) first_error_ = why;
  if (inflight_ > 0) --inflight_;
  release(c);
}

void Generator::lose(Client& c) {
  ++lost_;
  --open_now_;
  release(c);
}

void Generator::release(Client& c) {
  if (c.fd >= 0) ::close(c.fd);  // closing also takes it out of the epoll set
  c.fd = -1;
  c.state = Client::State::kFree;
  std::string().swap(c.in);
  std::string().swap(c.token);
  free_.push_back(static_cast<size_t>(&c - clients_.data()));
}

void Generator::check_timeouts(double now) {
  for (auto& c : clients_) {
    if (c.state != Client::State::kFree && c.state != Client::State::kOpen && now - c.started_s > kHandshakeTimeoutS) {
      fail(c, "no connection_established in 30 s");
    }
  }
}

void Generator::finish_open_if_done() {
  if (!opening_) return;
  const bool stopped = failed_ >= max_failures_;
  if (inflight_ > 0 || (to_start_ > 0 && !stopped)) return;
  opening_ = false;
  to_start_ = 0;
  char tail[64];
  std::snprintf(tail, sizeof tail, ",\"seconds\":%.3f}", monotonic_s() - open_started_s_);
  reply("{\"opened\":" + std::to_string(opened_) + ",\"failed\":" + std::to_string(failed_) +
        ",\"error\":" + chat::json::quote(first_error_) + tail);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", sources = "127.0.0.1", tokens_file, path = "/ws?token=";
  int port = 0, pause_us = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--port")
      port = std::atoi(argv[i + 1]);
    else if (a == "--host")
      host = argv[i + 1];
    else if (a == "--sources")
      sources = argv[i + 1];
    else if (a == "--tokens")
      tokens_file = argv[i + 1];
    else if (a == "--path")
      path = argv[i + 1];
    else if (a == "--pause-us")
      pause_us = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "ws_load: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  std::vector<std::string> tokens;
  std::ifstream tf(tokens_file);
  for (std::string line; std::getline(tf, line);) {
    if (!line.empty()) tokens.push_back(line);
  }
  std::vector<in_addr> addrs;
  for (const auto& s : split(sources, ',')) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) {
      std::fprintf(stderr, "ws_load: bad source address %s\n", s.c_str());
      return 2;
    }
    addrs.push_back(a);
  }
  if (port <= 0 || port > 65535 || tokens.empty() || addrs.empty()) {
    std::fprintf(stderr, "usage: ws_load --port P --tokens FILE [--host H] [--sources A,B] [--path /ws?token=]\n");
    return 2;
  }
  rlimit rl{};  // one descriptor per socket: all the hard limit allows
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  return Generator(host, port, std::move(addrs), std::move(tokens), path, pause_us).run();
}

// make bench's second ceiling: a FastCGI program that answers with the bytes of a file, without PostgreSQL or
// Redis. nginx reaches it through the same chat-fastcgi.conf as the handlers (the dev stack's /_bench_fcgi/
// location, deploy/render-nginx.sh), so the gap between it and a handler is the handler's own work, and the gap
// between it and nginx's static file is the price of the FastCGI hop.
//
//   chat-bench-fcgi SOCKET DIR [THREADS]
//
// GET or POST /_bench_fcgi/NAME answers 200 with DIR/NAME (read once, then kept: run.py writes each file before
// its first request and never changes it). The request body is read, as a handler reads it. Stops on SIGTERM.
#include <fcgiapp.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string g_dir;
std::mutex g_mu;
std::map<std::string, std::string> g_files;

// The bytes of DIR/NAME, or nullptr when there is no such file (NAME is a plain file name: no '/').
const std::string* file(const std::string& name) {
  std::lock_guard lock(g_mu);
  if (auto it = g_files.find(name); it != g_files.end()) return &it->second;
  if (name.empty() || name.find('/') != std::string::npos) return nullptr;
  std::ifstream in(g_dir + "/" + name, std::ios::binary);
  if (!in) return nullptr;
  std::ostringstream body;
  body << in.rdbuf();
  return &g_files.emplace(name, body.str()).first->second;
}

void serve(int listen_fd) {
  FCGX_Request r;
  FCGX_InitRequest(&r, listen_fd, 0);
  std::vector<char> body;
  while (FCGX_Accept_r(&r) >= 0) {
    const char* len = FCGX_GetParam("CONTENT_LENGTH", r.envp);
    long length = len ? std::atol(len) : 0;
    if (length > 0) {
      body.resize(static_cast<size_t>(length));
      FCGX_GetStr(body.data(), static_cast<int>(length), r.in);
    }
    const char* uri = FCGX_GetParam("DOCUMENT_URI", r.envp);
    std::string path = uri ? uri : "";
    const std::string* bytes = file(path.substr(path.rfind('/') + 1));
    std::string head = bytes ? "Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                   std::to_string(bytes->size()) + "\r\n\r\n"
                             : "Status: 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    FCGX_PutStr(head.data(), static_cast<int>(head.size()), r.out);
    if (bytes) FCGX_PutStr(bytes->data(), static_cast<int>(bytes->size()), r.out);
    FCGX_Finish_r(&r);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s SOCKET DIR [THREADS]\n", argv[0]);
    return 2;
  }
  g_dir = argv[2];
  // as many threads as a handler process has by default (HANDLER_THREADS)
  int threads = argc == 4 ? std::atoi(argv[3]) : 2;
  if (FCGX_Init() != 0) return 1;
  int fd = FCGX_OpenSocket(argv[1], 1024);
  if (fd < 0) {
    std::fprintf(stderr, "%s: cannot listen on %s\n", argv[0], argv[1]);
    return 1;
  }
  std::signal(SIGTERM, [](int) { std::_Exit(0); });  // nothing to flush: it only ever reads
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(serve, fd);
  for (auto& t : pool) t.join();
  return 0;
}

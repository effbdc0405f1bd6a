// Structured logging to stderr; a whole line is written with one write(2) so threads never interleave.
#include "core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

namespace chat::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::string g_program = "chat";
thread_local std::string t_request_id;

const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

// Values with spaces, quotes or '=' are quoted so a line always splits back into its fields.
void append_value(std::string& out, std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') quote = true;
  }
  if (!quote) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace

void set_level(std::string_view name) {
  if (name == "debug") g_level = static_cast<int>(Level::kDebug);
  else if (name == "info") g_level = static_cast<int>(Level::kInfo);
  else if (name == "warn" || name == "warning") g_level = static_cast<int>(Level::kWarn);
  else if (name == "error") g_level = static_cast<int>(Level::kError);
}

void set_program(std::string_view name) { g_program = name; }

void set_request_id(std::string_view id) { t_request_id = id; }

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  char ts[40];
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(ts + n, sizeof ts - n, ".%03dZ", static_cast<int>(ms));

  std::string line;
  line.reserve(160);
  line.append("ts=").append(ts);
  line.append(" level=").append(level_name(level));
  line.append(" prog=").append(g_program);
  line.append(" pid=").append(std::to_string(getpid()));
  line.append(" event=");
  append_value(line, event);
  if (!t_request_id.empty()) {
    line.append(" request_id=");
    append_value(line, t_request_id);
  }
  for (const auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k).push_back('=');
    append_value(line, v);
  }
  line.push_back('\n');
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace chat::log

// Structured logging: one `key=value` line per event on stderr, tagged with the current request id.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace chat::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using Field = std::pair<std::string_view, std::string_view>;

// Sets the minimum level that is written ("debug", "info", "warn", "error"); unknown names keep info.
void set_level(std::string_view name);
// The program name written in every line (e.g. "chat-auth").
void set_program(std::string_view name);
// The request id of the request this thread is serving ("" when none); written in every line.
void set_request_id(std::string_view id);

void write(Level level, std::string_view event, std::initializer_list<Field> fields = {});

inline void debug(std::string_view event, std::initializer_list<Field> f = {}) { write(Level::kDebug, event, f); }
inline void info(std::string_view event, std::initializer_list<Field> f = {}) { write(Level::kInfo, event, f); }
inline void warn(std::string_view event, std::initializer_list<Field> f = {}) { write(Level::kWarn, event, f); }
inline void error(std::string_view event, std::initializer_list<Field> f = {}) { write(Level::kError, event, f); }

}  // namespace chat::log

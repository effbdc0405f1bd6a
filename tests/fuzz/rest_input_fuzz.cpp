// libFuzzer target for the REST input layer: body/form/query/path readers, URL decoding, JSON round trips, routing.
//
// The same input bytes are used as a JSON body, a urlencoded form, a query string, route captures and a
// header value, as JSON text, as urlencoded text, and (first byte = method, rest = path) as a request to
// a route table shaped like the real ones. Besides the readers' own contract, small independent oracles
// (rest_oracles.hpp: a JSON string decoder, a UTF-8 validator, a form decoder; a route matcher here) must
// agree with core. Built with -DREST_FUZZ_WRITE_SEEDS this file is instead a small program that writes the seed
// corpus (ordinary requests and the hostile ones found by hand) and a dictionary.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/crypto.hpp"
#include "core/http.hpp"
#include "core/json.hpp"
#include "core/router.hpp"
#include "core/validate.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/rest_oracles.hpp"

namespace {

using namespace chat;
using namespace chat::http;
using namespace chat::fuzz;

constexpr size_t kNoMax = std::numeric_limits<size_t>::max();

// ---------------------------------------------------------------------------------------------------
// 1, 2: the readers.

// The keys the handlers read, and the rules they read some of them with.
constexpr const char* kKeys[] = {
    "content",    "username",   "email",         "password",        "name",         "description",
    "q",          "channel_id", "parent_id",     "participant_ids", "limit",        "offset",
    "is_private", "is_group",   "refresh_token", "avatar",          "client_msg_id"};

struct KeyRule {
  const char* key;
  StringRule rule;
};
const KeyRule kHandlerRules[] = {
    {"content", {true, 0, kNoMax, true, "Message content"}},
    {"username", {true, 3, 32, true, "Username"}},
    {"username", {true, 1, 320, true, "Username"}},
    {"email", {true, 1, 254, true, "Email"}},
    {"password", {true, 8, 256, false, "Password"}},
    {"password", {true, 1, 1024, false, "Password"}},
    {"name", {true, 1, 80, true, "Channel name"}},
    {"description", {false, 0, 1000, true, "Description"}},
    {"q", {true, 1, 500, true, "Search query"}},
    {"refresh_token", {true, 1, 512, true, "Refresh token"}},
    {"avatar", {false, 0, 2048, true, "Avatar"}},
    {"client_msg_id", {false, 1, 128, true, "Client message id"}},
};
const StringRule kGenericRules[] = {
    {},                                 // required, untrimmed, any length
    {false, 0, kNoMax, true, nullptr},  // optional, trimmed
    {false, 2, 5, false, nullptr},      // short window, counted in code points
};
const IntRule kIntRules[] = {{}, {false, 1, 100}, {false, 0}, {true, -5, 5}};

// Where the values came from, to compare what a reader returns with what the client sent.
struct Source {
  bool json = false;
  std::map<std::string, Member> members;      // json
  std::map<std::string, std::string> fields;  // form, query, path
};

// The client's text for `key`, when it is a well-formed string holding no NUL; nullopt when a reader
// must refuse it (or when the field is absent or not text).
std::optional<std::string> acceptable_text(const Source& src, const char* key) {
  if (!src.json) {
    auto it = src.fields.find(key);
    if (it == src.fields.end()) return std::nullopt;
    return it->second;
  }
  auto it = src.members.find(key);
  if (it == src.members.end() || !it->second.is_string) return std::nullopt;
  if (!it->second.value_ok || has_nul(it->second.value)) return std::nullopt;
  return it->second.value;
}

void check_text(const std::string& s) {
  FUZZ_CHECK(valid_utf8(s));
  FUZZ_CHECK(utf8_ok(s));
  FUZZ_CHECK(!has_nul(s));
}

void check_string(const Source& src, const char* key, const StringRule& rule, const std::optional<std::string>& v) {
  if (!v) return;
  check_text(*v);
  const size_t n = utf8_length(*v);
  FUZZ_CHECK(n >= rule.min_chars && n <= rule.max_chars);
  if (rule.trim && !v->empty()) {
    FUZZ_CHECK(!std::isspace(static_cast<unsigned char>(v->front())));
    FUZZ_CHECK(!std::isspace(static_cast<unsigned char>(v->back())));
  }
  // The whole of what was sent, not a prefix of it (cJSON's C strings end at a NUL).
  const std::optional<std::string> sent = acceptable_text(src, key);
  FUZZ_CHECK(sent.has_value());
  FUZZ_CHECK(*v == (rule.trim ? trim_copy(*sent) : *sent));
}

void check_uuid(const Source& src, const char* key, const std::optional<std::string>& v) {
  if (!v) return;
  check_text(*v);
  FUZZ_CHECK(crypto::is_uuid(*v));
  FUZZ_CHECK(*v == lower(*v));
  const std::optional<std::string> sent = acceptable_text(src, key);
  FUZZ_CHECK(sent.has_value());
  FUZZ_CHECK(*v == lower(trim_copy(*sent)));
}

void check_uuid_list(const Source& src, const char* key, const std::optional<std::vector<std::string>>& v) {
  if (!v) return;
  FUZZ_CHECK(src.json);
  auto it = src.members.find(key);
  FUZZ_CHECK(it != src.members.end() && it->second.is_array && it->second.items_ok);
  FUZZ_CHECK(v->size() == it->second.items.size());
  for (size_t i = 0; i < v->size(); ++i) {
    check_text((*v)[i]);
    FUZZ_CHECK(crypto::is_uuid((*v)[i]));
    FUZZ_CHECK((*v)[i] == lower((*v)[i]));
    FUZZ_CHECK(!has_nul(it->second.items[i]) && (*v)[i] == lower(it->second.items[i]));
  }
}

// A 422 as the handlers throw it; `render` also renders it the way the FastCGI loop does and reads that
// back (allocation-heavy under ASan, so done for the JSON body and the route captures only).
void check_error(const HttpError& e, bool render = true) {
  FUZZ_CHECK(e.status() == 422);
  FUZZ_CHECK(!e.errors().empty());
  FUZZ_CHECK(e.detail() == e.errors()[0].msg);
  for (const FieldError& fe : e.errors()) {
    FUZZ_CHECK(!fe.msg.empty() && !fe.type.empty());
    FUZZ_CHECK(!fe.loc.empty());
    const std::string& where = fe.loc[0];
    FUZZ_CHECK(where == "body" || where == "query" || where == "path" || where == "header");
  }
  if (!render) return;
  const Response r = render_error(e);
  FUZZ_CHECK(r.status == 422);
  const auto body = json::Value::parse(r.body);
  FUZZ_CHECK(body.has_value() && json::is_object(body->get()));
  const cJSON* errors = json::field(body->get(), "errors");
  FUZZ_CHECK(json::array_size(errors) == static_cast<int>(e.errors().size()));
}

// The handlers' own reads, then every reader on every key, then check(): returns normally or throws a
// well-formed 422. Which rule, and whether the field is required, varies with `pick` (a byte of the
// input); a key the source does not hold is read only one time in eight, to keep an execution cheap
// (every missing field is an error of five strings, copied twice on the way out, under ASan).
void run_readers(Input& in, const Source& src, const Request& req, size_t pick, bool render) {
  for (size_t r = 0; r < std::size(kHandlerRules); ++r) {
    const KeyRule& kr = kHandlerRules[r];
    if (!in.present(kr.key) && (r + pick) % 8 != 0) continue;
    check_string(src, kr.key, kr.rule, in.string(kr.key, kr.rule));
  }
  for (size_t k = 0; k < std::size(kKeys); ++k) {
    const char* key = kKeys[k];
    const size_t p = k + pick;
    if (!in.present(key) && p % 8 != 0) continue;
    (void)in.is_null(key);
    const StringRule& rule = kGenericRules[p % std::size(kGenericRules)];
    check_string(src, key, rule, in.string(key, rule));
    const IntRule& int_rule = kIntRules[p % std::size(kIntRules)];
    if (const auto v = in.integer(key, int_rule)) FUZZ_CHECK(*v >= int_rule.min && *v <= int_rule.max);
    (void)in.boolean(key, p % 2 == 0);
    check_uuid(src, key, in.uuid(key, p % 2 == 1));
    check_uuid_list(src, key, in.uuid_list(key, p % 3 == 0));
  }
  if (const auto h = in.header(req, "idempotency-key", 128)) {
    check_text(*h);
    FUZZ_CHECK(utf8_length(*h) >= 1 && utf8_length(*h) <= 128);
    FUZZ_CHECK(*h == *req.header("idempotency-key"));
  }
  const bool ok = in.ok();
  try {
    in.check();
    FUZZ_CHECK(ok);
  } catch (const HttpError& e) {
    FUZZ_CHECK(!ok);
    check_error(e, render);
  }
}

size_t pick_of(std::string_view input) { return input.empty() ? 0 : static_cast<unsigned char>(input.back()); }

void fuzz_body(std::string_view input) {
  Request req;
  req.method = "POST";
  req.path = "/api/v1/messages";
  req.headers["content-type"] = "application/json";
  req.headers["idempotency-key"] = std::string(input);
  req.body = std::string(input);
  Source src;
  src.json = true;
  try {
    Input in = Input::body(req);
    // Input::body read it as JSON: the text was accepted by the parser, so the oracle's walk applies.
    if (!trim_copy(req.body).empty()) src.members = top_level_members(input);
    run_readers(in, src, req, pick_of(input), true);
  } catch (const HttpError& e) {
    check_error(e);  // json_invalid, model_attributes_type
  }
}

void fuzz_form_query_path(std::string_view input) {
  Request req;
  req.method = "POST";
  req.headers["content-type"] = "application/x-www-form-urlencoded; charset=utf-8";
  req.body = std::string(input);
  Source src;
  src.fields = parse_urlencoded(input);
  {
    Input in = Input::body(req, /*allow_form=*/true);  // a form never throws at construction
    run_readers(in, src, req, pick_of(input), false);
  }
  req.query_string = std::string(input);
  req.query = src.fields;
  {
    Input in = Input::query(req);
    run_readers(in, src, req, pick_of(input), false);
  }
  // The bytes as route captures: the text ones handlers read (":query") and ids, plus two of the keys.
  const size_t pick = pick_of(input);
  for (const char* key :
       {"query", "id", "user_id", kKeys[pick % std::size(kKeys)], kKeys[(pick / 7) % std::size(kKeys)]}) {
    req.params[key] = std::string(input);
  }
  src.fields = req.params;
  {
    Input in = Input::path(req);
    run_readers(in, src, req, pick, false);
    check_string(src, "query", {true, 1, 500, true, "Search query"},
                 in.string("query", {true, 1, 500, true, "Search query"}));
    check_uuid(src, "id", in.uuid("id"));
  }
}

// ---------------------------------------------------------------------------------------------------
// 3: decoding.

void fuzz_decoding(std::string_view input) {
  for (bool plus : {false, true}) {
    const std::string d = url_decode(input, plus);
    FUZZ_CHECK(d.size() <= input.size());
    FUZZ_CHECK(d == my_url_decode(input, plus));
    FUZZ_CHECK(url_decode(percent_encode_all(input), plus) == input);
  }
  // parse_urlencoded against a decoder written here: pairs split on '&', the first '=' splits a pair,
  // the first of repeated keys wins, empty pairs are skipped.
  std::map<std::string, std::string> expect;
  size_t pos = 0;
  while (pos <= input.size()) {
    size_t amp = std::min(input.find('&', pos), input.size());
    const std::string_view pair = input.substr(pos, amp - pos);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      const std::string key = my_url_decode(pair.substr(0, eq), true);
      const std::string value = eq == std::string_view::npos ? "" : my_url_decode(pair.substr(eq + 1), true);
      expect.emplace(key, value);  // the first of repeated keys stays
    }
    pos = amp + 1;
  }
  FUZZ_CHECK(parse_urlencoded(input) == expect);

  // The UTF-8 helpers the readers and handlers use.
  const std::string s(input);
  FUZZ_CHECK(valid_utf8(s) == utf8_ok(s));
  if (utf8_ok(s)) {
    std::string again;
    size_t count = 0;
    for (size_t i = 0; i < s.size(); ++count) {
      uint32_t cp = 0;
      const size_t len = utf8_next(s, i, &cp);
      FUZZ_CHECK(len >= 1 && len <= 4 && i + len <= s.size());
      append_utf8(again, cp);
      (void)is_letter_or_digit(cp);
      i += len;
    }
    FUZZ_CHECK(again == s && count == utf8_length(s));
  } else {
    for (size_t i = 0; i < s.size();) {
      uint32_t cp = 0;
      const size_t len = utf8_next(s, i, &cp);
      FUZZ_CHECK(len >= 1 && i + len <= s.size());
      i += len;
    }
  }
  const size_t max_bytes = input.empty() ? 0 : static_cast<unsigned char>(input[0]) % (input.size() + 1);
  const std::string cut = utf8_truncate(s, max_bytes);
  FUZZ_CHECK(cut.size() <= max_bytes || s.size() <= max_bytes);
  FUZZ_CHECK(s.compare(0, cut.size(), cut) == 0);
  if (s.size() <= max_bytes) FUZZ_CHECK(cut == s);
  if (utf8_ok(s)) FUZZ_CHECK(utf8_ok(cut));
  if (utf8_ok(s) && cut.size() < s.size()) FUZZ_CHECK(cut.size() + 4 > max_bytes);
}

// ---------------------------------------------------------------------------------------------------
// 4: JSON.

void fuzz_json(std::string_view input) {
  const auto v = json::Value::parse(input);
  if (!json::lexically_valid(input)) FUZZ_CHECK(!v.has_value());
  if (raw_control_in_string(input)) FUZZ_CHECK(!v.has_value());
  if (!v) return;
  FUZZ_CHECK(strings_well_formed(input));  // a malformed escape is malformed JSON, not a U+0000
  const std::string first = v->dump();
  const auto again = json::Value::parse(first);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->dump() == first);
  FUZZ_CHECK(json::dump(v->get()) == first);
  // What the server writes back is itself acceptable input.
  FUZZ_CHECK(json::lexically_valid(first));
  // A string value re-quoted reads back as itself.
  if (json::is_string(v->get())) {
    const std::string s = *json::as_string(v->get());
    const auto q = json::Value::parse(json::quote(s));
    FUZZ_CHECK(q && json::as_string(q->get()) == s);
  }
}

// ---------------------------------------------------------------------------------------------------
// 5: routing.

// The real tables' patterns (handlers/*.cpp), each with its own dummy handler so that a match names
// its row; the handlers are not linked (they need libpq).
struct Row {
  const char* method;
  const char* pattern;
};
constexpr Row kRows[] = {
    {"GET", "/health"},
    {"GET", "/"},
    {"GET", "/metrics"},
    {"POST", "/api/v1/auth/register"},
    {"POST", "/api/v1/auth/login"},
    {"POST", "/api/v1/auth/login/access-token"},
    {"POST", "/api/v1/auth/refresh"},
    {"POST", "/api/v1/auth/logout"},
    {"PUT", "/api/v1/auth/password"},
    {"GET", "/api/v1/auth/me"},
    {"POST", "/api/v1/users"},
    {"GET", "/api/v1/users"},
    {"GET", "/api/v1/users/me"},
    {"GET", "/api/v1/users/search"},
    {"GET", "/api/v1/users/search/:query"},
    {"GET", "/api/v1/users/:id"},
    {"PUT", "/api/v1/users/:id"},
    {"PATCH", "/api/v1/users/:id"},
    {"GET", "/api/v1/channels"},
    {"POST", "/api/v1/channels"},
    {"GET", "/api/v1/channels/my"},
    {"POST", "/api/v1/channels/join"},
    {"GET", "/api/v1/channels/users/available"},
    {"GET", "/api/v1/channels/:id"},
    {"PUT", "/api/v1/channels/:id"},
    {"PATCH", "/api/v1/channels/:id"},
    {"DELETE", "/api/v1/channels/:id"},
    {"DELETE", "/api/v1/channels/:id/leave"},
    {"POST", "/api/v1/channels/:id/add-user"},
    {"DELETE", "/api/v1/channels/:id/members/:user_id"},
    {"POST", "/api/v1/conversations"},
    {"GET", "/api/v1/conversations"},
    {"GET", "/api/v1/conversations/:id"},
    {"POST", "/api/v1/conversations/:id/participants"},
    {"DELETE", "/api/v1/conversations/:id/participants/me"},
    {"POST", "/api/v1/conversations/:id/messages"},
    {"GET", "/api/v1/conversations/:id/messages"},
    {"PUT", "/api/v1/conversations/:id/messages/read"},
    {"DELETE", "/api/v1/conversations/:id/messages/:message_id"},
    {"POST", "/api/v1/messages"},
    {"GET", "/api/v1/messages/channel/:channel_id"},
    {"GET", "/api/v1/messages/search"},
    {"POST", "/api/v1/messages/reactions"},
    {"DELETE", "/api/v1/messages/reactions/:reaction_id"},
    {"POST", "/api/v1/messages/read"},
    {"GET", "/api/v1/messages/mentions/my"},
    {"GET", "/api/v1/messages/:id"},
    {"PUT", "/api/v1/messages/:id"},
    {"DELETE", "/api/v1/messages/:id"},
    {"GET", "/api/v1/messages/:id/replies"},
    {"OPTIONS", "/api/v1/:resource"},  // a capture directly under a literal-only prefix
};
constexpr size_t kRowCount = std::size(kRows);

template <size_t N>
Response dummy(Context&, Request&) {
  Response r;
  r.status = 200 + static_cast<int>(N);  // distinct bodies, so the linker cannot fold them together
  return r;
}

template <size_t... N>
constexpr std::array<Handler, sizeof...(N)> handlers_for(std::index_sequence<N...>) {
  return {&dummy<N>...};
}
const std::array<Handler, kRowCount> kHandlers = handlers_for(std::make_index_sequence<kRowCount>{});

const Router& router() {
  static const Router r = [] {
    std::vector<Route> routes;
    for (size_t i = 0; i < kRowCount; ++i) routes.push_back({kRows[i].method, kRows[i].pattern, kHandlers[i]});
    return Router(std::move(routes));
  }();
  return r;
}

// The patterns split here, once.
const std::vector<std::vector<std::string>>& row_segments() {
  static const std::vector<std::vector<std::string>> segs = [] {
    std::vector<std::vector<std::string>> out;
    for (const Row& row : kRows) out.push_back(segments_of(row.pattern));
    return out;
  }();
  return segs;
}

bool same(const Match& a, const Match& b) {
  return a.kind == b.kind && a.handler == b.handler && a.params == b.params && a.allow == b.allow;
}

std::vector<std::string> split_allow(const std::string& allow) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= allow.size()) {
    size_t comma = std::min(allow.find(", ", pos), allow.size());
    out.push_back(allow.substr(pos, comma - pos));
    pos = comma + 2;
  }
  return out;
}

void fuzz_router(std::string_view input) {
  static constexpr const char* kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  if (input.empty()) return;
  const std::string method = kMethods[static_cast<unsigned char>(input[0]) % 6];
  const std::string path(input.substr(1));
  const Match m = router().match(method, path);
  FUZZ_CHECK(same(m, router().match(method, path + "/")));  // a trailing slash is optional
  FUZZ_CHECK(same(m, router().match(method, "/" + path)));

  // The same decision, taken here: of the patterns that match, those with the leftmost literal where
  // another has a capture win; the first winner with the method is found, else a 405 lists theirs.
  const std::vector<std::string> segs = segments_of(path);
  std::vector<size_t> winners;
  std::vector<bool> best;
  for (size_t r = 0; r < kRowCount; ++r) {
    const std::vector<std::string>& pat = row_segments()[r];
    if (pat.size() != segs.size()) continue;
    std::vector<bool> shape;
    bool ok = true;
    for (size_t i = 0; ok && i < pat.size(); ++i) {
      const bool capture = pat[i][0] == ':';
      ok = capture || pat[i] == segs[i];
      shape.push_back(!capture);
    }
    if (!ok) continue;
    if (winners.empty() || shape > best) {
      best = shape;
      winners = {r};
    } else if (shape == best) {
      winners.push_back(r);
    }
  }
  switch (m.kind) {
    case Match::Kind::kNotFound:
      FUZZ_CHECK(winners.empty());
      FUZZ_CHECK(m.params.empty() && m.handler == nullptr && m.allow.empty());
      break;
    case Match::Kind::kFound: {
      FUZZ_CHECK(m.handler != nullptr && m.allow.empty());
      size_t row = kRowCount;
      for (size_t r : winners) {
        if (method == kRows[r].method) {
          row = r;
          break;
        }
      }
      FUZZ_CHECK(row < kRowCount && m.handler == kHandlers[row]);
      std::vector<std::pair<std::string, std::string>> expect;
      const std::vector<std::string>& pat = row_segments()[row];
      for (size_t i = 0; i < pat.size(); ++i) {
        if (pat[i][0] == ':') expect.emplace_back(pat[i].substr(1), segs[i]);
      }
      FUZZ_CHECK(m.params == expect);
      for (const auto& [name, value] : m.params) {
        FUZZ_CHECK(!name.empty() && !value.empty());
        FUZZ_CHECK(value.find('/') == std::string::npos);
      }
      break;
    }
    case Match::Kind::kMethodNotAllowed: {
      FUZZ_CHECK(!winners.empty() && m.handler == nullptr && m.params.empty());
      FUZZ_CHECK(!m.allow.empty());
      std::vector<std::string> expect;
      for (size_t r : winners) {
        FUZZ_CHECK(method != kRows[r].method);
        if (std::find(expect.begin(), expect.end(), kRows[r].method) == expect.end()) expect.push_back(kRows[r].method);
      }
      const std::vector<std::string> allow = split_allow(m.allow);
      FUZZ_CHECK(allow == expect);
      FUZZ_CHECK(std::find(allow.begin(), allow.end(), method) == allow.end());
      break;
    }
  }

  // The captures of a found route, read as path text the way search_by_path does.
  if (m.kind == Match::Kind::kFound && !m.params.empty()) {
    Request req;
    req.method = method;
    req.path = path;
    for (const auto& [name, value] : m.params) req.params.emplace(name, value);
    Source src;
    src.fields = req.params;
    Input in = Input::path(req);
    for (const auto& [name, value] : m.params) {
      check_string(src, name.c_str(), {true, 1, 500, true, nullptr},
                   in.string(name.c_str(), {true, 1, 500, true, nullptr}));
      check_uuid(src, name.c_str(), in.uuid(name.c_str()));
    }
    try {
      in.check();
    } catch (const HttpError& e) {
      check_error(e);
    }
  }
}

void fuzz_all(std::string_view input) {
  fuzz_body(input);
  fuzz_form_query_path(input);
  fuzz_decoding(input);
  fuzz_json(input);
  fuzz_router(input);
}

}  // namespace

#ifndef REST_FUZZ_WRITE_SEEDS

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_all(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

#else  // the seed writer

namespace {

using namespace std::string_literals;

void write_file(const std::string& path, std::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
}

// A router input: the method's index (GET, POST, PUT, PATCH, DELETE, OPTIONS) as a digit, then the path.
std::string route(char method_digit, std::string_view path) { return std::string(1, method_digit) + std::string(path); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SEED_DIR DICT_FILE\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string uuid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
  const std::string upper_uuid = "3F2504E0-4F89-41D3-9A0C-0305E82C3301";
  const std::vector<std::pair<const char*, std::string>> seeds = {
      // Ordinary requests.
      {"send-message",
       "{\"content\":\"hello @bob\",\"channel_id\":\"" + uuid + "\",\"parent_id\":null,\"client_msg_id\":\"c-1\"}"},
      {"create-channel", "{\"name\":\"general\",\"description\":\"  talk here  \",\"is_private\":false}"},
      {"register", "{\"username\":\"alice\",\"email\":\"alice@example.com\",\"password\":\"Correct-horse-9\"}"},
      {"refresh", "{\"refresh_token\":\"abc.def.ghi\"}"},
      {"profile", "{\"avatar\":\"https://example.com/a.png\",\"username\":\"  bob  \"}"},
      {"conversation", "{\"participant_ids\":[\"" + upper_uuid + "\"],\"is_group\":true,\"title\":\"t\"}"},
      {"pagination", "{\"limit\":50,\"offset\":0}"},
      {"emoji-escaped", "{\"content\":\"\\ud83d\\ude00 \\u00e9t\\u00e9 \\\"quoted\\\"\"}"},
      {"query", "q=hello+world&limit=20&offset=0&channel_id=" + uuid},
      {"query-percent", "q=%C3%A9t%C3%A9&limit=1&is_private=true"},
      {"route-users-me", route('0', "/api/v1/users/me")},
      {"route-reaction", route('4', "/api/v1/messages/reactions/" + uuid)},
      {"route-user-patch", route('3', "/api/v1/users/" + uuid)},
      {"route-search", route('0', "/api/v1/users/search/alice")},
      {"route-post-only", route('0', "/api/v1/auth/login")},
      // Hostile inputs found by hand.
      {"content-raw-nul", "{\"content\":\"abc\0 @bob tail\"}"s},
      {"register-raw-nul", "{\"username\":\"x\0<script>\",\"email\":\"a@b.co\",\"password\":\"Correct-horse-9\"}"s},
      {"content-escaped-nul", "{\"content\":\"abc\\u0000tail\"}"},
      {"query-invalid-utf8", "q=%ff%fe"},
      {"path-invalid-utf8", route('0', "/api/v1/users/search/\xff\xfe")},
      {"overlong", "{\"content\":\"\xc0\xaf\",\"q\":\"\xc0\xaf\"}"},
      {"overlong-form", "q=\xc0\xaf&name=%c0%af"},
      {"surrogate", "{\"content\":\"\xed\xa0\x80\"}"},
      {"surrogate-escaped", "{\"content\":\"\\ud800\"}"},
      {"uuid-list-mixed", "{\"participant_ids\":[\"" + uuid + "\",\"x\"]}"},
      {"uuid-padded", "{\"channel_id\":\"  " + upper_uuid + "  \",\"parent_id\":\"" + uuid + "x\"}"},
      {"limit-huge", "{\"limit\":1e999}"},
      {"limit-minus-zero", "{\"limit\":-0}"},
      {"limit-fraction", "{\"limit\":1.5,\"offset\":-1,\"is_private\":\"true\"}"},
      {"deep-nesting", std::string(1100, '[') + std::string(1100, ']')},
      {"nesting-in-field", "{\"content\":" + std::string(200, '[') + std::string(200, ']') + "}"},
      {"raw-control", "{\"content\":\"a\x01z\"}"},
      {"control-between-tokens", "{\"content\":\x0b\"a\"}"},
      {"form-nul", "username=ab%00cd&password=x"},
      {"form-login", "grant_type=password&username=u&password=p"},
      {"form-repeated", "username=first&username=second&&=empty&password"},
      {"route-trailing-slash", route('0', "/api/v1/users/me/")},
      {"route-doubled-slashes", route('0', "//api//v1/users/")},
      {"route-members", route('4', "/api/v1/channels/x/members/y")},
      {"route-members-405", route('0', "/api/v1/channels/x/members/y")},
      {"byte-order-mark", "\xEF\xBB\xBF {\"content\":\"bom\"}"},
      {"not-json-object", "[\"content\",1]"},
      {"duplicate-keys", "{\"content\":\"first\",\"content\":\"second\"}"},
      {"idempotency-like", "0123456789abcdef-\xc3\xa9"},
  };
  for (const auto& [name, bytes] : seeds) {
    fuzz_all(bytes);  // the seeds must pass the checks themselves
    write_file(dir + "/" + name, bytes);
  }

  // libFuzzer dictionary: JSON tokens, the keys the handlers read, escapes, encodings and route pieces.
  write_file(argv[2],
             "obj_open=\"{\\\"\"\nkv=\"\\\":\\\"\"\nnext=\"\\\",\\\"\"\nobj_close=\"\\\"}\"\n"
             "lbrace=\"{\"\nrbrace=\"}\"\nlbracket=\"[\"\nrbracket=\"]\"\ncolon=\":\"\ncomma=\",\"\nquote=\"\\\"\"\n"
             "true=\"true\"\nfalse=\"false\"\nnull=\"null\"\nnum_big=\"1e999\"\nnum_neg_zero=\"-0\"\n"
             "num_frac=\"0.5\"\nnum_exp=\"1E+2\"\nnum_int64=\"9223372036854775807\"\n"
             "key_content=\"\\\"content\\\"\"\nkey_username=\"\\\"username\\\"\"\nkey_email=\"\\\"email\\\"\"\n"
             "key_password=\"\\\"password\\\"\"\nkey_name=\"\\\"name\\\"\"\n"
             "key_description=\"\\\"description\\\"\"\nkey_q=\"\\\"q\\\"\"\nkey_channel_id=\"\\\"channel_id\\\"\"\n"
             "key_parent_id=\"\\\"parent_id\\\"\"\nkey_participant_ids=\"\\\"participant_ids\\\"\"\n"
             "key_limit=\"\\\"limit\\\"\"\nkey_offset=\"\\\"offset\\\"\"\nkey_is_private=\"\\\"is_private\\\"\"\n"
             "key_is_group=\"\\\"is_group\\\"\"\nkey_refresh_token=\"\\\"refresh_token\\\"\"\n"
             "key_avatar=\"\\\"avatar\\\"\"\nkey_client_msg_id=\"\\\"client_msg_id\\\"\"\n"
             "form_content=\"content=\"\nform_username=\"username=\"\nform_password=\"password=\"\n"
             "form_q=\"q=\"\nform_limit=\"limit=\"\nform_channel_id=\"channel_id=\"\namp=\"&\"\neq=\"=\"\n"
             "esc_nul=\"\\\\u0000\"\nesc_high=\"\\\\ud800\"\nesc_low=\"\\\\udc00\"\nesc_e=\"\\\\u0065\"\n"
             "esc_u=\"\\\\u\"\nesc_x=\"\\\\x\"\nesc_quote=\"\\\\\\\"\"\nesc_backslash=\"\\\\\\\\\"\nesc_n=\"\\\\n\"\n"
             "pct_nul=\"%00\"\npct_ff=\"%ff\"\npct_c0af=\"%c0%af\"\npct_plus=\"%2B\"\nplus=\"+\"\n"
             "raw_nul=\"\\x00\"\nraw_ctl=\"\\x01\"\nraw_ff=\"\\xff\"\noverlong=\"\\xc0\\xaf\"\n"
             "surrogate=\"\\xed\\xa0\\x80\"\nutf8_max=\"\\xf4\\x8f\\xbf\\xbf\"\nnbsp=\"\\xc2\\xa0\"\n"
             "uuid=\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\"\nuuid_upper=\"3F2504E0-4F89-41D3-9A0C-0305E82C3301\"\n"
             "api=\"/api/v1/\"\nusers=\"users/\"\nme=\"/me\"\nsearch=\"/search/\"\nchannels=\"channels/\"\n"
             "members=\"/members/\"\nmessages=\"messages/\"\nreactions=\"/reactions/\"\n"
             "conversations=\"conversations/\"\nauth=\"auth/\"\nslash=\"/\"\nslashes=\"//\"\n");
  return 0;
}

#endif

// Accounts: registration, credential checks and token issue; SQL constants sit next to their use.
#include "domain/accounts.hpp"

#include <cctype>

#include "core/crypto.hpp"
#include "core/db.hpp"
#include "core/jwt.hpp"
#include "core/log.hpp"
#include "core/password.hpp"
#include "core/timefmt.hpp"
#include "domain/principal.hpp"
#include "domain/outbox.hpp"
#include "domain/user_view.hpp"

namespace chat::domain {

const DuplicateMessages kTeamChatDuplicates{"Email already registered", "Username already taken"};

namespace {

// Registrations are serialized so that exactly one user can be the first (and become admin).
constexpr db::Statement kLockRegistration{"acc_lock_registration", "SELECT pg_advisory_xact_lock(727201)"};

constexpr db::Statement kFindDuplicate{
    "acc_find_duplicate",
    "SELECT bool_or(lower(username) = lower($1)) AS same_username, bool_or(lower(email) = lower($2)) AS same_email "
    "FROM users WHERE lower(username) = lower($1) OR lower(email) = lower($2)"};

constexpr db::Statement kInsertUser{
    "acc_insert_user",
    "INSERT INTO users (username, email, hashed_password, avatar, role) "
    "VALUES ($1, $2, $3, $4, CASE WHEN EXISTS (SELECT 1 FROM users) THEN 'member' ELSE 'admin' END) "
    "RETURNING id, role"};

// The first user creates the default channels that are missing, becomes the creator of those without
// one, and owns them all.
constexpr db::Statement kSetupDefaultChannels{
    "acc_setup_default_channels",
    "WITH defaults(name, description) AS (VALUES "
    "  ('general', 'Company-wide announcements and work-based matters'), "
    "  ('random', 'Non-work banter and water cooler conversation'), "
    "  ('announcements', 'Important announcements')), "
    "created AS (INSERT INTO conversations (kind, name, description, creator_id) "
    "  SELECT 'channel', d.name, d.description, $1 FROM defaults d "
    "  WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.kind = 'channel' AND lower(c.name) = d.name) "
    "  RETURNING id), "
    "adopted AS (UPDATE conversations c SET creator_id = $1 FROM defaults d "
    "  WHERE c.kind = 'channel' AND lower(c.name) = d.name AND c.creator_id IS NULL RETURNING c.id) "
    "INSERT INTO conversation_members (conversation_id, user_id, role) "
    "SELECT id, $1, 'owner' FROM created UNION SELECT id, $1, 'owner' FROM adopted "
    "ON CONFLICT DO NOTHING"};

// Later users join `general` with nothing unread.
constexpr db::Statement kJoinGeneral{
    "acc_join_general",
    "INSERT INTO conversation_members (conversation_id, user_id, role, last_read_seq) "
    "SELECT c.id, $1, 'member', c.last_seq FROM conversations c "
    "WHERE c.kind = 'channel' AND lower(c.name) = 'general' AND NOT c.is_archived "
    "ON CONFLICT DO NOTHING RETURNING conversation_id"};

constexpr db::Statement kFindLogin{
    "acc_find_login",
    "SELECT u.id, u.hashed_password, " CHAT_USER_INACTIVE_SQL " AS inactive FROM users u "
    "WHERE lower(u.username) = lower($1) OR lower(u.email) = lower($1) LIMIT 1"};

constexpr db::Statement kCreateSession{"acc_create_session",
                                       "INSERT INTO sessions (user_id, user_agent) VALUES ($1, $2) RETURNING id"};

constexpr db::Statement kCreateRefresh{
    "acc_create_refresh",
    "INSERT INTO refresh_tokens (session_id, token_hash, expires_at) "
    "VALUES ($1, $2, now() + make_interval(days => $3::int))"};

constexpr db::Statement kLoadUser{"acc_load_user", "SELECT " CHAT_USER_COLUMNS " FROM users u WHERE u.id = $1"};
constexpr db::Statement kLoadOwnUser{
    "acc_load_own_user", "SELECT " CHAT_USER_COLUMNS ", u.unread_mentions FROM users u WHERE u.id = $1"};

// Letters and digits of any script, '_', '.', '-'; no spaces, invisible characters or symbols.
bool username_char(uint32_t cp) { return http::is_letter_or_digit(cp) || cp == '_' || cp == '.' || cp == '-'; }

}  // namespace

bool valid_username(const std::string& name) {
  size_t n = http::utf8_length(name);
  if (n < 3 || n > 32) return false;
  if (!http::valid_utf8(name)) return false;
  for (size_t i = 0; i < name.size();) {
    uint32_t cp = 0;
    i += http::utf8_next(name, i, &cp);
    if (!username_char(cp)) return false;
  }
  return true;
}

std::optional<std::string> normalize_email(const std::string& email) {
  if (email.size() > 254) return std::nullopt;
  auto at = email.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 >= email.size()) return std::nullopt;
  std::string local = email.substr(0, at);
  std::string domain = email.substr(at + 1);
  if (local.size() > 64 || local.front() == '.' || local.back() == '.' || local.find("..") != std::string::npos) {
    return std::nullopt;
  }
  static const std::string kLocalSpecials = "!#$%&'*+/=?^_`{|}~.-";
  for (unsigned char c : local) {
    if (!(std::isalnum(c) || kLocalSpecials.find(static_cast<char>(c)) != std::string::npos || c >= 0x80)) {
      return std::nullopt;
    }
  }
  // The domain needs at least one dot, labels of letters, digits and inner hyphens.
  if (domain.find('.') == std::string::npos) return std::nullopt;
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    if (dot == std::string::npos) dot = domain.size();
    std::string label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return std::nullopt;
    for (unsigned char c : label) {
      if (!(std::isalnum(c) || c == '-' || c >= 0x80)) return std::nullopt;
    }
    start = dot + 1;
  }
  for (char& c : domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return local + "@" + domain;
}

std::optional<std::string> read_username(http::Input& in, bool required) {
  auto v = in.string("username", {required, limits::kUsername.min, limits::kUsername.max, true, "Username"});
  if (v && !valid_username(*v)) {
    in.add_error("username", "Username may contain only letters, digits, '_', '.' and '-'", "string_pattern_mismatch");
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> read_email(http::Input& in, bool required) {
  auto v = in.string("email", {required, limits::kEmail.min, limits::kEmail.max, true, "Email"});
  if (!v) return std::nullopt;
  auto normalized = normalize_email(*v);
  if (!normalized) in.add_error("email", "Email must be a valid email address", "value_error");
  return normalized;
}

std::optional<std::string> read_avatar(http::Input& in) {
  auto v = in.string("avatar", {false, limits::kAvatar.min, limits::kAvatar.max, true, "Avatar"});
  if (v && v->empty()) return std::nullopt;  // an empty avatar is no avatar
  return v;
}

std::optional<std::string> read_new_password(http::Input& in, const char* key) {
  return in.string(key, {true, limits::kPassword.min, limits::kPassword.max, false,
                          key == std::string("password") ? "Password" : "New password"});
}

NewAccount read_new_account(const http::Request& req) {
  http::Input in = http::Input::body(req);
  auto email = read_email(in, true);
  auto username = read_username(in, true);
  auto password = read_new_password(in, "password");
  auto avatar = read_avatar(in);
  in.check();
  return NewAccount{*email, *username, *password, avatar};
}

void rethrow_user_conflict(const std::exception_ptr& e, const DuplicateMessages& dup) {
  try {
    std::rethrow_exception(e);
  } catch (const db::DbError& err) {
    if (err.unique_violation() && err.constraint() == "users_email_lower_key") http::bad_request(dup.email);
    if (err.unique_violation() && err.constraint() == "users_username_lower_key") http::bad_request(dup.username);
    throw;
  }
}

std::string register_account(Context& ctx, const NewAccount& acc, const DuplicateMessages& dup) {
  // Hash before the transaction: Argon2 takes tens of milliseconds and must not hold the lock.
  const std::string hashed = password::hash(acc.password, ctx.config.argon2);
  try {
    Outbox out;
    db::Transaction tx(ctx.db);
    tx.exec(kLockRegistration);
    auto d = tx.exec(kFindDuplicate, {acc.username, acc.email});
    if (!d.is_null(0, "same_username") && d.boolean(0, "same_username")) http::bad_request(dup.username);
    if (!d.is_null(0, "same_email") && d.boolean(0, "same_email")) http::bad_request(dup.email);
    auto u = tx.exec(kInsertUser, {acc.username, acc.email, hashed, acc.avatar});
    std::string id = u.str(0, "id");
    if (u.text(0, "role") == "admin") {
      tx.exec(kSetupDefaultChannels, {id});
    } else if (auto general = tx.exec(kJoinGeneral, {id}); !general.empty()) {
      std::string channel = general.str(0, "conversation_id");
      json::Value e = json::Value::object();
      e.set("user_id", id).set("username", acc.username).set("channel_id", channel).set("conversation_id", channel);
      out.event(tx, Event{"user_joined", channel, Audience::kConversation, {id}, std::move(e)});
    }
    tx.commit();
    out.relay(ctx);
    log::info("user_registered", {{"user_id", id}});
    return id;
  } catch (const db::DbError&) {
    rethrow_user_conflict(std::current_exception(), dup);
  }
}

std::optional<std::string> check_credentials(Context& ctx, const std::string& login, const std::string& pw,
                                             bool* inactive) {
  *inactive = false;
  auto r = ctx.db.exec(kFindLogin, {login});
  if (r.empty()) {
    password::burn_verify(pw);
    return std::nullopt;
  }
  if (!password::verify(r.str(0, "hashed_password"), pw)) return std::nullopt;
  *inactive = r.boolean(0, "inactive");
  return r.str(0, "id");
}

json::Value auth_response(Context& ctx, const std::string& user_id, const std::string& session_id,
                          const std::string& refresh_token) {
  return auth_response(ctx, user_id, session_id, refresh_token, crypto::uuid_v4(), unix_now());
}

json::Value auth_response(Context& ctx, const std::string& user_id, const std::string& session_id,
                          const std::string& refresh_token, const std::string& jti, int64_t iat) {
  const int64_t ttl = static_cast<int64_t>(ctx.config.access_token_expire_minutes) * 60;
  jwt::Claims claims{user_id, session_id, jti, iat, iat + ttl};
  json::Value out = json::Value::object();
  out.set("access_token", jwt::encode(ctx.config.jwt_secret, claims))
      .set("token_type", "bearer")
      .set("expires_in", ttl)
      .set("refresh_token", refresh_token)
      .set("user", load_own_user_json(ctx, user_id));
  return out;
}

json::Value open_session(Context& ctx, const std::string& user_id, const http::Request& req) {
  const std::string refresh = crypto::random_token(32);
  // The User-Agent is a note on the session, never a reason to refuse a login: kept when it is text.
  std::optional<std::string> agent;
  if (const std::string* ua = req.header("user-agent"); ua && http::valid_utf8(*ua) && ua->find('\0') == std::string::npos) {
    agent = http::utf8_truncate(*ua, 512);
  }
  db::Transaction tx(ctx.db);
  auto s = tx.exec(kCreateSession, {user_id, agent});
  std::string sid = s.str(0, "id");
  store_refresh_token(ctx, tx, sid, refresh);
  tx.commit();
  return auth_response(ctx, user_id, sid, refresh);
}

void store_refresh_token(Context& ctx, db::Transaction& tx, const std::string& sid, const std::string& token) {
  tx.exec(kCreateRefresh, {sid, crypto::sha256_hex(token), ctx.config.refresh_token_expire_days});
}

json::Value load_own_user_json(Context& ctx, const std::string& user_id) {
  auto r = ctx.db.exec(kLoadOwnUser, {user_id});
  if (r.empty()) http::not_found("User not found");
  json::Value u = user_json(r, 0, true);
  u.set("unread_mentions", r.int64(0, "unread_mentions"));
  return u;
}

json::Value load_user_json(Context& ctx, const std::string& user_id, bool with_email) {
  if (!crypto::is_uuid(user_id)) http::not_found("User not found");
  auto r = ctx.db.exec(kLoadUser, {user_id});
  if (r.empty()) http::not_found("User not found");
  return user_json(r, 0, with_email);
}

}  // namespace chat::domain

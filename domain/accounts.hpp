// Accounts: the rules for usernames, emails and passwords, registration, login and token issue,
// shared by the team-chat routes (/auth) and the headless ones (/users/, /auth/login/access-token).
#pragma once

#include <optional>
#include <string>

#include "core/context.hpp"
#include "core/db.hpp"
#include "core/http.hpp"
#include "core/json.hpp"
#include "core/validate.hpp"

namespace chat::domain {

struct NewAccount {
  std::string email;  // domain lower-cased
  std::string username;
  std::string password;
  std::optional<std::string> avatar;
};

// Reads the username/email/password(/avatar) fields with the contract's rules; problems go to `in`.
std::optional<std::string> read_username(http::Input& in, bool required);
std::optional<std::string> read_email(http::Input& in, bool required);
std::optional<std::string> read_avatar(http::Input& in);
std::optional<std::string> read_new_password(http::Input& in, const char* key);
// Reads and validates a registration body; throws 422 listing every problem.
NewAccount read_new_account(const http::Request& req);

// True when `name` is 3–32 characters of letters, digits, '_', '.', '-'.
bool valid_username(const std::string& name);
// Returns the address with its domain lower-cased, or nullopt when it is not a valid address.
std::optional<std::string> normalize_email(const std::string& email);

struct DuplicateMessages {
  const char* email;
  const char* username;
};
// The team-chat wording ("Email already registered" / "Username already taken").
extern const DuplicateMessages kTeamChatDuplicates;

// Creates the user (the first one becomes admin, creates and joins the default channels; later ones
// join `general`). Throws 400 with `dup` for a taken username or email. Returns the user's id.
std::string register_account(Context& ctx, const NewAccount& acc, const DuplicateMessages& dup);

// Checks a username-or-email and password. Returns the user id, or nullopt for unknown/wrong
// (timing does not tell which). Sets *inactive when the password is right but the user may not log in.
std::optional<std::string> check_credentials(Context& ctx, const std::string& login, const std::string& password,
                                             bool* inactive);

// Opens a session and returns the AuthResponse (docs/api.md#authresponse) for it.
json::Value open_session(Context& ctx, const std::string& user_id, const http::Request& req);

// Issues a new access token + refresh token for an existing session (login and refresh share it).
json::Value auth_response(Context& ctx, const std::string& user_id, const std::string& session_id,
                          const std::string& refresh_token);
// The same with the access token's `jti` and `iat` given: the same claims make the same token (a refresh
// repeated within the grace window answers the pair it already issued).
json::Value auth_response(Context& ctx, const std::string& user_id, const std::string& session_id,
                          const std::string& refresh_token, const std::string& jti, int64_t iat);

// Stores the digest of a new refresh token of session `sid` (login and refresh rotation share it).
void store_refresh_token(Context& ctx, db::Transaction& tx, const std::string& sid, const std::string& token);

// Loads one user as JSON (404 `User not found` when missing).
json::Value load_user_json(Context& ctx, const std::string& user_id, bool with_email);
// The caller's own User: with email and `unread_mentions` (mentions notified while it was offline).
json::Value load_own_user_json(Context& ctx, const std::string& user_id);

// Maps a unique violation on users to the duplicate message; rethrows anything else.
[[noreturn]] void rethrow_user_conflict(const std::exception_ptr& e, const DuplicateMessages& dup);

}  // namespace chat::domain

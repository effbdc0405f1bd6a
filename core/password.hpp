// Passwords: Argon2id PHC strings via libargon2; verification accepts any Argon2 PHC string.
#pragma once

#include <string>

#include "core/config.hpp"

namespace chat::password {

// "$argon2id$v=19$m=...,t=...,p=...$salt$hash" with a random 16-byte salt and a 32-byte hash.
std::string hash(const std::string& password, const Argon2Params& params);

// True when `password` matches `phc` (argon2id, argon2i or argon2d, any parameters).
bool verify(const std::string& phc, const std::string& password);

// Spends the time of one verification without a user, so unknown usernames are not revealed by timing.
void burn_verify(const std::string& password);

}  // namespace chat::password

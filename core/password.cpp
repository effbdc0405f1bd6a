// libargon2 wrapper; the only file that includes argon2.h.
#include "core/password.hpp"

#include <argon2.h>

#include <stdexcept>
#include <vector>

#include "core/crypto.hpp"

namespace chat::password {

std::string hash(const std::string& password, const Argon2Params& p) {
  constexpr size_t kSaltLen = 16;
  constexpr size_t kHashLen = 32;
  std::string salt = crypto::random_bytes(kSaltLen);
  size_t len = argon2_encodedlen(p.time_cost, p.memory_kib, p.parallelism, kSaltLen, kHashLen, Argon2_id);
  std::vector<char> out(len + 1, '\0');
  int rc = argon2id_hash_encoded(p.time_cost, p.memory_kib, p.parallelism, password.data(), password.size(),
                                 salt.data(), kSaltLen, kHashLen, out.data(), out.size());
  if (rc != ARGON2_OK) throw std::runtime_error(std::string("argon2id_hash_encoded: ") + argon2_error_message(rc));
  return std::string(out.data());
}

bool verify(const std::string& phc, const std::string& password) {
  argon2_type type;
  if (phc.rfind("$argon2id$", 0) == 0) type = Argon2_id;
  else if (phc.rfind("$argon2i$", 0) == 0) type = Argon2_i;
  else if (phc.rfind("$argon2d$", 0) == 0) type = Argon2_d;
  else return false;
  return argon2_verify(phc.c_str(), password.data(), password.size(), type) == ARGON2_OK;
}

void burn_verify(const std::string& password) {
  // A fixed hash at the default parameters; the result is thrown away.
  static const std::string kDummy = hash("not-a-real-password", Argon2Params{});
  (void)verify(kDummy, password);
}

}  // namespace chat::password

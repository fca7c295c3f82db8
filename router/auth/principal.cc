#include "router/auth/principal.h"

#include <algorithm>

namespace pdgate::auth {

std::string_view ToString(AuthMethod method) {
  switch (method) {
    case AuthMethod::kNone:
      return "none";
    case AuthMethod::kJwt:
      return "jwt";
    case AuthMethod::kApiKey:
      return "api_key";
  }
  return "none";
}

bool Allows(const Principal& principal, std::string_view model) {
  if (principal.allowed_models.empty()) return true;
  return std::find(principal.allowed_models.begin(), principal.allowed_models.end(), model) !=
         principal.allowed_models.end();
}

}  // namespace pdgate::auth

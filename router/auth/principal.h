#pragma once
// Who a request runs as, once authenticated: the one thing the rest of the router sees of auth.
#include <string>
#include <string_view>
#include <vector>

namespace pdgate::auth {

enum class AuthMethod { kNone, kJwt, kApiKey };

// "none", "jwt", "api_key": the value of the auth_method log field and metric label.
std::string_view ToString(AuthMethod method);

struct Principal {
  std::string user;    // JWT `sub`, or the API key's configured user
  std::string tenant;  // empty: the caller applies its default tenant
  // Models this principal may call; empty means all. A restriction that names no model is
  // refused where it is read (JWT claim, config), so "empty" never comes from a failed parse.
  std::vector<std::string> allowed_models;
  std::string priority_class;  // empty: the caller's default
  AuthMethod method = AuthMethod::kNone;
  std::string key_id;  // the API key's id (a name, never the key); empty for a JWT
};

// True when `principal` may call `model` (exact, case-sensitive match against allowed_models).
bool Allows(const Principal& principal, std::string_view model);

}  // namespace pdgate::auth

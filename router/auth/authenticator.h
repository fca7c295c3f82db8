#pragma once
// One request's authentication, as a pure function of its two credential headers, the policy,
// the current key set and the io thread's token cache: which method applies, whether the
// credential holds, and who the caller is. The order of checks (docs/SECURITY.md):
//   1. `Authorization: Bearer <credential>`, else `x-api-key: <credential>`; neither: missing.
//   2. A credential shaped like a JWT (three base64url segments) goes to JWT verification when
//      JWT is on; anything else to the API keys when they are on.
//   3. JWT: the cache (an exact match of the token, until its exp), else a full verification
//      against the key set, whose success is cached.
// Every refusal maps to one AuthResult, for the access log and the metric; what the client sees
// is the same for all of them.
#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "config/router_settings.h"
#include "router/auth/api_keys.h"
#include "router/auth/jwt.h"
#include "router/auth/principal.h"

namespace pdgate::auth {

class KeySet;
class TokenCache;

enum class AuthResult : uint8_t {
  kOk,
  kMissingCredential,
  kMalformedHeader,   // an Authorization scheme other than Bearer, or an empty credential
  kMethodNotEnabled,  // e.g. an API key where only JWT is configured
  kUnknownApiKey,
  kJwksUnavailable,  // JWT is on but no key set was fetched yet
  // JWT verification (JwtError, in its order)
  kJwtMalformed,
  kJwtTooLarge,
  kJwtUnsupportedAlgorithm,
  kJwtUnknownKey,
  kJwtKeyMismatch,
  kJwtBadSignature,
  kJwtExpired,
  kJwtNotYetValid,
  kJwtMissingClaim,
  kJwtBadIssuer,
  kJwtBadAudience,
  kCount
};
// snake_case, the metric label and the access log's auth_error.
std::string_view ToString(AuthResult result);

// What the configuration says, built once per configuration (not per request).
struct AuthPolicy {
  bool jwt = false;
  JwtPolicy jwt_policy;
  bool api_keys_enabled = false;
  ApiKeyStore api_keys;
};
// Null when the settings turn authentication off.
std::shared_ptr<const AuthPolicy> MakeAuthPolicy(const config::AuthSettings& settings);

struct Authentication {
  AuthResult result = AuthResult::kMissingCredential;
  AuthMethod method = AuthMethod::kNone;
  std::shared_ptr<const Principal> principal;  // set when ok
  bool cache_hit = false;
  bool ok() const { return result == AuthResult::kOk; }
};

// `keys` may be null (no set yet). `now`: Unix seconds.
Authentication Authenticate(const AuthPolicy& policy, const KeySet* keys, TokenCache& cache,
                            std::string_view authorization, std::string_view x_api_key,
                            int64_t now);

}  // namespace pdgate::auth

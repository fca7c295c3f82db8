#pragma once
// JWT (RFC 7519) verification against a JWKS: compact JWS, allowlisted public-key algorithms,
// registered claims checked with a leeway, identity claims mapped to a Principal.
//
// Order of checks: size, shape, header (alg allowlist, kid → key, key fits alg), signature over
// the ASCII "header.payload", and only then the payload, so nothing an attacker wrote into an
// unsigned payload is ever parsed. Header and payload JSON with a duplicate member name are
// refused (RFC 7515 §5.2 permits either that or taking the last; see json_object.h).
// The header's "jku", "x5u", "jwk" and "x5c" are ignored: keys come only from the configured
// JWKS. A "crit" header is refused, since we implement no extension it could name.
#include <absl/status/statusor.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "router/auth/jwks.h"
#include "router/auth/jwt_error.h"
#include "router/auth/principal.h"

namespace pdgate::auth {

struct JwtPolicy {
  std::string issuer;                  // required "iss" value; empty: not checked
  std::vector<std::string> audiences;  // "aud" must name one of these; empty: not checked
  int64_t leeway_seconds = 60;         // clock skew allowed on exp, nbf, iat
  size_t max_token_bytes = 8192;
  std::string tenant_claim = "tenant";  // string claim → Principal::tenant (absent: empty)
  // Claim listing the models the token may call: an array of strings or one space-separated
  // string (OAuth "scope" style). Empty: not read, the token may call every model. When set,
  // a token without the claim, or whose claim lists no model, is refused (kMissingClaim):
  // a forgotten claim must not widen access to everything.
  std::string models_claim;
  std::string priority_claim;  // string claim → Principal::priority_class; empty: not read
};

struct VerifiedToken {
  Principal principal;     // method kJwt, user = "sub"
  int64_t expires_at = 0;  // "exp" in Unix seconds, fractions dropped (rounded down)
  std::string kid;         // the key that verified it ("" for the set's kid-less key)
};

// Verifies `token` (the bearer credential, no "Bearer " prefix) at `now_unix_seconds`.
// Failures are JwtFailure statuses: JwtErrorOf(status) names the reason.
//   exp: required; refused when exp <= now - leeway.
//   nbf, iat: optional; refused when > now + leeway.
// Numeric dates may be JSON integers or decimals; a fraction is rounded toward refusal (exp
// down, nbf/iat up), so a sub-second difference never lets a token in.
absl::StatusOr<VerifiedToken> VerifyJwt(std::string_view token, const KeySet& keys,
                                        const JwtPolicy& policy, int64_t now_unix_seconds);

// Three non-empty base64url segments joined by two dots: how a bearer credential is told to be a
// JWT rather than an API key (API keys must therefore not contain two dots).
bool LooksLikeJwt(std::string_view credential);

}  // namespace pdgate::auth

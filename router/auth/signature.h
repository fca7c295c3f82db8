#pragma once
// JWS signature algorithms (RFC 7518 §3, RFC 8037 §3.1) and their verification with OpenSSL.
//
// The allowlist is closed: RS256/384/512, PS256/384/512, ES256, ES384, EdDSA (Ed25519). "none" is
// refused and so are HS256/384/512, because with a JWKS every key is public: an HMAC "verified"
// with a public key's bytes as the secret is the classic algorithm-confusion forgery. The key
// must fit the algorithm (RSA for RS*/PS*, EC P-256 for ES256, P-384 for ES384, OKP Ed25519 for
// EdDSA, and the JWK's own "alg" when it has one), checked here so that no caller can skip it.
#include <absl/status/status.h>

#include <optional>
#include <string_view>

#include "router/auth/jwks.h"

namespace pdgate::auth {

enum class Algorithm { kRs256, kRs384, kRs512, kPs256, kPs384, kPs512, kEs256, kEs384, kEdDsa };

// The JOSE "alg" name → Algorithm; nullopt for "none", HS*, and every name not in the allowlist.
std::optional<Algorithm> ParseAlgorithm(std::string_view name);

// "RS256", ..., "EdDSA".
std::string_view ToString(Algorithm alg);

// True when `key` may verify `alg` (kty, crv, and the JWK's own alg when present).
bool KeyFits(const Jwk& key, Algorithm alg);

// Verifies `signature` (the decoded third JWS segment) over `signing_input` (the ASCII
// "header.payload"). ES256/ES384 signatures are JOSE's raw r‖s of exactly twice the coordinate
// size (RFC 7518 §3.4), converted to DER for OpenSSL; PS* use a salt as long as the digest.
// Failures are JwtFailure statuses: kKeyMismatch, or kBadSignature.
absl::Status VerifySignature(Algorithm alg, const Jwk& key, std::string_view signing_input,
                             std::string_view signature);

}  // namespace pdgate::auth

#pragma once
// Why a token was refused. Callers log the reason and count it in a metric label, and must tell
// "expired" (the client should refresh) from "bad_signature" (someone is forging) without parsing
// a message: the JwtError rides in the absl::Status as a payload, read back with JwtErrorOf.
#include <absl/status/status.h>

#include <optional>
#include <string_view>

namespace pdgate::auth {

enum class JwtError {
  kMalformed,             // not three base64url segments of JSON objects, bad header fields
  kTooLarge,              // longer than JwtPolicy::max_token_bytes
  kUnsupportedAlgorithm,  // alg none, HS*, or anything not in the allowlist
  kUnknownKey,            // no key in the set under the token's kid
  kKeyMismatch,           // the key's type, curve or own alg does not fit the token's alg
  kBadSignature,
  kExpired,
  kNotYetValid,  // nbf or iat in the future beyond the leeway
  kMissingClaim,
  kBadIssuer,
  kBadAudience,
};

// snake_case name: "malformed", "too_large", ..., "bad_signature".
std::string_view ToString(JwtError error);

// An UNAUTHENTICATED status whose message is ToString(error), or "<error>: <detail>" when
// `detail` is non-empty, carrying `error` as a payload. `detail` must be a fixed string of ours,
// never token text (the message is logged).
absl::Status JwtFailure(JwtError error, std::string_view detail = {});

// The JwtError carried by a status made by JwtFailure; nullopt for any other status (OK too).
std::optional<JwtError> JwtErrorOf(const absl::Status& status);

}  // namespace pdgate::auth

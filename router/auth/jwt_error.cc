#include "router/auth/jwt_error.h"

#include <absl/strings/cord.h>

#include <string>

namespace pdgate::auth {
namespace {

// Status payloads are keyed by a type URL; ours holds one byte, the enum value.
constexpr char kPayloadUrl[] = "type.pdgate.dev/pdgate.auth.JwtError";
constexpr int kLastError = static_cast<int>(JwtError::kBadAudience);

}  // namespace

std::string_view ToString(JwtError error) {
  switch (error) {
    case JwtError::kMalformed:
      return "malformed";
    case JwtError::kTooLarge:
      return "too_large";
    case JwtError::kUnsupportedAlgorithm:
      return "unsupported_algorithm";
    case JwtError::kUnknownKey:
      return "unknown_key";
    case JwtError::kKeyMismatch:
      return "key_mismatch";
    case JwtError::kBadSignature:
      return "bad_signature";
    case JwtError::kExpired:
      return "expired";
    case JwtError::kNotYetValid:
      return "not_yet_valid";
    case JwtError::kMissingClaim:
      return "missing_claim";
    case JwtError::kBadIssuer:
      return "bad_issuer";
    case JwtError::kBadAudience:
      return "bad_audience";
  }
  return "malformed";
}

absl::Status JwtFailure(JwtError error, std::string_view detail) {
  std::string message(ToString(error));
  if (!detail.empty()) {
    message += ": ";
    message += detail;
  }
  absl::Status status = absl::UnauthenticatedError(message);
  const char code = static_cast<char>(error);
  status.SetPayload(kPayloadUrl, absl::Cord(absl::string_view(&code, 1)));
  return status;
}

std::optional<JwtError> JwtErrorOf(const absl::Status& status) {
  if (status.ok()) return std::nullopt;
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  const std::string bytes(*payload);
  if (bytes.size() != 1) return std::nullopt;
  const int value = static_cast<unsigned char>(bytes[0]);
  if (value > kLastError) return std::nullopt;
  return static_cast<JwtError>(value);
}

}  // namespace pdgate::auth

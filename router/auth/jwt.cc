#include "router/auth/jwt.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "router/auth/base64url.h"
#include "router/auth/json_object.h"
#include "router/auth/signature.h"

namespace pdgate::auth {
namespace {

using internal::GetString;

// Numeric dates are clamped to ±2^40 s (±34,000 years) and `now` and the leeway likewise, so the
// comparisons below cannot overflow whatever a token or a caller supplies.
constexpr int64_t kMaxSeconds = int64_t{1} << 40;

int64_t Clamp(int64_t value, int64_t low, int64_t high) { return std::clamp(value, low, high); }

struct Segments {
  std::string_view header, payload, signature, signing_input;
};

std::optional<Segments> Split(std::string_view token) {
  const size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  Segments s{token.substr(0, first), token.substr(first + 1, second - first - 1),
             token.substr(second + 1), token.substr(0, second)};
  if (s.header.empty() || s.payload.empty() || s.signature.empty()) return std::nullopt;
  return s;
}

// Decodes a base64url segment and parses it as a JSON object without duplicate members. The
// object points into `parser`, which must outlive it; `json` is the decoded text.
absl::Status ParseSegment(std::string_view segment, std::string_view what,
                          simdjson::dom::parser& parser, std::string& json,
                          simdjson::dom::object& object) {
  auto decoded = Base64UrlDecode(segment);
  if (!decoded) return JwtFailure(JwtError::kMalformed, std::string(what) + "_base64");
  json = std::move(*decoded);
  if (parser.parse(json).get_object().get(object) != simdjson::SUCCESS) {
    return JwtFailure(JwtError::kMalformed, std::string(what) + "_not_json_object");
  }
  if (internal::HasDuplicateMember(object)) {
    return JwtFailure(JwtError::kMalformed, std::string(what) + "_duplicate_member");
  }
  return absl::OkStatus();
}

enum class Round { kDown, kUp };

// A NumericDate claim (RFC 7519 §2): nullopt when absent; kMalformed when not a number.
absl::StatusOr<std::optional<int64_t>> NumericDate(simdjson::dom::object claims,
                                                   std::string_view name, Round round) {
  simdjson::dom::element element;
  if (claims.at_key(name).get(element) != simdjson::SUCCESS) return std::optional<int64_t>();
  int64_t seconds = 0;
  switch (element.type()) {
    case simdjson::dom::element_type::INT64:
      seconds = Clamp(element.get_int64().value_unsafe(), -kMaxSeconds, kMaxSeconds);
      break;
    case simdjson::dom::element_type::UINT64:
      seconds = kMaxSeconds;  // beyond int64, so beyond the clamp
      break;
    case simdjson::dom::element_type::DOUBLE: {
      double value = element.get_double().value_unsafe();
      value = round == Round::kDown ? std::floor(value) : std::ceil(value);
      value =
          std::clamp(value, -static_cast<double>(kMaxSeconds), static_cast<double>(kMaxSeconds));
      seconds = static_cast<int64_t>(value);
      break;
    }
    default:
      return JwtFailure(JwtError::kMalformed, std::string(name) + "_not_numeric");
  }
  return std::optional<int64_t>(seconds);
}

absl::Status CheckAudience(simdjson::dom::object claims, const std::vector<std::string>& wanted) {
  if (wanted.empty()) return absl::OkStatus();
  auto accepted = [&](std::string_view aud) {
    return std::find(wanted.begin(), wanted.end(), aud) != wanted.end();
  };
  simdjson::dom::element aud;
  if (claims.at_key("aud").get(aud) != simdjson::SUCCESS) {
    return JwtFailure(JwtError::kBadAudience, "missing_aud");
  }
  std::string_view single;
  if (aud.get_string().get(single) == simdjson::SUCCESS) {
    return accepted(single) ? absl::OkStatus() : JwtFailure(JwtError::kBadAudience);
  }
  simdjson::dom::array list;
  if (aud.get_array().get(list) != simdjson::SUCCESS) {
    return JwtFailure(JwtError::kMalformed, "aud_type");
  }
  bool found = false;
  for (simdjson::dom::element entry : list) {
    std::string_view value;
    if (entry.get_string().get(value) != simdjson::SUCCESS) {
      return JwtFailure(JwtError::kMalformed, "aud_type");
    }
    found = found || accepted(value);
  }
  return found ? absl::OkStatus() : JwtFailure(JwtError::kBadAudience);
}

// An optional string claim into `out`; kMalformed when present with another type.
absl::Status OptionalString(simdjson::dom::object claims, const std::string& name,
                            std::string& out) {
  if (name.empty()) return absl::OkStatus();
  auto member = GetString(claims, name);
  if (!member.present) return absl::OkStatus();
  if (!member.is_string) return JwtFailure(JwtError::kMalformed, "claim_type");
  out = std::string(member.value);
  return absl::OkStatus();
}

absl::Status ReadModels(simdjson::dom::object claims, const std::string& name,
                        std::vector<std::string>& models) {
  if (name.empty()) return absl::OkStatus();
  simdjson::dom::element element;
  if (claims.at_key(name).get(element) != simdjson::SUCCESS) {
    return JwtFailure(JwtError::kMissingClaim, "models");
  }
  std::string_view spaced;
  simdjson::dom::array list;
  if (element.get_string().get(spaced) == simdjson::SUCCESS) {
    while (!spaced.empty()) {
      const size_t space = spaced.find(' ');
      std::string_view word = spaced.substr(0, space);
      if (!word.empty()) models.emplace_back(word);
      spaced = space == std::string_view::npos ? std::string_view() : spaced.substr(space + 1);
    }
  } else if (element.get_array().get(list) == simdjson::SUCCESS) {
    for (simdjson::dom::element entry : list) {
      std::string_view model;
      if (entry.get_string().get(model) != simdjson::SUCCESS) {
        return JwtFailure(JwtError::kMalformed, "models_type");
      }
      if (!model.empty()) models.emplace_back(model);
    }
  } else {
    return JwtFailure(JwtError::kMalformed, "models_type");
  }
  // An empty list would read as "all models" in Principal.
  if (models.empty()) return JwtFailure(JwtError::kMissingClaim, "models_empty");
  return absl::OkStatus();
}

const Jwk* SelectKey(const KeySet& keys, std::string_view kid) {
  if (!kid.empty()) return keys.Find(kid);
  return keys.size() == 1 ? keys.Find("") : nullptr;
}

}  // namespace

bool LooksLikeJwt(std::string_view credential) {
  auto segments = Split(credential);
  return segments && IsBase64UrlAlphabet(segments->header) &&
         IsBase64UrlAlphabet(segments->payload) && IsBase64UrlAlphabet(segments->signature);
}

absl::StatusOr<VerifiedToken> VerifyJwt(std::string_view token, const KeySet& keys,
                                        const JwtPolicy& policy, int64_t now_unix_seconds) {
  if (token.size() > policy.max_token_bytes) return JwtFailure(JwtError::kTooLarge);
  auto segments = Split(token);
  if (!segments) return JwtFailure(JwtError::kMalformed, "segments");

  simdjson::dom::parser parser;
  std::string json;
  simdjson::dom::object header;
  if (auto status = ParseSegment(segments->header, "header", parser, json, header); !status.ok()) {
    return status;
  }
  simdjson::dom::element ignored;
  if (header.at_key("crit").get(ignored) == simdjson::SUCCESS) {
    return JwtFailure(JwtError::kMalformed, "crit_header");
  }
  auto alg_name = GetString(header, "alg");
  if (!alg_name.is_string) return JwtFailure(JwtError::kMalformed, "alg");
  // The name itself is not echoed: it is attacker text and the message is logged.
  auto alg = ParseAlgorithm(alg_name.value);
  if (!alg) return JwtFailure(JwtError::kUnsupportedAlgorithm);
  auto kid_member = GetString(header, "kid");
  if (kid_member.present && !kid_member.is_string) return JwtFailure(JwtError::kMalformed, "kid");
  const Jwk* key = SelectKey(keys, kid_member.value);
  if (key == nullptr) return JwtFailure(JwtError::kUnknownKey);

  auto signature = Base64UrlDecode(segments->signature);
  if (!signature) return JwtFailure(JwtError::kMalformed, "signature_base64");
  if (auto status = VerifySignature(*alg, *key, segments->signing_input, *signature);
      !status.ok()) {
    return status;
  }

  // Signed: from here on the payload is the issuer's word. `header` dies with the reparse.
  simdjson::dom::object claims;
  if (auto status = ParseSegment(segments->payload, "payload", parser, json, claims);
      !status.ok()) {
    return status;
  }
  const int64_t now = Clamp(now_unix_seconds, -kMaxSeconds, kMaxSeconds);
  const int64_t leeway = Clamp(policy.leeway_seconds, 0, kMaxSeconds);

  auto exp = NumericDate(claims, "exp", Round::kDown);
  if (!exp.ok()) return exp.status();
  if (!exp->has_value()) return JwtFailure(JwtError::kMissingClaim, "exp");
  if (**exp <= now - leeway) return JwtFailure(JwtError::kExpired);
  for (std::string_view name : {"nbf", "iat"}) {
    auto date = NumericDate(claims, name, Round::kUp);
    if (!date.ok()) return date.status();
    if (date->has_value() && **date > now + leeway) {
      return JwtFailure(JwtError::kNotYetValid, name == "nbf" ? "nbf" : "iat");
    }
  }

  if (!policy.issuer.empty()) {
    auto iss = GetString(claims, "iss");
    if (!iss.is_string || iss.value != policy.issuer) return JwtFailure(JwtError::kBadIssuer);
  }
  if (auto status = CheckAudience(claims, policy.audiences); !status.ok()) return status;

  VerifiedToken verified;
  verified.expires_at = **exp;
  verified.kid = key->kid;
  Principal& principal = verified.principal;
  principal.method = AuthMethod::kJwt;
  auto sub = GetString(claims, "sub");
  // An empty subject would pool every such caller into one user for fairness and limits.
  if (!sub.is_string || sub.value.empty()) return JwtFailure(JwtError::kMissingClaim, "sub");
  principal.user = std::string(sub.value);
  if (auto status = OptionalString(claims, policy.tenant_claim, principal.tenant); !status.ok()) {
    return status;
  }
  if (auto status = OptionalString(claims, policy.priority_claim, principal.priority_class);
      !status.ok()) {
    return status;
  }
  if (auto status = ReadModels(claims, policy.models_claim, principal.allowed_models);
      !status.ok()) {
    return status;
  }
  return verified;
}

}  // namespace pdgate::auth

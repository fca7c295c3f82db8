#pragma once
// Helpers the JWT test files share (jwt_test.cc, jwt_claims_test.cc): the test keys as a key
// set, a policy, a payload with every claim the policy checks, and verification at a fixed now.
#include <catch2/catch.hpp>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "router/auth/jwt.h"
#include "tests/router/auth/test_keys.h"

namespace pdgate::auth::testing {

inline constexpr int64_t kNow = 1'700'000'000;

inline EVP_PKEY* Rsa() { return SharedKey(KeyKind::kRsa2048).get(); }
inline EVP_PKEY* P256() { return SharedKey(KeyKind::kP256).get(); }
inline EVP_PKEY* P384() { return SharedKey(KeyKind::kP384).get(); }
inline EVP_PKEY* Ed() { return SharedKey(KeyKind::kEd25519).get(); }

inline KeySet Keys(std::initializer_list<std::string> jwks) {
  auto keys = ParseJwks(testing::JwksOf(jwks));
  REQUIRE(keys.ok());
  return *std::move(keys);
}

inline const KeySet& StandardKeys() {
  static const KeySet keys = Keys({PublicJwk(Rsa(), "rsa"), PublicJwk(P256(), "p256"),
                                   PublicJwk(P384(), "p384"), PublicJwk(Ed(), "ed")});
  return keys;
}

inline JwtPolicy Policy() {
  JwtPolicy policy;
  policy.issuer = "https://idp.example";
  policy.audiences = {"pdgate", "other"};
  policy.models_claim = "models";
  policy.priority_claim = "prio";
  return policy;
}

// A payload with every claim Policy() checks, `extra` members spliced in first (so they can
// also supply a claim the defaults then duplicate; use `without` to drop defaults).
inline std::string Claims(std::string_view extra = {}, std::set<std::string> without = {}) {
  std::string json = "{";
  auto add = [&](const std::string& name, const std::string& value) {
    if (without.count(name)) return;
    if (json.size() > 1) json += ",";
    json += "\"" + name + "\":" + value;
  };
  if (!extra.empty()) json += extra;
  add("sub", "\"alice\"");
  add("iss", "\"https://idp.example\"");
  add("aud", "\"pdgate\"");
  add("exp", std::to_string(kNow + 3600));
  add("iat", std::to_string(kNow));
  add("tenant", "\"acme\"");
  add("models", R"(["llama","qwen"])");
  add("prio", "\"high\"");
  return json + "}";
}

inline absl::StatusOr<VerifiedToken> Verify(const std::string& token,
                                            const JwtPolicy& policy = Policy(),
                                            const KeySet& keys = StandardKeys(),
                                            int64_t now = kNow) {
  return VerifyJwt(token, keys, policy, now);
}

inline std::optional<JwtError> ErrorOf(const absl::StatusOr<VerifiedToken>& result) {
  return JwtErrorOf(result.status());
}

inline std::string RsaToken(std::string_view claims, std::string_view kid = "rsa") {
  return MakeToken(Algorithm::kRs256, Rsa(), Header("RS256", kid), claims);
}

inline std::vector<std::string> SplitToken(const std::string& token) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot = token.find('.'); dot != std::string::npos; dot = token.find('.', start)) {
    parts.push_back(token.substr(start, dot - start));
    start = dot + 1;
  }
  parts.push_back(token.substr(start));
  REQUIRE(parts.size() == 3);
  return parts;
}

}  // namespace pdgate::auth::testing

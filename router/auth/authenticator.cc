#include "router/auth/authenticator.h"

#include "router/auth/jwks.h"
#include "router/auth/token_cache.h"

namespace pdgate::auth {
namespace {

constexpr std::array<std::string_view, size_t(AuthResult::kCount)> kNames = {
    "ok",
    "missing_credential",
    "malformed_header",
    "method_not_enabled",
    "unknown_api_key",
    "jwks_unavailable",
    "malformed",
    "too_large",
    "unsupported_algorithm",
    "unknown_key",
    "key_mismatch",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "missing_claim",
    "bad_issuer",
    "bad_audience",
};

AuthResult FromJwtError(JwtError error) {
  return AuthResult(size_t(AuthResult::kJwtMalformed) + size_t(error));
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The credential of `Authorization: Bearer <credential>` (the scheme is case-insensitive, RFC
// 7235 §2.1); nullopt for another scheme or an empty credential.
std::optional<std::string_view> BearerCredential(std::string_view header) {
  header = Trim(header);
  const size_t space = header.find_first_of(" \t");
  if (space == std::string_view::npos || !IEquals(header.substr(0, space), "bearer")) {
    return std::nullopt;
  }
  std::string_view credential = Trim(header.substr(space));
  if (credential.empty() || credential.find_first_of(" \t") != std::string_view::npos) {
    return std::nullopt;
  }
  return credential;
}

}  // namespace

std::string_view ToString(AuthResult result) {
  return size_t(result) < kNames.size() ? kNames[size_t(result)] : "unknown";
}

std::shared_ptr<const AuthPolicy> MakeAuthPolicy(const config::AuthSettings& settings) {
  if (!settings.enabled()) return nullptr;
  auto policy = std::make_shared<AuthPolicy>();
  policy->jwt = settings.jwt_enabled();
  JwtPolicy& jwt = policy->jwt_policy;
  jwt.issuer = settings.issuer;
  jwt.audiences = settings.audiences;
  jwt.leeway_seconds = settings.leeway.count();
  jwt.max_token_bytes = settings.max_token_bytes;
  jwt.tenant_claim = settings.tenant_claim;
  jwt.models_claim = settings.models_claim;
  jwt.priority_claim = settings.priority_claim;
  policy->api_keys_enabled = settings.api_keys_enabled();
  std::vector<ApiKeyRecord> records;
  for (const config::ApiKeySetting& key : settings.api_keys) {
    Principal principal;
    principal.user = key.user;
    principal.tenant = key.tenant;
    principal.allowed_models = key.models;
    principal.priority_class = key.priority_class;
    principal.method = AuthMethod::kApiKey;
    records.push_back({key.sha256, std::move(principal), nullptr, key.id});
  }
  // The configuration already refused duplicate ids and keys; a store that still fails to build
  // authenticates nobody (fail closed).
  policy->api_keys = ApiKeyStore::Create(std::move(records)).value_or(ApiKeyStore());
  return policy;
}

Authentication Authenticate(const AuthPolicy& policy, const KeySet* keys, TokenCache& cache,
                            std::string_view authorization, std::string_view x_api_key,
                            int64_t now) {
  Authentication out;
  std::string_view credential;
  if (!authorization.empty()) {
    std::optional<std::string_view> bearer = BearerCredential(authorization);
    if (!bearer) {
      out.result = AuthResult::kMalformedHeader;
      return out;
    }
    credential = *bearer;
  } else if (!x_api_key.empty()) {
    credential = Trim(x_api_key);
    if (credential.empty()) {
      out.result = AuthResult::kMalformedHeader;
      return out;
    }
  } else {
    out.result = AuthResult::kMissingCredential;
    return out;
  }

  if (policy.jwt && LooksLikeJwt(credential)) {
    out.method = AuthMethod::kJwt;
    if (std::shared_ptr<const Principal> cached = cache.Find(credential, now)) {
      out.result = AuthResult::kOk;
      out.principal = std::move(cached);
      out.cache_hit = true;
      return out;
    }
    if (keys == nullptr) {
      out.result = AuthResult::kJwksUnavailable;
      return out;
    }
    absl::StatusOr<VerifiedToken> verified = VerifyJwt(credential, *keys, policy.jwt_policy, now);
    if (!verified.ok()) {
      std::optional<JwtError> error = JwtErrorOf(verified.status());
      out.result = error ? FromJwtError(*error) : AuthResult::kJwtMalformed;
      return out;
    }
    out.principal = cache.Insert(credential, std::move(*verified));
    out.result = AuthResult::kOk;
    return out;
  }
  out.method = AuthMethod::kApiKey;  // not a JWT, so an API key or nothing
  if (!policy.api_keys_enabled) {
    out.result = AuthResult::kMethodNotEnabled;
    return out;
  }
  const ApiKeyRecord* record = policy.api_keys.Find(credential);
  if (record == nullptr) {
    out.result = AuthResult::kUnknownApiKey;
    return out;
  }
  out.result = AuthResult::kOk;
  out.principal = record->shared_principal;
  return out;
}

}  // namespace pdgate::auth

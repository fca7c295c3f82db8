// The `auth` section: Kthena's three fields (issuer, audiences, jwksUri) and pdgate's additions
// (API keys, claims, leeway, JWKS refresh). API keys are hashed here, at load: no plaintext key
// outlives the parse.
#include <openssl/evp.h>

#include <fstream>
#include <sstream>

#include "config/object_parsers.h"
#include "base/strings.h"

namespace pdgate::config {
namespace {

std::array<uint8_t, 32> Sha256Of(std::string_view text) {
  std::array<uint8_t, 32> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return digest;
}

std::optional<std::array<uint8_t, 32>> ParseHexDigest(std::string_view hex) {
  if (hex.starts_with("sha256:")) hex.remove_prefix(7);
  if (hex.size() != 64) return std::nullopt;
  std::array<uint8_t, 32> digest{};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    const int high = nibble(hex[2 * i]);
    const int low = nibble(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    digest[i] = uint8_t(high << 4 | low);
  }
  return digest;
}

void ParseApiKey(MapReader& entry, std::vector<ApiKeySetting>& keys) {
  ApiKeySetting key;
  std::optional<std::string> id = entry.String("id", Presence::kRequired);
  std::optional<std::string> digest = entry.String("sha256");
  std::optional<std::string> plain = entry.String("key");
  if (digest && plain) {
    entry.scope().Error(entry.PathOf("key"), "set either sha256 or key, not both");
    return;
  }
  if (digest) {
    auto parsed = ParseHexDigest(*digest);
    if (!parsed) {
      entry.scope().Error(entry.PathOf("sha256"), "must be 64 hexadecimal digits");
      return;
    }
    key.sha256 = *parsed;
  } else if (plain) {
    if (plain->size() < 16) {
      entry.scope().Error(entry.PathOf("key"), "must be at least 16 characters");
      return;
    }
    key.sha256 = Sha256Of(*plain);
  } else {
    entry.scope().Error(entry.path(), "needs sha256 (the key's SHA-256 digest in hex) or key");
    return;
  }
  if (!id) return;
  key.id = *id;
  key.user = entry.String("user").value_or(*id);
  key.tenant = entry.String("tenant").value_or("");
  key.models = entry.StringList("models").value_or(std::vector<std::string>{});
  key.priority_class = entry.String("priorityClass").value_or("");
  keys.push_back(std::move(key));
}

void ParseApiKeyList(const YAML::Node& list, const std::string& path, ObjectScope& scope,
                     std::vector<ApiKeySetting>& keys) {
  if (!IsSequenceOrAbsent(list, path, scope)) return;
  for (size_t i = 0; list.IsDefined() && i < list.size(); ++i) {
    MapReader entry(list[i], IndexPath(path, i), scope);
    ParseApiKey(entry, keys);
    entry.Finish();
  }
}

// A file holding the apiKeys list (or a mapping with `apiKeys:`), e.g. a mounted Secret.
void ReadApiKeysFile(const std::string& file, const std::string& path, ObjectScope& scope,
                     std::vector<ApiKeySetting>& keys) {
  std::ifstream in(file);
  if (!in) {
    scope.Error(path, StrCat("cannot read ", file));
    return;
  }
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node node;
  try {
    node = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    scope.Error(path, StrCat(file, ": invalid YAML: ", e.what()));
    return;
  }
  if (node.IsMap()) node = node["apiKeys"];
  ParseApiKeyList(node, StrCat(path, "(", file, ")"), scope, keys);
}

void CheckUnique(const std::vector<ApiKeySetting>& keys, const std::string& path,
                 ObjectScope& scope) {
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (keys[i].id == keys[j].id) {
        scope.Error(path, StrCat("API key id \"", keys[i].id, "\" is defined twice"));
      } else if (keys[i].sha256 == keys[j].sha256) {
        scope.Error(path, StrCat("API keys \"", keys[j].id, "\" and \"", keys[i].id,
                                 "\" are the same key"));
      }
    }
  }
}

}  // namespace

void ParseAuthSettings(MapReader& root, AuthSettings& auth) {
  MapReader reader(root.Child("auth"), root.PathOf("auth"), root.scope());
  if (!reader.present()) return;
  ObjectScope& scope = reader.scope();
  if (auto issuer = reader.String("issuer")) auth.issuer = *issuer;
  if (auto audiences = reader.StringList("audiences")) auth.audiences = *audiences;
  if (auto uri = reader.String("jwksUri")) {
    if (!uri->empty() && !uri->starts_with("http://") && !uri->starts_with("https://")) {
      scope.Error(reader.PathOf("jwksUri"), "must be an http:// or https:// URL");
    } else {
      auth.jwks_uri = *uri;
    }
  }
  if (auto ca = reader.String("jwksCaFile")) auth.jwks_ca_file = *ca;
  if (auto interval = reader.Duration("jwksRefreshInterval")) {
    if (*interval < std::chrono::seconds(1)) {
      scope.Error(reader.PathOf("jwksRefreshInterval"), "must be at least 1s");
    } else {
      auth.jwks_refresh_interval = std::chrono::duration_cast<milliseconds>(*interval);
    }
  }
  if (auto interval = reader.Duration("jwksMinRefreshInterval")) {
    auth.jwks_min_refresh_interval = std::chrono::duration_cast<milliseconds>(*interval);
  }
  if (auto leeway = reader.Duration("leeway")) {
    if (*leeway > std::chrono::minutes(10)) {
      scope.Error(reader.PathOf("leeway"), "must be at most 10m");
    } else {
      auth.leeway = std::chrono::duration_cast<seconds>(*leeway);
    }
  }
  if (auto n = reader.Int("maxTokenBytes", 256, 65536)) auth.max_token_bytes = size_t(*n);
  if (auto claim = reader.String("tenantClaim")) auth.tenant_claim = *claim;
  if (auto claim = reader.String("modelsClaim")) auth.models_claim = *claim;
  if (auto claim = reader.String("priorityClaim")) auth.priority_claim = *claim;
  if (auto forward = reader.Bool("forwardCredential")) auth.forward_credential = *forward;
  ParseApiKeyList(reader.Child("apiKeys"), reader.PathOf("apiKeys"), scope, auth.api_keys);
  if (auto file = reader.String("apiKeysFile")) {
    auth.api_keys_file = *file;
    if (!file->empty()) ReadApiKeysFile(*file, reader.PathOf("apiKeysFile"), scope, auth.api_keys);
  }
  CheckUnique(auth.api_keys, reader.PathOf("apiKeys"), scope);
  if (auth.jwks_uri.empty() && (!auth.issuer.empty() || !auth.audiences.empty())) {
    // Kthena's rule: no jwksUri, no JWT. Said aloud, since the operator may expect otherwise.
    scope.Warning(reader.PathOf("jwksUri"),
                  "is empty: JWT authentication is off (issuer and audiences are unused)");
  }
  reader.Finish();
}

}  // namespace pdgate::config

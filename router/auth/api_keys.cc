#include "router/auth/api_keys.h"

#include <absl/container/flat_hash_set.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <string>
#include <utility>

namespace pdgate::auth {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Sha256Digest Sha256(std::string_view bytes) {
  Sha256Digest digest{};
  unsigned int size = 0;
  // SHA-256 from the default provider fails only when memory does: nothing sane to return.
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size()) {
    std::abort();
  }
  return digest;
}

std::optional<Sha256Digest> ParseSha256Hex(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.substr(0, kPrefix.size()) == kPrefix) text.remove_prefix(kPrefix.size());
  if (text.size() != 64) return std::nullopt;
  Sha256Digest digest{};
  for (size_t i = 0; i < digest.size(); ++i) {
    const int high = HexValue(text[2 * i]);
    const int low = HexValue(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    digest[i] = static_cast<uint8_t>(high * 16 + low);
  }
  return digest;
}

absl::StatusOr<ApiKeyStore> ApiKeyStore::Create(std::vector<ApiKeyRecord> records) {
  ApiKeyStore store;
  absl::flat_hash_set<std::string> ids;
  for (ApiKeyRecord& record : records) {
    if (!ids.insert(record.id).second) {
      return absl::InvalidArgumentError("duplicate API key id: " + record.id);
    }
    record.principal.method = AuthMethod::kApiKey;
    record.principal.key_id = record.id;
    record.shared_principal = std::make_shared<const Principal>(record.principal);
    const Sha256Digest digest = record.sha256;
    if (!store.by_digest_.emplace(digest, std::move(record)).second) {
      return absl::InvalidArgumentError("two API keys have the same digest");
    }
  }
  return store;
}

const ApiKeyRecord* ApiKeyStore::Find(std::string_view presented) const {
  if (presented.empty() || by_digest_.empty()) return nullptr;
  const Sha256Digest digest = Sha256(presented);
  auto it = by_digest_.find(digest);
  if (it == by_digest_.end()) return nullptr;
  if (CRYPTO_memcmp(it->second.sha256.data(), digest.data(), digest.size()) != 0) return nullptr;
  return &it->second;
}

}  // namespace pdgate::auth

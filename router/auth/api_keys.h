#pragma once
// API keys, stored only as SHA-256 digests (a leaked config or heap dump yields no usable key).
//
// Lookup hashes the presented key and finds the digest in a hash map, then confirms the match
// with CRYPTO_memcmp. The map's own comparison is not constant-time, but what its timing could
// reveal is how much of a digest matches, which is useless without a SHA-256 preimage; keys are
// high-entropy secrets, so an unsalted fast hash is enough (no password-style KDF).
#include <absl/container/flat_hash_map.h>
#include <absl/status/statusor.h>

#include <array>
#include <memory>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/auth/principal.h"

namespace pdgate::auth {

using Sha256Digest = std::array<uint8_t, 32>;

struct ApiKeyRecord {
  Sha256Digest sha256{};  // SHA-256 of the key's bytes
  Principal principal;    // method is set to kApiKey by ApiKeyStore::Create
  std::shared_ptr<const Principal> shared_principal;  // the same, for requests to hold
  std::string id;         // a non-secret name for logs ("team-a-ci"), never the key
};

class ApiKeyStore {
 public:
  ApiKeyStore() = default;  // empty: authenticates nothing

  // Fails (INVALID_ARGUMENT) when two records share a digest (the same key configured twice,
  // so which principal it means would depend on order) or an id.
  static absl::StatusOr<ApiKeyStore> Create(std::vector<ApiKeyRecord> records);

  // The record whose key is `presented`; null when none (and for an empty key). The pointer
  // stays valid as long as the store.
  const ApiKeyRecord* Find(std::string_view presented) const;

  size_t size() const { return by_digest_.size(); }

 private:
  absl::flat_hash_map<Sha256Digest, ApiKeyRecord> by_digest_;
};

Sha256Digest Sha256(std::string_view bytes);

// A digest as configs write it: "sha256:" followed by 64 hex digits, or the 64 digits alone;
// either case of hex. nullopt for anything else (wrong length, other prefix, non-hex).
std::optional<Sha256Digest> ParseSha256Hex(std::string_view text);

}  // namespace pdgate::auth

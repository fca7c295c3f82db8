#pragma once
// A JSON Web Key Set (RFC 7517 §5) parsed into an immutable kid → public key map.
//
// Supported: RSA (n, e), EC P-256 / P-384 (x, y), OKP Ed25519 (x). Keys are built with OpenSSL 3's
// EVP_PKEY_fromdata; the deprecated RSA_*/EC_KEY_* APIs are not used. A key the set cannot use is
// skipped, not fatal: one odd key (an "enc" key, a P-521 key) must not stop an IdP's other keys
// from verifying. A set left empty by skips is an error, so a JWKS that verifies nothing never
// replaces a good one.
//
// A key without "kid" is kept under the empty kid. VerifyJwt uses it only for a token that has no
// kid either, and only when it is the set's sole key: with several keys, picking one for a kid-less
// token would be guessing.
#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>
#include <absl/status/statusor.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY; kept out of this header

namespace pdgate::auth {

// Public keys are shared by every KeySet copy and every thread: OpenSSL allows concurrent
// verification with one EVP_PKEY as long as nobody modifies it, and nobody does after parsing.
using EvpPkeyPtr = std::shared_ptr<evp_pkey_st>;

enum class KeyType { kRsa, kEc, kOkp };

// "RSA", "EC", "OKP" (the JWK kty values).
std::string_view ToString(KeyType type);

struct Jwk {
  std::string kid;  // empty when the JWK had none
  KeyType kty = KeyType::kRsa;
  std::string crv;  // "P-256", "P-384" or "Ed25519"; empty for RSA
  std::string alg;  // the JWK's own "alg"; empty when absent (any alg fitting kty/crv)
  EvpPkeyPtr key;   // never null in a KeySet
};

// A key left out of the set, for the log line of a JWKS refresh.
struct SkippedKey {
  size_t index = 0;    // position in the "keys" array
  std::string kid;     // empty when absent or unreadable
  std::string reason;  // snake_case: "unsupported_kty", "use_not_sig", "duplicate_kid", ...
};

// Limits on what ParseJwks accepts; an IdP's real set has a handful of keys and a few KiB.
inline constexpr size_t kMaxJwksBytes = 1 << 20;
inline constexpr size_t kMaxJwksKeys = 100;
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 16384;

class KeySet {
 public:
  size_t size() const { return keys_.size(); }
  // The key under `kid` ("" for the key that had no kid); null when absent.
  const Jwk* Find(std::string_view kid) const;
  const std::vector<SkippedKey>& skipped() const { return skipped_; }

 private:
  friend absl::StatusOr<KeySet> ParseJwks(std::string_view json);

  // Lets a std::string_view look up a std::string key without allocating.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
      return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
    }
  };
  absl::flat_hash_map<std::string, Jwk, Hash, std::equal_to<>> keys_;
  std::vector<SkippedKey> skipped_;
};

// Parses `{"keys":[...]}`. Errors (INVALID_ARGUMENT, message a snake_case reason): larger than
// kMaxJwksBytes, not JSON, no "keys" array, more than kMaxJwksKeys entries, no usable key left.
absl::StatusOr<KeySet> ParseJwks(std::string_view json);

}  // namespace pdgate::auth

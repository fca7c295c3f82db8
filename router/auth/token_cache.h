#pragma once
// A bounded LRU of verified bearer tokens, so a client reusing its JWT costs a hash lookup
// instead of a signature verification (RSA-2048: tens of microseconds) per request.
//
// Not thread-safe, on purpose: each io thread owns one cache (no lock on the request path;
// a token seen by two threads is verified once per thread). Hit/miss counters are plain
// integers read by the owning thread, e.g. when it merges its per-thread stats.
//
// Entries are keyed by XXH3-128 of the token bytes and also keep the bytes: a lookup compares
// them, so a hash collision can never authenticate a different token. An entry stops matching at
// the token's exp (no leeway: the cache only narrows what VerifyJwt accepted). Callers must Clear
// the cache when the JWKS or the auth config changes, so a removed key or a tightened policy
// takes effect at once rather than at each cached token's expiry.
#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "router/auth/jwt.h"
#include "router/auth/principal.h"

namespace pdgate::auth {

class TokenCache {
 public:
  using Key = std::pair<uint64_t, uint64_t>;
  using HashFunction = Key (*)(std::string_view token);

  // XXH3-128 of the token bytes (low, high): the production hash.
  static Key Xxh3(std::string_view token);

  // `hash` is replaceable only so a test can force collisions.
  explicit TokenCache(size_t max_entries = 4096, size_t max_token_bytes = 4 << 20,
                      HashFunction hash = &Xxh3);

  // The principal `token` was verified as, or null when absent or expired (now >= exp; the
  // entry is dropped). Counts a hit or a miss. Shared: a request keeps its principal while
  // later requests evict the entry.
  std::shared_ptr<const Principal> Find(std::string_view token, int64_t now);

  // Remembers a token VerifyJwt accepted, as the most recently used entry. Replaces an entry
  // with the same hash; a token larger than the byte budget is not cached. Returns the
  // principal, cached or not.
  std::shared_ptr<const Principal> Insert(std::string_view token, VerifiedToken verified);

  void Clear();

  size_t size() const { return entries_.size(); }
  size_t token_bytes() const { return token_bytes_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    Key key;
    std::string token;
    std::shared_ptr<const Principal> principal;
    int64_t expires_at;
  };
  using Lru = std::list<Entry>;  // front: most recently used

  void Erase(Lru::iterator it);

  HashFunction hash_;
  size_t max_entries_;
  size_t max_token_bytes_;
  size_t token_bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  Lru entries_;
  absl::flat_hash_map<Key, Lru::iterator> index_;
};

}  // namespace pdgate::auth

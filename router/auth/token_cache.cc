#include "router/auth/token_cache.h"

#include <openssl/crypto.h>
#include <xxhash.h>

#include <iterator>

namespace pdgate::auth {

TokenCache::TokenCache(size_t max_entries, size_t max_token_bytes, HashFunction hash)
    : hash_(hash), max_entries_(max_entries), max_token_bytes_(max_token_bytes) {}

TokenCache::Key TokenCache::Xxh3(std::string_view token) {
  const XXH128_hash_t hash = XXH3_128bits(token.data(), token.size());
  return {hash.low64, hash.high64};
}

void TokenCache::Erase(Lru::iterator it) {
  token_bytes_ -= it->token.size();
  index_.erase(it->key);
  entries_.erase(it);
}

std::shared_ptr<const Principal> TokenCache::Find(std::string_view token, int64_t now) {
  auto found = index_.find(hash_(token));
  if (found == index_.end()) {
    ++misses_;
    return nullptr;
  }
  Lru::iterator it = found->second;
  // Same length first: CRYPTO_memcmp compares a fixed number of bytes.
  const bool same = it->token.size() == token.size() &&
                    CRYPTO_memcmp(it->token.data(), token.data(), token.size()) == 0;
  if (!same) {
    ++misses_;
    return nullptr;
  }
  if (now >= it->expires_at) {
    Erase(it);
    ++misses_;
    return nullptr;
  }
  entries_.splice(entries_.begin(), entries_, it);
  ++hits_;
  return it->principal;
}

std::shared_ptr<const Principal> TokenCache::Insert(std::string_view token,
                                                    VerifiedToken verified) {
  auto principal = std::make_shared<const Principal>(std::move(verified.principal));
  if (max_entries_ == 0 || token.size() > max_token_bytes_) return principal;
  const Key key = hash_(token);
  if (auto found = index_.find(key); found != index_.end()) Erase(found->second);
  entries_.push_front(Entry{key, std::string(token), principal, verified.expires_at});
  index_.emplace(key, entries_.begin());
  token_bytes_ += token.size();
  while (entries_.size() > max_entries_ || token_bytes_ > max_token_bytes_) {
    Erase(std::prev(entries_.end()));
  }
  return principal;
}

void TokenCache::Clear() {
  entries_.clear();
  index_.clear();
  token_bytes_ = 0;
}

}  // namespace pdgate::auth

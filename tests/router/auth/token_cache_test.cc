#include "router/auth/token_cache.h"

#include <catch2/catch.hpp>

namespace pdgate::auth {
namespace {

VerifiedToken Token(std::string user, int64_t expires_at) {
  VerifiedToken verified;
  verified.principal.user = std::move(user);
  verified.principal.method = AuthMethod::kJwt;
  verified.expires_at = expires_at;
  return verified;
}

TEST_CASE("TokenCache: hit, miss and counters", "[auth][cache]") {
  TokenCache cache;
  CHECK(cache.Find("aaa.bbb.ccc", 100) == nullptr);
  cache.Insert("aaa.bbb.ccc", Token("alice", 200));
  std::shared_ptr<const Principal> hit = cache.Find("aaa.bbb.ccc", 100);
  REQUIRE(hit != nullptr);
  CHECK(hit->user == "alice");
  CHECK(hit->method == AuthMethod::kJwt);
  CHECK(cache.Find("aaa.bbb.ccd", 100) == nullptr);
  CHECK(cache.hits() == 1);
  CHECK(cache.misses() == 2);
  CHECK(cache.size() == 1);
  CHECK(cache.token_bytes() == 11);
}

TEST_CASE("TokenCache: an entry ends at exp", "[auth][cache]") {
  TokenCache cache;
  cache.Insert("token", Token("alice", 200));
  CHECK(cache.Find("token", 199) != nullptr);
  CHECK(cache.Find("token", 200) == nullptr);
  CHECK(cache.size() == 0);  // dropped, not kept for later
  CHECK(cache.token_bytes() == 0);
  CHECK(cache.Find("token", 100) == nullptr);
}

TEST_CASE("TokenCache: LRU eviction by entry count", "[auth][cache]") {
  TokenCache cache(2);
  cache.Insert("A", Token("a", 1000));
  cache.Insert("B", Token("b", 1000));
  REQUIRE(cache.Find("A", 0) != nullptr);  // A is now the most recently used
  cache.Insert("C", Token("c", 1000));
  CHECK(cache.size() == 2);
  CHECK(cache.Find("B", 0) == nullptr);
  CHECK(cache.Find("A", 0) != nullptr);
  CHECK(cache.Find("C", 0) != nullptr);
}

TEST_CASE("TokenCache: LRU eviction by token bytes", "[auth][cache]") {
  TokenCache cache(100, 10);
  cache.Insert("AAAA", Token("a", 1000));
  cache.Insert("BBBB", Token("b", 1000));
  CHECK(cache.token_bytes() == 8);
  cache.Insert("CCCC", Token("c", 1000));  // 12 > 10: A goes
  CHECK(cache.token_bytes() == 8);
  CHECK(cache.Find("AAAA", 0) == nullptr);
  CHECK(cache.Find("BBBB", 0) != nullptr);
  CHECK(cache.Find("CCCC", 0) != nullptr);
  cache.Insert("DDDDDDDDDD", Token("d", 1000));  // exactly the budget: everything else goes
  CHECK(cache.size() == 1);
  CHECK(cache.Find("DDDDDDDDDD", 0) != nullptr);
  cache.Insert("EEEEEEEEEEE", Token("e", 1000));  // over the budget alone: not cached
  CHECK(cache.Find("EEEEEEEEEEE", 0) == nullptr);
  CHECK(cache.Find("DDDDDDDDDD", 0) != nullptr);
}

TEST_CASE("TokenCache: re-inserting a token replaces its entry", "[auth][cache]") {
  TokenCache cache;
  cache.Insert("token", Token("alice", 100));
  cache.Insert("token", Token("alice", 300));
  CHECK(cache.size() == 1);
  CHECK(cache.token_bytes() == 5);
  CHECK(cache.Find("token", 200) != nullptr);
}

TEST_CASE("TokenCache: a hash collision never authenticates another token", "[auth][cache]") {
  // Every token collides.
  TokenCache cache(10, 1 << 20, [](std::string_view) { return TokenCache::Key{1, 2}; });
  cache.Insert("token-A", Token("alice", 1000));
  CHECK(cache.Find("token-B", 0) == nullptr);  // same length, same hash
  CHECK(cache.Find("token-AA", 0) == nullptr);
  CHECK(cache.Find("token-A", 0) != nullptr);
  cache.Insert("token-B", Token("bob", 1000));  // replaces A
  CHECK(cache.size() == 1);
  CHECK(cache.Find("token-A", 0) == nullptr);
  std::shared_ptr<const Principal> bob = cache.Find("token-B", 0);
  REQUIRE(bob != nullptr);
  CHECK(bob->user == "bob");
}

TEST_CASE("TokenCache: the production hash tells tokens apart", "[auth][cache]") {
  CHECK(TokenCache::Xxh3("a.b.c") == TokenCache::Xxh3("a.b.c"));
  CHECK(TokenCache::Xxh3("a.b.c") != TokenCache::Xxh3("a.b.d"));
  TokenCache cache;
  cache.Insert("token-A", Token("alice", 1000));
  CHECK(cache.Find("token-B", 0) == nullptr);
}

TEST_CASE("TokenCache: Clear forgets everything", "[auth][cache]") {
  TokenCache cache;
  cache.Insert("A", Token("a", 1000));
  cache.Insert("B", Token("b", 1000));
  cache.Clear();
  CHECK(cache.size() == 0);
  CHECK(cache.token_bytes() == 0);
  CHECK(cache.Find("A", 0) == nullptr);
  cache.Insert("A", Token("a", 1000));
  CHECK(cache.Find("A", 0) != nullptr);
}

TEST_CASE("TokenCache: zero capacity caches nothing", "[auth][cache]") {
  TokenCache cache(0);
  cache.Insert("A", Token("a", 1000));
  CHECK(cache.size() == 0);
  CHECK(cache.Find("A", 0) == nullptr);
}

}  // namespace
}  // namespace pdgate::auth

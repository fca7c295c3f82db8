#include "router/auth/api_keys.h"

#include <catch2/catch.hpp>

namespace pdgate::auth {
namespace {

ApiKeyRecord Record(std::string_view key, std::string id, std::string tenant) {
  ApiKeyRecord record;
  record.sha256 = Sha256(key);
  record.id = std::move(id);
  record.principal.user = record.id;
  record.principal.tenant = std::move(tenant);
  return record;
}

TEST_CASE("Sha256 matches the FIPS 180-2 vector", "[auth]") {
  auto expected =
      ParseSha256Hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  REQUIRE(expected.has_value());
  CHECK(Sha256("abc") == *expected);
  CHECK(Sha256("abd") != *expected);
}

TEST_CASE("ParseSha256Hex accepts sha256:<hex> and bare hex, nothing else", "[auth]") {
  const std::string hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  auto bare = ParseSha256Hex(hex);
  REQUIRE(bare.has_value());
  CHECK(*bare == Sha256(""));
  CHECK(ParseSha256Hex("sha256:" + hex) == bare);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(ParseSha256Hex("sha256:" + upper) == bare);
  CHECK((*bare)[0] == 0xe3);
  CHECK((*bare)[31] == 0x55);

  CHECK_FALSE(ParseSha256Hex(hex.substr(1)).has_value());
  CHECK_FALSE(ParseSha256Hex(hex + "0").has_value());
  CHECK_FALSE(ParseSha256Hex("sha1:" + hex).has_value());
  CHECK_FALSE(ParseSha256Hex("SHA256:" + hex).has_value());
  CHECK_FALSE(ParseSha256Hex("sha256:" + hex.substr(0, 63) + "g").has_value());
  CHECK_FALSE(ParseSha256Hex("sha256: " + hex.substr(1)).has_value());
  CHECK_FALSE(ParseSha256Hex("").has_value());
}

TEST_CASE("ApiKeyStore finds a key by its digest and never stores it", "[auth]") {
  auto store = ApiKeyStore::Create(
      {Record("sk-alpha-0123456789", "alpha", "t1"), Record("sk-beta-9876543210", "beta", "t2")});
  REQUIRE(store.ok());
  CHECK(store->size() == 2);
  const ApiKeyRecord* alpha = store->Find("sk-alpha-0123456789");
  REQUIRE(alpha != nullptr);
  CHECK(alpha->id == "alpha");
  CHECK(alpha->principal.tenant == "t1");
  CHECK(alpha->principal.method == AuthMethod::kApiKey);
  CHECK(alpha->sha256 == Sha256("sk-alpha-0123456789"));
  const ApiKeyRecord* beta = store->Find("sk-beta-9876543210");
  REQUIRE(beta != nullptr);
  CHECK(beta->id == "beta");

  CHECK(store->Find("sk-alpha-012345678") == nullptr);
  CHECK(store->Find("sk-alpha-01234567890") == nullptr);
  CHECK(store->Find("SK-ALPHA-0123456789") == nullptr);
  CHECK(store->Find("") == nullptr);
  // The digest itself is not a key.
  const auto digest = Sha256("sk-alpha-0123456789");
  CHECK(store->Find(std::string_view(reinterpret_cast<const char*>(digest.data()), 32)) == nullptr);

  ApiKeyStore empty;
  CHECK(empty.size() == 0);
  CHECK(empty.Find("sk-alpha-0123456789") == nullptr);
}

TEST_CASE("ApiKeyStore refuses ambiguous configs", "[auth]") {
  auto same_key = ApiKeyStore::Create({Record("k", "a", "t1"), Record("k", "b", "t2")});
  CHECK(same_key.status().code() == absl::StatusCode::kInvalidArgument);
  auto same_id = ApiKeyStore::Create({Record("k1", "a", "t1"), Record("k2", "a", "t2")});
  CHECK(same_id.status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdgate::auth

#include "router/auth/jwks.h"

#include <catch2/catch.hpp>
#include <map>

#include "router/auth/base64url.h"
#include "tests/router/auth/test_keys.h"

namespace pdgate::auth {
namespace {

using testing::KeyKind;
using testing::PublicJwk;
using testing::SharedKey;

// kid (or "#index" when empty) → reason
std::map<std::string, std::string> Reasons(const KeySet& keys) {
  std::map<std::string, std::string> reasons;
  for (const SkippedKey& skipped : keys.skipped()) {
    reasons[skipped.kid.empty() ? "#" + std::to_string(skipped.index) : skipped.kid] =
        skipped.reason;
  }
  return reasons;
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST_CASE("JWKS: supported keys are kept with their kty, crv and alg", "[auth]") {
  auto keys = ParseJwks(testing::JwksOf({
      PublicJwk(SharedKey(KeyKind::kRsa2048).get(), "rsa", "RS256"),
      PublicJwk(SharedKey(KeyKind::kP256).get(), "p256"),
      PublicJwk(SharedKey(KeyKind::kP384).get(), "p384", "ES384"),
      PublicJwk(SharedKey(KeyKind::kEd25519).get(), "ed"),
  }));
  REQUIRE(keys.ok());
  CHECK(keys->size() == 4);
  CHECK(keys->skipped().empty());
  const Jwk* rsa = keys->Find("rsa");
  REQUIRE(rsa != nullptr);
  CHECK(rsa->kty == KeyType::kRsa);
  CHECK(rsa->alg == "RS256");
  CHECK(rsa->crv.empty());
  CHECK(rsa->key != nullptr);
  const Jwk* p256 = keys->Find("p256");
  REQUIRE(p256 != nullptr);
  CHECK(p256->kty == KeyType::kEc);
  CHECK(p256->crv == "P-256");
  CHECK(p256->alg.empty());
  CHECK(keys->Find("p384")->crv == "P-384");
  CHECK(keys->Find("ed")->kty == KeyType::kOkp);
  CHECK(keys->Find("ed")->crv == "Ed25519");
  CHECK(keys->Find("missing") == nullptr);
  CHECK(keys->Find("") == nullptr);
  CHECK(ToString(KeyType::kRsa) == "RSA");
  CHECK(ToString(KeyType::kEc) == "EC");
  CHECK(ToString(KeyType::kOkp) == "OKP");
}

TEST_CASE("JWKS: unusable keys are skipped with a reason", "[auth]") {
  const std::string rsa = PublicJwk(SharedKey(KeyKind::kRsa2048).get(), "");
  const std::string p256 = PublicJwk(SharedKey(KeyKind::kP256).get(), "");
  // Inserts a member right after the opening brace of a generated JWK.
  auto with = [](std::string jwk, std::string_view member) {
    return jwk.insert(1, std::string(member) + ",");
  };
  const std::string huge_modulus = Base64UrlEncode(std::string(16392 / 8, '\xff'));
  const std::string off_curve = Base64UrlEncode(std::string(32, '\x01'));
  auto keys = ParseJwks(testing::JwksOf({
      with(rsa, R"("kid":"good")"),
      with(rsa, R"("kid":"enc","use":"enc")"),
      with(p256, R"("kid":"sig","use":"sig")"),
      R"({"kid":"oct","kty":"oct","k":"c2VjcmV0"})",
      R"({"kid":"p521","kty":"EC","crv":"P-521","x":"AA","y":"AA"})",
      R"({"kid":"x25519","kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
      PublicJwk(SharedKey(KeyKind::kRsa1024).get(), "small"),
      R"({"kid":"huge","kty":"RSA","e":"AQAB","n":")" + huge_modulus + "\"}",
      R"({"kid":"e1","kty":"RSA","e":"AQ","n":")" + huge_modulus.substr(0, 400) + "\"}",
      with(rsa, R"("kid":"good")"),
      R"({"kid":"badb64","kty":"RSA","e":"AQAB","n":"not+base64"})",
      R"({"kid":"short","kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"})",
      R"({"kid":"offcurve","kty":"EC","crv":"P-256","x":")" + off_curve + R"(","y":")" + off_curve +
          "\"}",
      with(rsa, R"("kid":"private","d":"AQAB")"),
      with(rsa, R"("kid":"hs","alg":"HS256")"),
      with(rsa, R"("kid":"mismatch","alg":"ES256")"),
      with(p256, R"("kid":"curvealg","alg":"ES384")"),
      with(rsa, R"("kid":"dup","kid":"dup2")"),
      R"({"kid":7,"kty":"RSA"})",
      R"({"kid":"nokty"})",
      "42",
  }));
  REQUIRE(keys.ok());
  CHECK(keys->size() == 2);
  CHECK(keys->Find("good") != nullptr);
  CHECK(keys->Find("sig") != nullptr);
  const auto reasons = Reasons(*keys);
  const std::map<std::string, std::string> expected = {
      {"enc", "use_not_sig"},
      {"oct", "unsupported_kty"},
      {"p521", "unsupported_crv"},
      {"x25519", "unsupported_crv"},
      {"small", "rsa_modulus_size"},
      {"huge", "rsa_modulus_size"},
      {"e1", "rsa_exponent"},
      {"good", "duplicate_kid"},
      {"badb64", "malformed"},
      {"short", "malformed"},
      {"offcurve", "openssl_rejected"},  // EVP_PKEY_fromdata checks the point is on the curve
      {"private", "private_key_material"},
      {"hs", "unsupported_alg"},
      {"mismatch", "alg_key_mismatch"},
      {"curvealg", "alg_key_mismatch"},
      {"#17", "duplicate_member"},
      {"#18", "malformed"},
      {"nokty", "malformed"},
      {"#20", "not_an_object"},
  };
  CHECK(reasons == expected);
}

TEST_CASE("JWKS: a key without kid is stored under the empty kid", "[auth]") {
  auto keys = ParseJwks(testing::JwksOf({PublicJwk(SharedKey(KeyKind::kEd25519).get(), "")}));
  REQUIRE(keys.ok());
  CHECK(keys->size() == 1);
  CHECK(keys->Find("") != nullptr);
  // A second kid-less key is a duplicate of the first.
  auto two = ParseJwks(testing::JwksOf({PublicJwk(SharedKey(KeyKind::kEd25519).get(), ""),
                                        PublicJwk(SharedKey(KeyKind::kP256).get(), "")}));
  REQUIRE(two.ok());
  CHECK(two->size() == 1);
  REQUIRE(two->skipped().size() == 1);
  CHECK(two->skipped()[0].reason == "duplicate_kid");
  CHECK(two->skipped()[0].index == 1);
}

TEST_CASE("JWKS: documents that verify nothing are errors", "[auth]") {
  CHECK(Message(ParseJwks("").status()) == "jwks_not_json");
  CHECK(Message(ParseJwks("{\"keys\":[").status()) == "jwks_not_json");
  CHECK(Message(ParseJwks("{}").status()) == "jwks_no_keys_array");
  CHECK(Message(ParseJwks("[]").status()) == "jwks_no_keys_array");
  CHECK(Message(ParseJwks(R"({"keys":{}})").status()) == "jwks_no_keys_array");
  CHECK(Message(ParseJwks(R"({"keys":[]})").status()) == "jwks_no_usable_keys");
  CHECK(Message(ParseJwks(R"({"keys":[{"kty":"oct","k":"AA"}]})").status()) ==
        "jwks_no_usable_keys");
  CHECK(ParseJwks("{}").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("JWKS: size and key-count limits", "[auth]") {
  const std::string jwk = PublicJwk(SharedKey(KeyKind::kEd25519).get(), "");
  std::string padded = testing::JwksOf({jwk});
  padded.insert(1, kMaxJwksBytes - padded.size(), ' ');
  REQUIRE(padded.size() == kMaxJwksBytes);
  CHECK(ParseJwks(padded).ok());
  padded.insert(1, " ");
  CHECK(Message(ParseJwks(padded).status()) == "jwks_too_large");

  auto many = [&](size_t count) {
    std::string json = R"({"keys":[)";
    for (size_t i = 0; i < count; ++i) {
      if (i > 0) json += ",";
      json += PublicJwk(SharedKey(KeyKind::kEd25519).get(), "k" + std::to_string(i));
    }
    return json + "]}";
  };
  auto at_limit = ParseJwks(many(kMaxJwksKeys));
  REQUIRE(at_limit.ok());
  CHECK(at_limit->size() == kMaxJwksKeys);
  CHECK(Message(ParseJwks(many(kMaxJwksKeys + 1)).status()) == "jwks_too_many_keys");
}

}  // namespace
}  // namespace pdgate::auth

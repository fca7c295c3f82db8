// JWT verification: signatures under every algorithm, tampering, refused algorithms, keys
// that must fit the algorithm, selection by kid, rotation. Claims are in jwt_claims_test.cc.
#include "router/auth/jwt.h"

#include <catch2/catch.hpp>
#include <set>

#include "router/auth/base64url.h"
#include "router/auth/signature.h"
#include "tests/router/auth/jwt_test_util.h"
#include "tests/router/auth/test_keys.h"

namespace pdgate::auth {
namespace {

using testing::Claims;
using testing::Ed;
using testing::ErrorOf;
using testing::Header;
using testing::KeyKind;
using testing::Keys;
using testing::kNow;
using testing::MakeToken;
using testing::P256;
using testing::P384;
using testing::Policy;
using testing::PublicJwk;
using testing::Rsa;
using testing::RsaToken;
using testing::SharedKey;
using testing::SplitToken;
using testing::StandardKeys;
using testing::Verify;

TEST_CASE("JWT: every algorithm verifies and yields the principal", "[auth][jwt]") {
  struct Case {
    Algorithm alg;
    EVP_PKEY* key;
    const char* kid;
  };
  const Case cases[] = {
      {Algorithm::kRs256, Rsa(), "rsa"},   {Algorithm::kRs384, Rsa(), "rsa"},
      {Algorithm::kRs512, Rsa(), "rsa"},   {Algorithm::kPs256, Rsa(), "rsa"},
      {Algorithm::kPs384, Rsa(), "rsa"},   {Algorithm::kPs512, Rsa(), "rsa"},
      {Algorithm::kEs256, P256(), "p256"}, {Algorithm::kEs384, P384(), "p384"},
      {Algorithm::kEdDsa, Ed(), "ed"},
  };
  for (const Case& c : cases) {
    INFO(ToString(c.alg));
    const std::string token = MakeToken(c.alg, c.key, Header(ToString(c.alg), c.kid), Claims());
    CHECK(LooksLikeJwt(token));
    auto verified = Verify(token);
    REQUIRE(verified.ok());
    CHECK(verified->kid == c.kid);
    CHECK(verified->expires_at == kNow + 3600);
    const Principal& p = verified->principal;
    CHECK(p.user == "alice");
    CHECK(p.tenant == "acme");
    CHECK(p.allowed_models == std::vector<std::string>{"llama", "qwen"});
    CHECK(p.priority_class == "high");
    CHECK(p.method == AuthMethod::kJwt);
  }
}

TEST_CASE("JWT: tampering with any segment breaks the signature", "[auth][jwt]") {
  for (Algorithm alg : {Algorithm::kRs256, Algorithm::kEs256, Algorithm::kEdDsa}) {
    INFO(ToString(alg));
    EVP_PKEY* key = alg == Algorithm::kRs256 ? Rsa() : alg == Algorithm::kEs256 ? P256() : Ed();
    const char* kid = alg == Algorithm::kRs256 ? "rsa" : alg == Algorithm::kEs256 ? "p256" : "ed";
    const std::string token = MakeToken(alg, key, Header(ToString(alg), kid), Claims());
    REQUIRE(Verify(token).ok());
    auto parts = SplitToken(token);

    const std::string header =
        R"({"alg":")" + std::string(ToString(alg)) + R"(","kid":")" + kid + R"(","typ":"JWT"})";
    CHECK(ErrorOf(Verify(Base64UrlEncode(header) + "." + parts[1] + "." + parts[2])) ==
          JwtError::kBadSignature);
    std::string claims = Claims();
    claims.replace(claims.find("alice"), 5, "admin");
    CHECK(ErrorOf(Verify(parts[0] + "." + Base64UrlEncode(claims) + "." + parts[2])) ==
          JwtError::kBadSignature);
    std::string signature = *Base64UrlDecode(parts[2]);
    signature[signature.size() / 2] = static_cast<char>(signature[signature.size() / 2] ^ 0x40);
    CHECK(ErrorOf(Verify(parts[0] + "." + parts[1] + "." + Base64UrlEncode(signature))) ==
          JwtError::kBadSignature);
  }
}

TEST_CASE("JWT: alg none and HMAC are refused", "[auth][jwt]") {
  const std::string payload = Base64UrlEncode(Claims());
  const std::string none = Base64UrlEncode(Header("none", "rsa"));
  CHECK(ErrorOf(Verify(none + "." + payload + ".")) == JwtError::kMalformed);  // empty signature
  CHECK(ErrorOf(Verify(none + "." + payload + ".AAAA")) == JwtError::kUnsupportedAlgorithm);
  const std::string none_no_kid = Base64UrlEncode(R"({"alg":"none"})");
  CHECK(ErrorOf(Verify(none_no_kid + "." + payload + ".AAAA")) == JwtError::kUnsupportedAlgorithm);

  // The classic confusion: HS256 "verified" with the RSA public key as the HMAC secret.
  for (const std::string& secret : {testing::PublicPem(Rsa()), PublicJwk(Rsa(), "rsa")}) {
    const std::string input = Base64UrlEncode(Header("HS256", "rsa")) + "." + payload;
    const std::string token = input + "." + Base64UrlEncode(testing::HmacSha256(secret, input));
    CHECK(ErrorOf(Verify(token)) == JwtError::kUnsupportedAlgorithm);
  }
  for (std::string_view alg : {"HS384", "HS512", "ES512", "RSA-OAEP", "rs256"}) {
    const std::string token = Base64UrlEncode(Header(alg, "rsa")) + "." + payload + ".AAAA";
    CHECK(ErrorOf(Verify(token)) == JwtError::kUnsupportedAlgorithm);
  }
  const std::string no_alg = Base64UrlEncode(R"({"kid":"rsa"})") + "." + payload + ".AAAA";
  CHECK(ErrorOf(Verify(no_alg)) == JwtError::kMalformed);
  const std::string alg_number = Base64UrlEncode(R"({"alg":256})") + "." + payload + ".AAAA";
  CHECK(ErrorOf(Verify(alg_number)) == JwtError::kMalformed);
}

TEST_CASE("JWT: the key must fit the algorithm", "[auth][jwt]") {
  // An RS256 token naming an EC key.
  CHECK(ErrorOf(Verify(RsaToken(Claims(), "p256"))) == JwtError::kKeyMismatch);
  // ES384 against the P-256 key, ES256 against P-384, EdDSA against RSA.
  CHECK(ErrorOf(Verify(MakeToken(Algorithm::kEs384, P384(), Header("ES384", "p256"), Claims()))) ==
        JwtError::kKeyMismatch);
  CHECK(ErrorOf(Verify(MakeToken(Algorithm::kEs256, P256(), Header("ES256", "p384"), Claims()))) ==
        JwtError::kKeyMismatch);
  CHECK(ErrorOf(Verify(MakeToken(Algorithm::kEdDsa, Ed(), Header("EdDSA", "rsa"), Claims()))) ==
        JwtError::kKeyMismatch);
  // The key's own alg pins it: PS256 with a key published for RS256 only.
  const KeySet pinned = Keys({PublicJwk(Rsa(), "rsa", "RS256")});
  const std::string ps256 = MakeToken(Algorithm::kPs256, Rsa(), Header("PS256", "rsa"), Claims());
  CHECK(ErrorOf(Verify(ps256, Policy(), pinned)) == JwtError::kKeyMismatch);
  CHECK(Verify(RsaToken(Claims()), Policy(), pinned).ok());
}

TEST_CASE("JWT: key selection by kid", "[auth][jwt]") {
  CHECK(ErrorOf(Verify(RsaToken(Claims(), "nope"))) == JwtError::kUnknownKey);
  // No kid: only a set whose single key has no kid either.
  CHECK(ErrorOf(Verify(RsaToken(Claims(), ""))) == JwtError::kUnknownKey);
  const KeySet single_named = Keys({PublicJwk(Rsa(), "rsa")});
  CHECK(ErrorOf(Verify(RsaToken(Claims(), ""), Policy(), single_named)) == JwtError::kUnknownKey);
  const KeySet single_anonymous = Keys({PublicJwk(Rsa(), "")});
  auto verified = Verify(RsaToken(Claims(), ""), Policy(), single_anonymous);
  REQUIRE(verified.ok());
  CHECK(verified->kid.empty());
  // A token naming a kid never falls back to the kid-less key.
  CHECK(ErrorOf(Verify(RsaToken(Claims(), "rsa"), Policy(), single_anonymous)) ==
        JwtError::kUnknownKey);
  const KeySet anonymous_and_named = Keys({PublicJwk(Rsa(), ""), PublicJwk(P256(), "p256")});
  CHECK(ErrorOf(Verify(RsaToken(Claims(), ""), Policy(), anonymous_and_named)) ==
        JwtError::kUnknownKey);
  const std::string kid_number =
      Base64UrlEncode(R"({"alg":"RS256","kid":1})") + "." + Base64UrlEncode(Claims()) + ".AAAA";
  CHECK(ErrorOf(Verify(kid_number)) == JwtError::kMalformed);
}

TEST_CASE("JWT: key rotation", "[auth][jwt]") {
  EVP_PKEY* old_key = SharedKey(KeyKind::kRsa2048, 0).get();
  EVP_PKEY* new_key = SharedKey(KeyKind::kRsa2048, 1).get();
  const KeySet before = Keys({PublicJwk(old_key, "2024")});
  const KeySet during = Keys({PublicJwk(old_key, "2024"), PublicJwk(new_key, "2025")});
  const KeySet after = Keys({PublicJwk(new_key, "2025")});
  const std::string old_token =
      MakeToken(Algorithm::kRs256, old_key, Header("RS256", "2024"), Claims());
  const std::string new_token =
      MakeToken(Algorithm::kRs256, new_key, Header("RS256", "2025"), Claims());
  CHECK(Verify(old_token, Policy(), before).ok());
  CHECK(ErrorOf(Verify(new_token, Policy(), before)) == JwtError::kUnknownKey);
  CHECK(Verify(old_token, Policy(), during).ok());
  CHECK(Verify(new_token, Policy(), during).ok());
  CHECK(ErrorOf(Verify(old_token, Policy(), after)) == JwtError::kUnknownKey);
  CHECK(Verify(new_token, Policy(), after).ok());
  // The new key under the old kid (an IdP reusing kids) does not verify old tokens.
  const KeySet reused = Keys({PublicJwk(new_key, "2024")});
  CHECK(ErrorOf(Verify(old_token, Policy(), reused)) == JwtError::kBadSignature);
}

TEST_CASE("JWT: ES256 signatures must be raw r||s of exactly 64 bytes", "[auth][jwt]") {
  const std::string token = MakeToken(Algorithm::kEs256, P256(), Header("ES256", "p256"), Claims());
  auto parts = SplitToken(token);
  const std::string raw = *Base64UrlDecode(parts[2]);
  REQUIRE(raw.size() == 64);
  const std::string input = parts[0] + "." + parts[1] + ".";
  CHECK(Verify(input + Base64UrlEncode(raw)).ok());
  CHECK(ErrorOf(Verify(input + Base64UrlEncode(raw.substr(0, 63)))) == JwtError::kBadSignature);
  CHECK(ErrorOf(Verify(input + Base64UrlEncode(raw + '\0'))) == JwtError::kBadSignature);
  CHECK(ErrorOf(Verify(input + Base64UrlEncode(std::string(1, '\0') + raw))) ==
        JwtError::kBadSignature);
  CHECK(ErrorOf(Verify(input + Base64UrlEncode(std::string(64, '\0')))) == JwtError::kBadSignature);
  // The same signature DER-encoded (what OpenSSL emits) is not JOSE.
  auto der_integer = [](std::string value) {
    while (value.size() > 1 && value[0] == '\0' && !(value[1] & 0x80)) value.erase(0, 1);
    if (value[0] & 0x80) value.insert(0, 1, '\0');
    return std::string(1, '\x02') + static_cast<char>(value.size()) + value;
  };
  const std::string body = der_integer(raw.substr(0, 32)) + der_integer(raw.substr(32));
  const std::string der = std::string(1, '\x30') + static_cast<char>(body.size()) + body;
  CHECK(ErrorOf(Verify(input + Base64UrlEncode(der))) == JwtError::kBadSignature);
  auto es384 = SplitToken(MakeToken(Algorithm::kEs384, P384(), Header("ES384", "p384"), Claims()));
  CHECK(Base64UrlDecode(es384[2])->size() == 96);
}

TEST_CASE("LooksLikeJwt tells JWTs from API keys", "[auth][jwt]") {
  CHECK(LooksLikeJwt("a.b.c"));
  CHECK(LooksLikeJwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_"));
  CHECK_FALSE(LooksLikeJwt("sk-live-1234567890abcdef"));
  CHECK_FALSE(LooksLikeJwt("a.b"));
  CHECK_FALSE(LooksLikeJwt("a.b.c.d"));
  CHECK_FALSE(LooksLikeJwt("a..c"));
  CHECK_FALSE(LooksLikeJwt(".b.c"));
  CHECK_FALSE(LooksLikeJwt("a.b."));
  CHECK_FALSE(LooksLikeJwt("a.b=.c"));
  CHECK_FALSE(LooksLikeJwt("a.b c.d"));
  CHECK_FALSE(LooksLikeJwt(""));
}

}  // namespace
}  // namespace pdgate::auth

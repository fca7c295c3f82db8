#include "router/auth/jwt.h"

#include <catch2/catch.hpp>
#include <set>

#include "router/auth/base64url.h"
#include "router/auth/signature.h"
#include "tests/router/auth/test_keys.h"

namespace pdgate::auth {
namespace {

using testing::Header;
using testing::KeyKind;
using testing::MakeToken;
using testing::PublicJwk;
using testing::SharedKey;

constexpr int64_t kNow = 1'700'000'000;

EVP_PKEY* Rsa() { return SharedKey(KeyKind::kRsa2048).get(); }
EVP_PKEY* P256() { return SharedKey(KeyKind::kP256).get(); }
EVP_PKEY* P384() { return SharedKey(KeyKind::kP384).get(); }
EVP_PKEY* Ed() { return SharedKey(KeyKind::kEd25519).get(); }

KeySet Keys(std::initializer_list<std::string> jwks) {
  auto keys = ParseJwks(testing::JwksOf(jwks));
  REQUIRE(keys.ok());
  return *std::move(keys);
}

const KeySet& StandardKeys() {
  static const KeySet keys = Keys({PublicJwk(Rsa(), "rsa"), PublicJwk(P256(), "p256"),
                                   PublicJwk(P384(), "p384"), PublicJwk(Ed(), "ed")});
  return keys;
}

JwtPolicy Policy() {
  JwtPolicy policy;
  policy.issuer = "https://idp.example";
  policy.audiences = {"pdgate", "other"};
  policy.models_claim = "models";
  policy.priority_claim = "prio";
  return policy;
}

// A payload with every claim Policy() checks, `extra` members spliced in first (so they can
// also supply a claim the defaults then duplicate; use `without` to drop defaults).
std::string Claims(std::string_view extra = {}, std::set<std::string> without = {}) {
  std::string json = "{";
  auto add = [&](const std::string& name, const std::string& value) {
    if (without.count(name)) return;
    if (json.size() > 1) json += ",";
    json += "\"" + name + "\":" + value;
  };
  if (!extra.empty()) json += extra;
  add("sub", "\"alice\"");
  add("iss", "\"https://idp.example\"");
  add("aud", "\"pdgate\"");
  add("exp", std::to_string(kNow + 3600));
  add("iat", std::to_string(kNow));
  add("tenant", "\"acme\"");
  add("models", R"(["llama","qwen"])");
  add("prio", "\"high\"");
  return json + "}";
}

absl::StatusOr<VerifiedToken> Verify(const std::string& token, const JwtPolicy& policy = Policy(),
                                     const KeySet& keys = StandardKeys(), int64_t now = kNow) {
  return VerifyJwt(token, keys, policy, now);
}

std::optional<JwtError> ErrorOf(const absl::StatusOr<VerifiedToken>& result) {
  return JwtErrorOf(result.status());
}

std::string RsaToken(std::string_view claims, std::string_view kid = "rsa") {
  return MakeToken(Algorithm::kRs256, Rsa(), Header("RS256", kid), claims);
}

std::vector<std::string> SplitToken(const std::string& token) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot = token.find('.'); dot != std::string::npos; dot = token.find('.', start)) {
    parts.push_back(token.substr(start, dot - start));
    start = dot + 1;
  }
  parts.push_back(token.substr(start));
  REQUIRE(parts.size() == 3);
  return parts;
}

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

TEST_CASE("JWT: exp, nbf and iat with leeway", "[auth][jwt]") {
  const JwtPolicy policy = Policy();  // leeway 60
  REQUIRE(policy.leeway_seconds == 60);
  auto with_exp = [](const std::string& exp) {
    return RsaToken(Claims(R"("exp":)" + exp, {"exp"}));
  };
  CHECK(ErrorOf(Verify(with_exp(std::to_string(kNow - 60)))) == JwtError::kExpired);
  CHECK(Verify(with_exp(std::to_string(kNow - 59))).ok());
  // now - 59.5 is inside the leeway, but exp rounds down to now - 60.
  CHECK(ErrorOf(Verify(with_exp(std::to_string(kNow - 60) + ".5"))) == JwtError::kExpired);
  CHECK(Verify(with_exp(std::to_string(kNow + 10) + ".0")).ok());
  CHECK(Verify(with_exp(std::to_string(kNow) + "e0")).ok());
  CHECK(Verify(with_exp("18446744073709551615")).ok());  // uint64: far future
  CHECK(ErrorOf(Verify(with_exp("-9223372036854775808"))) == JwtError::kExpired);
  CHECK(ErrorOf(Verify(with_exp("\"2030-01-01\""))) == JwtError::kMalformed);
  CHECK(ErrorOf(Verify(with_exp("null"))) == JwtError::kMalformed);
  auto missing_exp = Verify(RsaToken(Claims({}, {"exp"})));
  CHECK(ErrorOf(missing_exp) == JwtError::kMissingClaim);
  CHECK(missing_exp.status().message() == "missing_claim: exp");

  for (std::string name : {"nbf", "iat"}) {
    INFO(name);
    auto with = [&](const std::string& value) {
      std::string member = "\"" + name + "\":";
      member += value;
      return RsaToken(Claims(member, {"iat"}));
    };
    CHECK(Verify(with(std::to_string(kNow + 60))).ok());
    CHECK(ErrorOf(Verify(with(std::to_string(kNow + 61)))) == JwtError::kNotYetValid);
    CHECK(ErrorOf(Verify(with(std::to_string(kNow + 60) + ".25"))) == JwtError::kNotYetValid);
    CHECK(Verify(with(std::to_string(kNow - 100000))).ok());
    CHECK(ErrorOf(Verify(with("true"))) == JwtError::kMalformed);
  }
  // Leeway zero: exp must be strictly in the future.
  JwtPolicy strict = Policy();
  strict.leeway_seconds = 0;
  CHECK(ErrorOf(Verify(with_exp(std::to_string(kNow)), strict)) == JwtError::kExpired);
  CHECK(Verify(with_exp(std::to_string(kNow + 1)), strict).ok());
}

TEST_CASE("JWT: issuer and audience", "[auth][jwt]") {
  CHECK(ErrorOf(Verify(RsaToken(Claims(R"("iss":"https://evil")", {"iss"})))) ==
        JwtError::kBadIssuer);
  CHECK(ErrorOf(Verify(RsaToken(Claims({}, {"iss"})))) == JwtError::kBadIssuer);
  CHECK(ErrorOf(Verify(RsaToken(Claims(R"("iss":["https://idp.example"])", {"iss"})))) ==
        JwtError::kBadIssuer);
  JwtPolicy any_issuer = Policy();
  any_issuer.issuer.clear();
  CHECK(Verify(RsaToken(Claims(R"("iss":"https://evil")", {"iss"})), any_issuer).ok());

  auto with_aud = [](const std::string& aud) {
    return RsaToken(Claims(R"("aud":)" + aud, {"aud"}));
  };
  CHECK(Verify(with_aud(R"("pdgate")")).ok());
  CHECK(Verify(with_aud(R"("other")")).ok());
  CHECK(Verify(with_aud(R"(["x","pdgate"])")).ok());
  CHECK(ErrorOf(Verify(with_aud(R"("pdgate2")"))) == JwtError::kBadAudience);
  CHECK(ErrorOf(Verify(with_aud(R"(["x","y"])"))) == JwtError::kBadAudience);
  CHECK(ErrorOf(Verify(with_aud("[]"))) == JwtError::kBadAudience);
  CHECK(ErrorOf(Verify(RsaToken(Claims({}, {"aud"})))) == JwtError::kBadAudience);
  CHECK(ErrorOf(Verify(with_aud("42"))) == JwtError::kMalformed);
  CHECK(ErrorOf(Verify(with_aud(R"(["pdgate",1])"))) == JwtError::kMalformed);
  JwtPolicy any_audience = Policy();
  any_audience.audiences.clear();
  CHECK(Verify(with_aud(R"("someone-else")"), any_audience).ok());
  CHECK(Verify(RsaToken(Claims({}, {"aud"})), any_audience).ok());
}

TEST_CASE("JWT: identity claims", "[auth][jwt]") {
  CHECK(ErrorOf(Verify(RsaToken(Claims({}, {"sub"})))) == JwtError::kMissingClaim);
  CHECK(ErrorOf(Verify(RsaToken(Claims(R"("sub":42)", {"sub"})))) == JwtError::kMissingClaim);
  CHECK(ErrorOf(Verify(RsaToken(Claims(R"("sub":"")", {"sub"})))) == JwtError::kMissingClaim);

  auto without_tenant = Verify(RsaToken(Claims({}, {"tenant"})));
  REQUIRE(without_tenant.ok());
  CHECK(without_tenant->principal.tenant.empty());
  CHECK(ErrorOf(Verify(RsaToken(Claims(R"("tenant":7)", {"tenant"})))) == JwtError::kMalformed);
  JwtPolicy org = Policy();
  org.tenant_claim = "org";
  auto from_org = Verify(RsaToken(Claims(R"("org":"initech")")), org);
  REQUIRE(from_org.ok());
  CHECK(from_org->principal.tenant == "initech");

  auto spaced = Verify(RsaToken(Claims(R"("models":" llama  qwen mistral ")", {"models"})));
  REQUIRE(spaced.ok());
  CHECK(spaced->principal.allowed_models == std::vector<std::string>{"llama", "qwen", "mistral"});
  CHECK(Allows(spaced->principal, "qwen"));
  CHECK_FALSE(Allows(spaced->principal, "gpt"));
  // A configured models claim that is absent or empty refuses rather than allowing everything.
  CHECK(ErrorOf(Verify(RsaToken(Claims({}, {"models"})))) == JwtError::kMissingClaim);
  CHECK(ErrorOf(Verify(RsaToken(Claims(R"("models":[])", {"models"})))) == JwtError::kMissingClaim);
  CHECK(ErrorOf(Verify(RsaToken(Claims(R"("models":"  ")", {"models"})))) ==
        JwtError::kMissingClaim);
  CHECK(ErrorOf(Verify(RsaToken(Claims(R"("models":["a",1])", {"models"})))) ==
        JwtError::kMalformed);
  CHECK(ErrorOf(Verify(RsaToken(Claims(R"("models":{})", {"models"})))) == JwtError::kMalformed);
  JwtPolicy no_models = Policy();
  no_models.models_claim.clear();
  no_models.priority_claim.clear();
  auto all = Verify(RsaToken(Claims()), no_models);
  REQUIRE(all.ok());
  CHECK(all->principal.allowed_models.empty());
  CHECK(all->principal.priority_class.empty());
}

TEST_CASE("JWT: size and shape", "[auth][jwt]") {
  const std::string token = RsaToken(Claims());
  JwtPolicy policy = Policy();
  policy.max_token_bytes = token.size();
  CHECK(Verify(token, policy).ok());
  policy.max_token_bytes = token.size() - 1;
  CHECK(ErrorOf(Verify(token, policy)) == JwtError::kTooLarge);
  CHECK(ErrorOf(Verify(std::string(9000, 'a'))) == JwtError::kTooLarge);

  auto parts = SplitToken(token);
  for (const std::string& bad :
       {parts[0] + "." + parts[1], token + ".x", "." + parts[1] + "." + parts[2],
        parts[0] + ".." + parts[2], std::string(), std::string("..")}) {
    CHECK(ErrorOf(Verify(bad)) == JwtError::kMalformed);
  }
  // Bad base64url in each segment, including padding.
  CHECK(ErrorOf(Verify(parts[0] + "=." + parts[1] + "." + parts[2])) == JwtError::kMalformed);
  CHECK(ErrorOf(Verify("eyJ+" + parts[0].substr(4) + "." + parts[1] + "." + parts[2])) ==
        JwtError::kMalformed);
  CHECK(ErrorOf(Verify(parts[0] + "." + parts[1] + "." + parts[2] + "=")) == JwtError::kMalformed);
  CHECK(ErrorOf(Verify(parts[0] + "." + parts[1] + "." + parts[2] + "*")) == JwtError::kMalformed);
  // Non-JSON header; a JSON header that is not an object.
  for (std::string_view header : {"hello", "[\"RS256\"]", "\"RS256\"", "{\"alg\":\"RS256\""}) {
    CHECK(ErrorOf(Verify(Base64UrlEncode(header) + "." + parts[1] + "." + parts[2])) ==
          JwtError::kMalformed);
  }
  // A correctly signed payload that is not a JSON object.
  for (std::string_view payload : {"hello", "[1,2]", "{\"sub\":"}) {
    auto result = Verify(MakeToken(Algorithm::kRs256, Rsa(), Header("RS256", "rsa"), payload));
    CHECK(ErrorOf(result) == JwtError::kMalformed);
    CHECK(result.status().message() == "malformed: payload_not_json_object");
  }
  // An unsigned garbage payload fails on the signature before it is parsed.
  CHECK(ErrorOf(Verify(parts[0] + "." + Base64UrlEncode("not json") + "." + parts[2])) ==
        JwtError::kBadSignature);
}

TEST_CASE("JWT: crit and duplicate members are refused", "[auth][jwt]") {
  const std::string crit = R"({"alg":"RS256","kid":"rsa","crit":["exp"],"exp":1})";
  CHECK(ErrorOf(Verify(MakeToken(Algorithm::kRs256, Rsa(), crit, Claims()))) ==
        JwtError::kMalformed);
  const std::string twice = R"({"alg":"RS256","kid":"rsa","alg":"none"})";
  CHECK(ErrorOf(Verify(MakeToken(Algorithm::kRs256, Rsa(), twice, Claims()))) ==
        JwtError::kMalformed);
  // Two "sub" members: parsers disagree on which one counts, so neither does.
  auto duplicate_sub = Verify(RsaToken(Claims(R"("sub":"root")")));
  CHECK(ErrorOf(duplicate_sub) == JwtError::kMalformed);
  CHECK(duplicate_sub.status().message() == "malformed: payload_duplicate_member");
  // Header members we never act on are ignored, keys come only from the JWKS.
  const std::string jku = R"({"alg":"RS256","kid":"rsa","typ":"JWT","jku":"https://evil/jwks"})";
  CHECK(Verify(MakeToken(Algorithm::kRs256, Rsa(), jku, Claims())).ok());
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

TEST_CASE("JwtError travels in the status, not in its text", "[auth][jwt]") {
  const JwtError all[] = {
      JwtError::kMalformed,  JwtError::kTooLarge,    JwtError::kUnsupportedAlgorithm,
      JwtError::kUnknownKey, JwtError::kKeyMismatch, JwtError::kBadSignature,
      JwtError::kExpired,    JwtError::kNotYetValid, JwtError::kMissingClaim,
      JwtError::kBadIssuer,  JwtError::kBadAudience};
  std::set<std::string_view> names;
  for (JwtError error : all) {
    names.insert(ToString(error));
    absl::Status status = JwtFailure(error, "detail");
    CHECK(status.code() == absl::StatusCode::kUnauthenticated);
    CHECK(JwtErrorOf(status) == error);
    CHECK(std::string(status.message()) == std::string(ToString(error)) + ": detail");
    CHECK(std::string(JwtFailure(error).message()) == ToString(error));
  }
  CHECK(names.size() == std::size(all));
  CHECK(ToString(JwtError::kBadSignature) == "bad_signature");
  CHECK(ToString(JwtError::kUnsupportedAlgorithm) == "unsupported_algorithm");
  CHECK_FALSE(JwtErrorOf(absl::OkStatus()).has_value());
  CHECK_FALSE(JwtErrorOf(absl::UnauthenticatedError("bad_signature")).has_value());
}

}  // namespace
}  // namespace pdgate::auth

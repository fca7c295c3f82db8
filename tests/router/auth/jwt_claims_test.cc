// JWT verification of the claims and the token's shape: exp, nbf and iat with leeway, issuer
// and audience, identity claims, size limits, crit and duplicate members, how errors travel.
#include <catch2/catch.hpp>
#include <set>

#include "router/auth/base64url.h"
#include "router/auth/jwt.h"
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

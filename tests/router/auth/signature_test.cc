// Published vectors: RFC 7515 appendix A.2 (RS256) and A.3 (ES256), RFC 8037 appendix A.4
// (Ed25519). The values are the RFCs' own; they were checked independently with
// python3-cryptography before being written here.
#include "router/auth/signature.h"

#include <catch2/catch.hpp>

#include "router/auth/base64url.h"
#include "router/auth/jwt.h"
#include "router/auth/jwt_error.h"
#include "tests/router/auth/test_keys.h"

namespace pdgate::auth {
namespace {

constexpr std::string_view kRfc7515RsaN =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qP"
    "CJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7"
    "OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uD"
    "Zlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcD"
    "TW9gb54h4FRWyuXpoQ";
// {"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}
constexpr std::string_view kRfc7515Payload =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q";
constexpr std::string_view kRfc7515Rs256Signature =
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_"
    "O8W2Fp5jujG"
    "bds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_"
    "nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-"
    "eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6"
    "LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
constexpr std::string_view kRfc7515Es256Signature =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
constexpr std::string_view kRfc8037SigningInput =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";  // "Example of Ed25519 signing"
constexpr std::string_view kRfc8037Signature =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

KeySet ParseOrFail(const std::string& json) {
  auto keys = ParseJwks(json);
  REQUIRE(keys.ok());
  return *std::move(keys);
}

std::string Decode(std::string_view text) {
  auto decoded = Base64UrlDecode(text);
  REQUIRE(decoded.has_value());
  return *decoded;
}

std::optional<JwtError> ErrorOf(const absl::Status& status) { return JwtErrorOf(status); }

TEST_CASE("RFC 7515 A.2: the RS256 example verifies", "[auth][rfc]") {
  const KeySet keys = ParseOrFail(R"({"keys":[{"kty":"RSA","n":")" + std::string(kRfc7515RsaN) +
                                  R"(","e":"AQAB"}]})");
  const Jwk* key = keys.Find("");
  REQUIRE(key != nullptr);
  const std::string input = "eyJhbGciOiJSUzI1NiJ9." + std::string(kRfc7515Payload);
  const std::string signature = Decode(kRfc7515Rs256Signature);
  CHECK(VerifySignature(Algorithm::kRs256, *key, input, signature).ok());
  CHECK(ErrorOf(VerifySignature(Algorithm::kRs256, *key, input + "x", signature)) ==
        JwtError::kBadSignature);
  CHECK(ErrorOf(VerifySignature(Algorithm::kRs384, *key, input, signature)) ==
        JwtError::kBadSignature);
  CHECK(ErrorOf(VerifySignature(Algorithm::kPs256, *key, input, signature)) ==
        JwtError::kBadSignature);
  CHECK(ErrorOf(VerifySignature(Algorithm::kEs256, *key, input, signature)) ==
        JwtError::kKeyMismatch);

  // The whole token through VerifyJwt: the signature and the time checks pass (the set's only
  // key has no kid, nor has the token), and the example's lack of "sub" is what stops it.
  const std::string token = input + "." + std::string(kRfc7515Rs256Signature);
  JwtPolicy policy;
  policy.issuer = "joe";
  auto verified = VerifyJwt(token, keys, policy, 1300819380 - 100);
  CHECK(ErrorOf(verified.status()) == JwtError::kMissingClaim);
  CHECK(verified.status().message() == "missing_claim: sub");
  CHECK(ErrorOf(VerifyJwt(token, keys, policy, 1300819380 + 60).status()) == JwtError::kExpired);
}

TEST_CASE("RFC 7515 A.3: the ES256 example verifies", "[auth][rfc]") {
  const KeySet keys = ParseOrFail(
      R"({"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
      R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})");
  const Jwk* key = keys.Find("");
  REQUIRE(key != nullptr);
  const std::string input = "eyJhbGciOiJFUzI1NiJ9." + std::string(kRfc7515Payload);
  const std::string signature = Decode(kRfc7515Es256Signature);
  REQUIRE(signature.size() == 64);
  CHECK(VerifySignature(Algorithm::kEs256, *key, input, signature).ok());
  std::string flipped = signature;
  flipped[10] = static_cast<char>(flipped[10] ^ 1);
  CHECK(ErrorOf(VerifySignature(Algorithm::kEs256, *key, input, flipped)) ==
        JwtError::kBadSignature);
  CHECK(ErrorOf(VerifySignature(Algorithm::kEs384, *key, input, signature)) ==
        JwtError::kKeyMismatch);
  CHECK(ErrorOf(VerifySignature(Algorithm::kRs256, *key, input, signature)) ==
        JwtError::kKeyMismatch);
}

TEST_CASE("RFC 8037 A.4: the Ed25519 example verifies", "[auth][rfc]") {
  const KeySet keys = ParseOrFail(
      R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})");
  const Jwk* key = keys.Find("");
  REQUIRE(key != nullptr);
  const std::string signature = Decode(kRfc8037Signature);
  CHECK(VerifySignature(Algorithm::kEdDsa, *key, kRfc8037SigningInput, signature).ok());
  CHECK(ErrorOf(VerifySignature(Algorithm::kEdDsa, *key, std::string(kRfc8037SigningInput) + ".",
                                signature)) == JwtError::kBadSignature);
  CHECK(ErrorOf(VerifySignature(Algorithm::kEdDsa, *key, kRfc8037SigningInput,
                                signature.substr(1))) == JwtError::kBadSignature);
}

TEST_CASE("every allowlisted algorithm round-trips with a generated key", "[auth]") {
  using testing::KeyKind;
  const std::pair<Algorithm, KeyKind> cases[] = {
      {Algorithm::kRs256, KeyKind::kRsa2048}, {Algorithm::kRs384, KeyKind::kRsa2048},
      {Algorithm::kRs512, KeyKind::kRsa2048}, {Algorithm::kPs256, KeyKind::kRsa2048},
      {Algorithm::kPs384, KeyKind::kRsa2048}, {Algorithm::kPs512, KeyKind::kRsa2048},
      {Algorithm::kEs256, KeyKind::kP256},    {Algorithm::kEs384, KeyKind::kP384},
      {Algorithm::kEdDsa, KeyKind::kEd25519},
  };
  for (auto [alg, kind] : cases) {
    INFO(ToString(alg));
    EVP_PKEY* private_key = testing::SharedKey(kind).get();
    const KeySet keys =
        ParseOrFail(testing::JwksOf({testing::PublicJwk(private_key, "k", ToString(alg))}));
    const Jwk* key = keys.Find("k");
    REQUIRE(key != nullptr);
    const std::string signature = testing::Sign(alg, private_key, "input");
    CHECK(VerifySignature(alg, *key, "input", signature).ok());
    CHECK(ErrorOf(VerifySignature(alg, *key, "inpuT", signature)) == JwtError::kBadSignature);
  }
}

TEST_CASE("the algorithm allowlist", "[auth]") {
  for (std::string_view name :
       {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}) {
    auto alg = ParseAlgorithm(name);
    REQUIRE(alg.has_value());
    CHECK(ToString(*alg) == name);
  }
  for (std::string_view name :
       {"none", "None", "HS256", "HS384", "HS512", "ES512", "ES256K", "rs256", "", "Ed25519"}) {
    CHECK_FALSE(ParseAlgorithm(name).has_value());
  }
}

}  // namespace
}  // namespace pdgate::auth

// A bearer credential through VerifyJwt. Two passes per input: the bytes as the whole token (what
// an attacker sends: shape and header checks, signature refusal), and the bytes cut in two at the
// first NUL as header and payload JSON, signed here with the key the set trusts, so the payload
// parser — reached only after a valid signature — is fuzzed too. Properties: nothing crashes;
// an accepted token's principal is its subject.
#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "router/auth/base64url.h"
#include "router/auth/jwks.h"
#include "router/auth/jwt.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace pdgate::auth;

// RFC 8037 appendix A's Ed25519 key pair.
constexpr std::string_view kPrivate = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr std::string_view kJwks = R"({"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1",)"
                                   R"("x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})";
constexpr int64_t kNow = 1'800'000'000;

struct Fixture {
  KeySet keys;
  std::shared_ptr<EVP_PKEY> signer;
  JwtPolicy policy;
};

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    auto* f = new Fixture;
    absl::StatusOr<KeySet> keys = ParseJwks(kJwks);
    FUZZ_CHECK(keys.ok());
    f->keys = *std::move(keys);
    const std::string seed = Base64UrlDecode(kPrivate).value();
    f->signer.reset(EVP_PKEY_new_raw_private_key(
                        EVP_PKEY_ED25519, nullptr,
                        reinterpret_cast<const unsigned char*>(seed.data()), seed.size()),
                    EVP_PKEY_free);
    FUZZ_CHECK(f->signer != nullptr);
    f->policy.issuer = "https://issuer.example";
    f->policy.audiences = {"pdgate"};
    f->policy.models_claim = "models";
    f->policy.priority_claim = "tier";
    return f;
  }();
  return *fixture;
}

std::string Sign(EVP_PKEY* key, std::string_view input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  FUZZ_CHECK(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1);
  std::string signature(64, '\0');
  size_t size = signature.size();
  FUZZ_CHECK(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                            reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1);
  signature.resize(size);
  return signature;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& f = GetFixture();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)LooksLikeJwt(input);
  (void)VerifyJwt(input, f.keys, f.policy, kNow);

  const size_t nul = input.find('\0');
  if (nul == std::string_view::npos) return 0;
  const std::string signing_input =
      Base64UrlEncode(input.substr(0, nul)) + "." + Base64UrlEncode(input.substr(nul + 1));
  const std::string token =
      signing_input + "." + Base64UrlEncode(Sign(f.signer.get(), signing_input));
  FUZZ_CHECK(LooksLikeJwt(token) || nul == 0 || nul + 1 == input.size());
  absl::StatusOr<VerifiedToken> verified = VerifyJwt(token, f.keys, f.policy, kNow);
  if (verified.ok()) FUZZ_CHECK(verified->expires_at > kNow - f.policy.leeway_seconds);
  return 0;
}

#include "tests/router/auth/test_keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <catch2/catch.hpp>
#include <map>
#include <utility>

#include "router/auth/base64url.h"

namespace pdgate::auth::testing {
namespace {

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string BignumBytes(EVP_PKEY* key, const char* name, int pad_to = 0) {
  BIGNUM* value = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(key, name, &value) == 1);
  const int size = pad_to > 0 ? pad_to : BN_num_bytes(value);
  std::string out(static_cast<size_t>(size), '\0');
  REQUIRE(BN_bn2binpad(value, reinterpret_cast<unsigned char*>(out.data()), size) == size);
  BN_free(value);
  return out;
}

std::string GroupName(EVP_PKEY* key) {
  char name[64] = {};
  size_t size = 0;
  REQUIRE(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
                                         &size) == 1);
  return std::string(name, size);
}

struct SignerSpec {
  const EVP_MD* md;
  bool pss;
  int ec_half;  // 0: not ECDSA
};

SignerSpec SpecFor(Algorithm alg) {
  switch (alg) {
    case Algorithm::kRs256:
      return {EVP_sha256(), false, 0};
    case Algorithm::kRs384:
      return {EVP_sha384(), false, 0};
    case Algorithm::kRs512:
      return {EVP_sha512(), false, 0};
    case Algorithm::kPs256:
      return {EVP_sha256(), true, 0};
    case Algorithm::kPs384:
      return {EVP_sha384(), true, 0};
    case Algorithm::kPs512:
      return {EVP_sha512(), true, 0};
    case Algorithm::kEs256:
      return {EVP_sha256(), false, 32};
    case Algorithm::kEs384:
      return {EVP_sha384(), false, 48};
    case Algorithm::kEdDsa:
      return {nullptr, false, 0};
  }
  FAIL("unknown algorithm");
  return {};
}

}  // namespace

PrivateKey GenerateKey(KeyKind kind) {
  EVP_PKEY* key = nullptr;
  switch (kind) {
    case KeyKind::kRsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
      break;
    case KeyKind::kRsa1024:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024});
      break;
    case KeyKind::kP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyKind::kP384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyKind::kEd25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  REQUIRE(key != nullptr);
  return PrivateKey(key, EVP_PKEY_free);
}

const PrivateKey& SharedKey(KeyKind kind, int slot) {
  static std::map<std::pair<KeyKind, int>, PrivateKey> keys;
  auto [it, inserted] = keys.try_emplace({kind, slot});
  if (inserted) it->second = GenerateKey(kind);
  return it->second;
}

std::string PublicJwk(EVP_PKEY* key, std::string_view kid, std::string_view alg) {
  std::string json = "{";
  if (!kid.empty()) json += "\"kid\":\"" + std::string(kid) + "\",";
  if (!alg.empty()) json += "\"alg\":\"" + std::string(alg) + "\",";
  if (EVP_PKEY_is_a(key, "RSA")) {
    json += "\"kty\":\"RSA\",\"n\":\"" + Base64UrlEncode(BignumBytes(key, OSSL_PKEY_PARAM_RSA_N)) +
            "\",\"e\":\"" + Base64UrlEncode(BignumBytes(key, OSSL_PKEY_PARAM_RSA_E)) + "\"";
  } else if (EVP_PKEY_is_a(key, "EC")) {
    const std::string group = GroupName(key);
    const bool p256 = group == "prime256v1" || group == "P-256";
    const int half = p256 ? 32 : 48;
    json += std::string("\"kty\":\"EC\",\"crv\":\"") + (p256 ? "P-256" : "P-384") + "\",\"x\":\"" +
            Base64UrlEncode(BignumBytes(key, OSSL_PKEY_PARAM_EC_PUB_X, half)) + "\",\"y\":\"" +
            Base64UrlEncode(BignumBytes(key, OSSL_PKEY_PARAM_EC_PUB_Y, half)) + "\"";
  } else {
    REQUIRE(EVP_PKEY_is_a(key, "ED25519"));
    unsigned char raw[32];
    size_t size = 0;
    REQUIRE(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, raw, sizeof(raw),
                                            &size) == 1);
    REQUIRE(size == 32);
    json += "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" +
            Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(raw), size)) + "\"";
  }
  return json + "}";
}

std::string JwksOf(std::initializer_list<std::string> jwks) {
  std::string json = "{\"keys\":[";
  bool first = true;
  for (const std::string& jwk : jwks) {
    if (!first) json += ",";
    json += jwk;
    first = false;
  }
  return json + "]}";
}

std::string Sign(Algorithm alg, EVP_PKEY* key, std::string_view input) {
  const SignerSpec spec = SpecFor(alg);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* key_ctx = nullptr;
  REQUIRE(EVP_DigestSignInit(ctx.get(), &key_ctx, spec.md, nullptr, key) == 1);
  if (spec.pss) {
    REQUIRE(EVP_PKEY_CTX_set_rsa_padding(key_ctx, RSA_PKCS1_PSS_PADDING) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(key_ctx, RSA_PSS_SALTLEN_DIGEST) == 1);
  }
  size_t size = 0;
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &size, Bytes(input), input.size()) == 1);
  std::string signature(size, '\0');
  REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                         Bytes(input), input.size()) == 1);
  signature.resize(size);
  if (spec.ec_half == 0) return signature;

  // DER ECDSA-Sig-Value → JOSE r‖s, each left-padded to the coordinate size.
  const unsigned char* der = Bytes(signature);
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
  REQUIRE(sig != nullptr);
  std::string raw(static_cast<size_t>(2 * spec.ec_half), '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  REQUIRE(BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, spec.ec_half) == spec.ec_half);
  REQUIRE(BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + spec.ec_half, spec.ec_half) == spec.ec_half);
  ECDSA_SIG_free(sig);
  return raw;
}

std::string MakeToken(Algorithm alg, EVP_PKEY* key, std::string_view header_json,
                      std::string_view payload_json) {
  const std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  return input + "." + Base64UrlEncode(Sign(alg, key, input));
}

std::string Header(std::string_view alg, std::string_view kid) {
  std::string json = "{\"alg\":\"" + std::string(alg) + "\"";
  if (!kid.empty()) json += ",\"kid\":\"" + std::string(kid) + "\"";
  return json + "}";
}

std::string HmacSha256(std::string_view secret, std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  REQUIRE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), Bytes(input),
               input.size(), mac, &size) != nullptr);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

std::string PublicPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_PUBKEY(bio.get(), key) == 1);
  std::string pem(BIO_ctrl_pending(bio.get()), '\0');
  REQUIRE(BIO_read(bio.get(), pem.data(), static_cast<int>(pem.size())) ==
          static_cast<int>(pem.size()));
  return pem;
}

}  // namespace pdgate::auth::testing

#include "router/auth/signature.h"

#include <openssl/err.h>
#include <openssl/rsa.h>

#include <string>

#include "router/auth/jwt_error.h"
#include "router/auth/openssl_ptr.h"

namespace pdgate::auth {
namespace {

using internal::BignumPtr;
using internal::EcdsaSigPtr;
using internal::EvpMdCtxPtr;

const EVP_MD* DigestFor(Algorithm alg) {
  switch (alg) {
    case Algorithm::kRs256:
    case Algorithm::kPs256:
    case Algorithm::kEs256:
      return EVP_sha256();
    case Algorithm::kRs384:
    case Algorithm::kPs384:
    case Algorithm::kEs384:
      return EVP_sha384();
    case Algorithm::kRs512:
    case Algorithm::kPs512:
      return EVP_sha512();
    case Algorithm::kEdDsa:
      return nullptr;  // Ed25519 hashes internally: EVP_DigestVerify with no digest
  }
  return nullptr;
}

bool IsRsaPss(Algorithm alg) {
  return alg == Algorithm::kPs256 || alg == Algorithm::kPs384 || alg == Algorithm::kPs512;
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// JOSE r‖s (each `half` bytes, big-endian) → DER ECDSA-Sig-Value; empty on failure.
std::string EcdsaRawToDer(std::string_view raw, size_t half) {
  BignumPtr r(BN_bin2bn(Bytes(raw), static_cast<int>(half), nullptr));
  BignumPtr s(BN_bin2bn(Bytes(raw.substr(half)), static_cast<int>(half), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig) return {};
  // set0 takes ownership; it fails only for a null r or s, ruled out above.
  if (ECDSA_SIG_set0(sig.get(), r.release(), s.release()) != 1) return {};
  const int size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (size <= 0) return {};
  std::string der(static_cast<size_t>(size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != size) return {};
  return der;
}

absl::Status Invalid(std::string_view detail = {}) {
  // See jwks.cc: leave no stale error for the next OpenSSL user on this thread.
  ERR_clear_error();
  return JwtFailure(JwtError::kBadSignature, detail);
}

}  // namespace

std::optional<Algorithm> ParseAlgorithm(std::string_view name) {
  if (name == "RS256") return Algorithm::kRs256;
  if (name == "RS384") return Algorithm::kRs384;
  if (name == "RS512") return Algorithm::kRs512;
  if (name == "PS256") return Algorithm::kPs256;
  if (name == "PS384") return Algorithm::kPs384;
  if (name == "PS512") return Algorithm::kPs512;
  if (name == "ES256") return Algorithm::kEs256;
  if (name == "ES384") return Algorithm::kEs384;
  if (name == "EdDSA") return Algorithm::kEdDsa;
  return std::nullopt;
}

std::string_view ToString(Algorithm alg) {
  switch (alg) {
    case Algorithm::kRs256:
      return "RS256";
    case Algorithm::kRs384:
      return "RS384";
    case Algorithm::kRs512:
      return "RS512";
    case Algorithm::kPs256:
      return "PS256";
    case Algorithm::kPs384:
      return "PS384";
    case Algorithm::kPs512:
      return "PS512";
    case Algorithm::kEs256:
      return "ES256";
    case Algorithm::kEs384:
      return "ES384";
    case Algorithm::kEdDsa:
      return "EdDSA";
  }
  return "";
}

bool KeyFits(const Jwk& key, Algorithm alg) {
  if (!key.key) return false;
  if (!key.alg.empty() && key.alg != ToString(alg)) return false;
  switch (alg) {
    case Algorithm::kRs256:
    case Algorithm::kRs384:
    case Algorithm::kRs512:
    case Algorithm::kPs256:
    case Algorithm::kPs384:
    case Algorithm::kPs512:
      return key.kty == KeyType::kRsa;
    case Algorithm::kEs256:
      return key.kty == KeyType::kEc && key.crv == "P-256";
    case Algorithm::kEs384:
      return key.kty == KeyType::kEc && key.crv == "P-384";
    case Algorithm::kEdDsa:
      return key.kty == KeyType::kOkp && key.crv == "Ed25519";
  }
  return false;
}

absl::Status VerifySignature(Algorithm alg, const Jwk& key, std::string_view signing_input,
                             std::string_view signature) {
  if (!KeyFits(key, alg)) return JwtFailure(JwtError::kKeyMismatch);

  std::string der;
  if (alg == Algorithm::kEs256 || alg == Algorithm::kEs384) {
    const size_t half = alg == Algorithm::kEs256 ? 32 : 48;
    // Not DER, not shorter: RFC 7518 §3.4 fixes the length, and accepting other encodings of one
    // signature would make tokens malleable.
    if (signature.size() != 2 * half) return Invalid("ecdsa_signature_length");
    der = EcdsaRawToDer(signature, half);
    if (der.empty()) return Invalid("ecdsa_signature_encoding");
    signature = der;
  } else if (alg == Algorithm::kEdDsa && signature.size() != 64) {
    return Invalid("eddsa_signature_length");
  }

  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* key_ctx = nullptr;  // owned by ctx
  if (!ctx ||
      EVP_DigestVerifyInit(ctx.get(), &key_ctx, DigestFor(alg), nullptr, key.key.get()) != 1) {
    return Invalid("verify_init");
  }
  if (key.kty == KeyType::kRsa) {
    if (IsRsaPss(alg)) {
      // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
      if (EVP_PKEY_CTX_set_rsa_padding(key_ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
          EVP_PKEY_CTX_set_rsa_mgf1_md(key_ctx, DigestFor(alg)) != 1 ||
          EVP_PKEY_CTX_set_rsa_pss_saltlen(key_ctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
        return Invalid("verify_init");
      }
    } else if (EVP_PKEY_CTX_set_rsa_padding(key_ctx, RSA_PKCS1_PADDING) != 1) {
      return Invalid("verify_init");
    }
  }
  if (EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(signing_input),
                       signing_input.size()) != 1) {
    return Invalid();
  }
  return absl::OkStatus();
}

}  // namespace pdgate::auth

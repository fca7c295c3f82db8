#pragma once
// Test-only key generation, JWK export and JWS signing with OpenSSL, independent of the code
// under test except for the Algorithm enum (the signer has its own algorithm table).
#include <openssl/evp.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "router/auth/signature.h"

namespace pdgate::auth::testing {

enum class KeyKind { kRsa2048, kRsa1024, kP256, kP384, kEd25519 };

using PrivateKey = std::shared_ptr<EVP_PKEY>;

// A fresh key pair (REQUIREs success).
PrivateKey GenerateKey(KeyKind kind);

// A key pair generated once per process per (kind, slot): RSA generation is slow.
const PrivateKey& SharedKey(KeyKind kind, int slot = 0);

// The public half as a JWK object: {"kty":...,"kid":...,["alg":...,] n/e or crv/x[/y]}.
// An empty `kid` or `alg` is left out.
std::string PublicJwk(EVP_PKEY* key, std::string_view kid, std::string_view alg = {});

// {"keys":[<jwk>,...]}
std::string JwksOf(std::initializer_list<std::string> jwks);

// The JOSE signature bytes (ES*: raw r‖s) of `input` under `alg`.
std::string Sign(Algorithm alg, EVP_PKEY* key, std::string_view input);

// base64url(header_json).base64url(payload_json).base64url(signature), signed with `alg`.
std::string MakeToken(Algorithm alg, EVP_PKEY* key, std::string_view header_json,
                      std::string_view payload_json);

// {"alg":"<alg>","kid":"<kid>"} (kid left out when empty).
std::string Header(std::string_view alg, std::string_view kid);

// HMAC-SHA256 of `input` keyed with `secret` (for algorithm-confusion tests).
std::string HmacSha256(std::string_view secret, std::string_view input);

// The public key as SubjectPublicKeyInfo PEM, the "secret" of the classic HS256 confusion.
std::string PublicPem(EVP_PKEY* key);

}  // namespace pdgate::auth::testing

#include "router/auth/jwks.h"

#include <openssl/core_names.h>
#include <openssl/err.h>

#include <optional>
#include <utility>

#include "router/auth/base64url.h"
#include "router/auth/json_object.h"
#include "router/auth/openssl_ptr.h"
#include "router/auth/signature.h"

namespace pdgate::auth {
namespace {

using internal::BignumPtr;
using internal::EvpPkeyCtxPtr;
using internal::GetString;
using internal::ParamBldPtr;
using internal::ParamsPtr;

// One key's outcome: the key, or the snake_case reason it was skipped.
struct Parsed {
  std::optional<Jwk> jwk;
  std::string_view reason;
};
Parsed Skip(std::string_view reason) { return Parsed{std::nullopt, reason}; }

EvpPkeyPtr Share(EVP_PKEY* key) { return EvpPkeyPtr(key, EVP_PKEY_free); }

const unsigned char* Bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// EVP_PKEY_fromdata with a public-key selection over `params` built by the caller.
EvpPkeyPtr FromData(const char* type, OSSL_PARAM_BLD* builder) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(builder));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) return nullptr;
  return Share(key);
}

// A base64url member decoded; nullopt when absent, not a string, or not base64url.
std::optional<std::string> DecodeMember(simdjson::dom::object object, std::string_view name) {
  auto member = GetString(object, name);
  if (!member.is_string) return std::nullopt;
  return Base64UrlDecode(member.value);
}

Parsed ParseRsa(simdjson::dom::object object, Jwk jwk) {
  auto n = DecodeMember(object, "n");
  auto e = DecodeMember(object, "e");
  if (!n || !e || n->empty() || e->empty()) return Skip("malformed");
  BignumPtr modulus(BN_bin2bn(Bytes(*n), static_cast<int>(n->size()), nullptr));
  BignumPtr exponent(BN_bin2bn(Bytes(*e), static_cast<int>(e->size()), nullptr));
  if (!modulus || !exponent) return Skip("malformed");
  const int bits = BN_num_bits(modulus.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) return Skip("rsa_modulus_size");
  // e = 1 would make every padded message its own signature; an even e is not RSA. SP 800-56B
  // caps e at 256 bits.
  if (!BN_is_odd(exponent.get()) || BN_num_bits(exponent.get()) < 2 ||
      BN_num_bits(exponent.get()) > 256) {
    return Skip("rsa_exponent");
  }
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
    return Skip("openssl_rejected");
  }
  jwk.key = FromData("RSA", builder.get());
  if (!jwk.key) return Skip("openssl_rejected");
  return Parsed{std::move(jwk), {}};
}

Parsed ParseEc(simdjson::dom::object object, Jwk jwk) {
  const char* group = nullptr;
  size_t coordinate = 0;
  if (jwk.crv == "P-256") {
    group = "prime256v1";
    coordinate = 32;
  } else if (jwk.crv == "P-384") {
    group = "secp384r1";
    coordinate = 48;
  } else {
    return Skip("unsupported_crv");
  }
  auto x = DecodeMember(object, "x");
  auto y = DecodeMember(object, "y");
  // RFC 7518 §6.2.1.2: each coordinate is exactly the field size, leading zeros kept.
  if (!x || !y || x->size() != coordinate || y->size() != coordinate) return Skip("malformed");
  std::string point;
  point.reserve(1 + 2 * coordinate);
  point.push_back('\x04');  // SEC 1 uncompressed point
  point += *x;
  point += *y;
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Skip("openssl_rejected");
  }
  jwk.key = FromData("EC", builder.get());
  if (!jwk.key) return Skip("openssl_rejected");
  // A point off the curve invites invalid-curve tricks. OpenSSL 3.0's fromdata already refuses
  // one (the JWKS test shows it); the explicit check keeps the guarantee should a provider not.
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, jwk.key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return Skip("ec_point_invalid");
  return Parsed{std::move(jwk), {}};
}

Parsed ParseOkp(simdjson::dom::object object, Jwk jwk) {
  if (jwk.crv != "Ed25519") return Skip("unsupported_crv");
  auto x = DecodeMember(object, "x");
  if (!x || x->size() != 32) return Skip("malformed");
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder || OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                                   x->data(), x->size()) != 1) {
    return Skip("openssl_rejected");
  }
  jwk.key = FromData("ED25519", builder.get());
  if (!jwk.key) return Skip("openssl_rejected");
  return Parsed{std::move(jwk), {}};
}

Parsed ParseKey(simdjson::dom::element element, std::string& kid_out) {
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) return Skip("not_an_object");
  if (internal::HasDuplicateMember(object)) return Skip("duplicate_member");
  auto kid = GetString(object, "kid");
  if (kid.present && !kid.is_string) return Skip("malformed");
  kid_out = std::string(kid.value);

  auto use = GetString(object, "use");
  if (use.present && (!use.is_string || use.value != "sig")) return Skip("use_not_sig");
  // A JWKS is published; private members mean the IdP is misconfigured, and the set would be
  // handing the signing key to anyone. Refuse the key rather than quietly ignore the members.
  simdjson::dom::element ignored;
  if (object.at_key("d").get(ignored) == simdjson::SUCCESS) return Skip("private_key_material");

  Jwk jwk;
  jwk.kid = kid_out;
  auto kty = GetString(object, "kty");
  auto crv = GetString(object, "crv");
  auto alg = GetString(object, "alg");
  if (!kty.is_string) return Skip("malformed");
  if ((crv.present && !crv.is_string) || (alg.present && !alg.is_string)) return Skip("malformed");
  jwk.crv = std::string(crv.value);
  jwk.alg = std::string(alg.value);

  Parsed parsed;
  if (kty.value == "RSA") {
    jwk.kty = KeyType::kRsa;
    jwk.crv.clear();  // RSA has no curve; an odd "crv" member would only confuse KeyFits
    parsed = ParseRsa(object, std::move(jwk));
  } else if (kty.value == "EC") {
    jwk.kty = KeyType::kEc;
    parsed = ParseEc(object, std::move(jwk));
  } else if (kty.value == "OKP") {
    jwk.kty = KeyType::kOkp;
    parsed = ParseOkp(object, std::move(jwk));
  } else {
    return Skip("unsupported_kty");
  }
  if (!parsed.jwk) return parsed;
  if (!parsed.jwk->alg.empty()) {
    // The key names its algorithm: it must be one we verify, and fit the key.
    auto named = ParseAlgorithm(parsed.jwk->alg);
    if (!named) return Skip("unsupported_alg");
    if (!KeyFits(*parsed.jwk, *named)) return Skip("alg_key_mismatch");
  }
  return parsed;
}

}  // namespace

std::string_view ToString(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "RSA";
    case KeyType::kEc:
      return "EC";
    case KeyType::kOkp:
      return "OKP";
  }
  return "RSA";
}

const Jwk* KeySet::Find(std::string_view kid) const {
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : &it->second;
}

absl::StatusOr<KeySet> ParseJwks(std::string_view json) {
  if (json.size() > kMaxJwksBytes) return absl::InvalidArgumentError("jwks_too_large");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("jwks_not_json");
  }
  simdjson::dom::array keys;
  if (root["keys"].get_array().get(keys) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("jwks_no_keys_array");
  }
  if (keys.size() > kMaxJwksKeys) return absl::InvalidArgumentError("jwks_too_many_keys");

  KeySet set;
  size_t index = 0;
  for (simdjson::dom::element element : keys) {
    std::string kid;
    Parsed parsed = ParseKey(element, kid);
    if (parsed.jwk && set.keys_.contains(parsed.jwk->kid)) {
      // The first key under a kid wins; a second one cannot be told apart by a token.
      parsed = Skip("duplicate_kid");
    }
    if (parsed.jwk) {
      std::string key_kid = parsed.jwk->kid;
      set.keys_.emplace(std::move(key_kid), std::move(*parsed.jwk));
    } else {
      set.skipped_.push_back(SkippedKey{index, std::move(kid), std::string(parsed.reason)});
    }
    ++index;
  }
  // Failed OpenSSL calls leave entries in this thread's error queue, where a later TLS call on
  // the same thread would find them and misreport its own outcome.
  ERR_clear_error();
  if (set.keys_.empty()) return absl::InvalidArgumentError("jwks_no_usable_keys");
  return set;
}

}  // namespace pdgate::auth

#!/usr/bin/env python3
"""An identity provider for pdgate's authentication tests: a JWKS endpoint and a token mint.

Keys and signatures come from python3-cryptography, an implementation independent of pdgate's
OpenSSL code, so a token that pdgate accepts here is one a real IdP's library would produce.

  GET  /jwks.json          {"keys": [...]} with the current public keys (503 while "down")
  POST /_control/token     {"kid", "alg", "claims": {...}} -> {"token": "..."}; claims are sent as
                           given ("exp_in": seconds from now becomes "exp"). A kid that is not
                           (or no longer) in the set still signs, with its retired key.
  POST /_control/rotate    {"add": [{"kid", "kty": "RSA"|"EC"|"OKP"}], "remove": [kid, ...]}
  POST /_control/down      {"on": true|false}
  GET  /_control/state     {"fetches": N, "kids": [...]}
--tls-cert/--tls-key serve HTTPS; --control-port then also serves everything over plain HTTP
on that port, for a test client that speaks no TLS.
"""
import argparse
import base64
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_bytes(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return n.to_bytes(size, "big")


class Key:
    def __init__(self, kid, kty, crv=None):
        self.kid, self.kty = kid, kty
        if kty == "RSA":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif kty == "EC":
            self.crv = crv or "P-256"
            curve = ec.SECP256R1() if self.crv == "P-256" else ec.SECP384R1()
            self.private = ec.generate_private_key(curve)
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()

    def jwk(self):
        public = self.private.public_key()
        if self.kty == "RSA":
            numbers = public.public_numbers()
            return {"kty": "RSA", "kid": self.kid, "use": "sig", "n": b64url(int_bytes(numbers.n)),
                    "e": b64url(int_bytes(numbers.e))}
        if self.kty == "EC":
            numbers = public.public_numbers()
            size = 32 if self.crv == "P-256" else 48
            return {"kty": "EC", "kid": self.kid, "crv": self.crv,
                    "x": b64url(int_bytes(numbers.x, size)), "y": b64url(int_bytes(numbers.y, size))}
        from cryptography.hazmat.primitives import serialization
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "kid": self.kid, "crv": "Ed25519", "x": b64url(raw)}

    def sign(self, alg, data):
        digests = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
        if alg.startswith("RS"):
            return self.private.sign(data, padding.PKCS1v15(), digests[alg[2:]])
        if alg.startswith("PS"):
            digest = digests[alg[2:]]
            return self.private.sign(
                data, padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest)
        if alg.startswith("ES"):
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(digests[alg[2:]])))
            size = 32 if alg == "ES256" else 48
            return int_bytes(r, size) + int_bytes(s, size)  # JOSE: raw r||s (RFC 7518 3.4)
        return self.private.sign(data)  # EdDSA


class Provider:
    def __init__(self):
        self.lock = threading.Lock()
        self.keys = {}     # kid -> Key, published
        self.retired = {}  # kid -> Key, no longer published
        self.down = False
        self.fetches = 0
        for kid, kty in (("rsa-1", "RSA"), ("ec-1", "EC"), ("ed-1", "OKP")):
            self.keys[kid] = Key(kid, kty)

    def jwks(self):
        with self.lock:
            self.fetches += 1
            if self.down:
                return None
            return {"keys": [key.jwk() for key in self.keys.values()]}

    def token(self, kid, alg, claims, header_extra):
        with self.lock:
            key = self.keys.get(kid) or self.retired.get(kid)
        if key is None:
            key = Key(kid, {"R": "RSA", "P": "RSA", "E": "EC"}.get(alg[0], "OKP"))
            with self.lock:
                self.retired[kid] = key  # signs, but was never published
        claims = dict(claims)
        if "exp_in" in claims:
            claims["exp"] = int(time.time()) + int(claims.pop("exp_in"))
        header = {"alg": alg, "typ": "JWT", "kid": kid}
        header.update(header_extra)
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        return signing_input.decode() + "." + b64url(key.sign(alg, signing_input))

    def rotate(self, add, remove):
        with self.lock:
            for kid in remove:
                if kid in self.keys:
                    self.retired[kid] = self.keys.pop(kid)
        for spec in add:
            key = Key(spec["kid"], spec.get("kty", "RSA"), spec.get("crv"))
            with self.lock:
                self.keys[key.kid] = key


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self):
        provider = self.server.provider
        if self.path == "/jwks.json":
            document = provider.jwks()
            if document is None:
                self.send_json(503, {"error": "down"})
            else:
                self.send_json(200, document)
        elif self.path == "/_control/state":
            with provider.lock:
                self.send_json(200, {"fetches": provider.fetches, "kids": list(provider.keys)})
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        provider = self.server.provider
        request = self.body()
        if self.path == "/_control/token":
            token = provider.token(request["kid"], request.get("alg", "RS256"),
                                   request.get("claims", {}), request.get("header", {}))
            self.send_json(200, {"token": token})
        elif self.path == "/_control/rotate":
            provider.rotate(request.get("add", []), request.get("remove", []))
            self.send_json(200, {})
        elif self.path == "/_control/down":
            with provider.lock:
                provider.down = bool(request.get("on"))
            self.send_json(200, {})
        else:
            self.send_json(404, {"error": "not found"})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--down", action="store_true", help="start with the JWKS answering 503")
    parser.add_argument("--tls-cert", default="")
    parser.add_argument("--tls-key", default="")
    parser.add_argument("--control-port", type=int, default=0)
    args = parser.parse_args()
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.provider = Provider()
    server.provider.down = args.down
    if args.control_port:
        control = ThreadingHTTPServer((args.host, args.control_port), Handler)
        control.daemon_threads = True
        control.provider = server.provider
        threading.Thread(target=control.serve_forever, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()

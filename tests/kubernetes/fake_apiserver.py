#!/usr/bin/env python3
"""A fake Kubernetes API server for pdgate's integration tests.

Serves list and watch of Pods (core v1) and of Kthena's ModelServers and ModelRoutes
(networking.serving.volcano.sh/v1alpha1) with the API server's JSON shapes: `PodList` /
`ModelServerList` bodies with `metadata.resourceVersion` (items of built-in lists carry no kind),
watch streams of one `{"type": ..., "object": ...}` per line over chunked encoding, bookmarks,
resourceVersions from one global counter, and 410 Gone for compacted versions (as an ERROR event
in the stream, or as the HTTP status of the watch request).

The test drives it through POST /_control/...:
  apply        {"object": {...}} or {"objects": [...]}, "silent": true records the change without
               sending watch events (an event the watch lost; only a relist can find it)
  delete       {"kind": K, "namespace": NS, "name": N}
  drop-watches close every open watch abruptly (no final chunk), as a broken connection
  expire       compact the history: older resourceVersions get 410; open watches end with an
               ERROR 410 event ({"mode": "status"}: drop them instead, and answer the next watch
               with HTTP 410)
  stall        {"on": true|false}: requests wait without an answer while on
and GET /_control/state for request counts. A bearer token is checked when --token is given;
--tls-cert/--tls-key serve HTTPS (then the control endpoints are HTTPS too: start with --objects).
"""
import argparse
import json
import socket
import ssl
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

GROUP_VERSION = "networking.serving.volcano.sh/v1alpha1"
RESOURCES = {
    "pods": ("v1", "Pod"),
    "modelservers": (GROUP_VERSION, "ModelServer"),
    "modelroutes": (GROUP_VERSION, "ModelRoute"),
}
KIND_TO_RESOURCE = {kind: resource for resource, (_, kind) in RESOURCES.items()}


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_object(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Store:
    def __init__(self, initial_rv, compacted):
        self.cond = threading.Condition()
        self.rv = initial_rv
        self.objects = {resource: {} for resource in RESOURCES}
        self.history = []  # (rv, resource, namespace, type, object)
        self.compacted = compacted  # watches from an older resourceVersion get 410
        self.drop_generation = 0
        self.gone_generation = 0
        self.gone_as_status = False
        self.stalled = False
        self.uid = 0
        self.counts = {"list": {r: 0 for r in RESOURCES}, "watch": {r: 0 for r in RESOURCES}}

    def apply(self, obj, silent):
        resource = KIND_TO_RESOURCE[obj["kind"]]
        obj.setdefault("apiVersion", RESOURCES[resource][0])
        meta = obj.setdefault("metadata", {})
        namespace = meta.setdefault("namespace", "default")
        key = (namespace, meta["name"])
        with self.cond:
            old = self.objects[resource].get(key)
            if old:
                meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
                meta["uid"] = old["metadata"]["uid"]
            else:
                self.uid += 1
                meta["creationTimestamp"] = now_rfc3339()
                meta["uid"] = f"uid-{self.uid}"
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            self.objects[resource][key] = obj
            if not silent:
                self.history.append((self.rv, resource, namespace, "MODIFIED" if old else "ADDED", obj))
            self.cond.notify_all()

    def delete(self, kind, namespace, name, silent):
        resource = KIND_TO_RESOURCE[kind]
        with self.cond:
            obj = self.objects[resource].pop((namespace, name), None)
            if obj is None:
                return False
            self.rv += 1
            obj = json.loads(json.dumps(obj))
            obj["metadata"]["resourceVersion"] = str(self.rv)
            if not silent:
                self.history.append((self.rv, resource, namespace, "DELETED", obj))
            self.cond.notify_all()
            return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-apiserver: " + (fmt % args) + "\n")

    @property
    def store(self):
        return self.server.store

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def wait_while_stalled(self):
        while self.store.stalled:
            time.sleep(0.05)

    def authorized(self):
        token = self.server.token
        if not token or self.headers.get("Authorization") == f"Bearer {token}":
            return True
        self.send_json(401, status_object(401, "Unauthorized", "Unauthorized"))
        return False

    # --- control ---------------------------------------------------------------------------
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = urlparse(self.path).path
        store = self.store
        if path == "/_control/apply":
            objects = body.get("objects") or [body["object"]]
            for obj in objects:
                store.apply(obj, body.get("silent", False))
            self.send_json(200, {"resourceVersion": str(store.rv)})
        elif path == "/_control/delete":
            found = store.delete(body["kind"], body.get("namespace", "default"), body["name"],
                                 body.get("silent", False))
            self.send_json(200 if found else 404, {"resourceVersion": str(store.rv)})
        elif path == "/_control/drop-watches":
            with store.cond:
                store.drop_generation += 1
                store.cond.notify_all()
            self.send_json(200, {})
        elif path == "/_control/expire":
            with store.cond:
                # Compaction at a new revision: a fresh list gets it, older watches get 410.
                store.rv += 1
                store.compacted = store.rv
                store.history = []
                if body.get("mode") == "status":
                    store.gone_as_status = True
                    store.drop_generation += 1
                else:
                    store.gone_as_status = False
                    store.gone_generation += 1
                store.cond.notify_all()
            self.send_json(200, {"compacted": store.compacted})
        elif path == "/_control/stall":
            store.stalled = bool(body.get("on", True))
            self.send_json(200, {})
        else:
            self.send_json(404, status_object(404, "NotFound", path))

    # --- API -------------------------------------------------------------------------------
    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/_control/state":
            with self.store.cond:
                self.send_json(200, {"counts": self.store.counts, "resourceVersion": self.store.rv})
            return
        self.wait_while_stalled()
        if not self.authorized():
            return
        parts = [p for p in url.path.split("/") if p]
        # /api/v1[/namespaces/NS]/pods, /apis/GROUP/VERSION[/namespaces/NS]/RESOURCE
        prefix = 2 if parts[:1] == ["api"] else 3
        rest = parts[prefix:]
        namespace = ""
        if len(rest) == 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if len(rest) != 1 or rest[0] not in RESOURCES or \
                (parts[:1] == ["api"]) != (rest[0] == "pods"):
            self.send_json(404, status_object(404, "NotFound", url.path))
            return
        resource = rest[0]
        if query.get("watch", ["false"])[0] in ("true", "1"):
            self.watch(resource, namespace, query)
        else:
            self.list(resource, namespace, query)

    def list(self, resource, namespace, query):
        store = self.store
        api_version, kind = RESOURCES[resource]
        with store.cond:
            store.counts["list"][resource] += 1
            items = [json.loads(json.dumps(obj)) for (ns, _), obj in
                     sorted(store.objects[resource].items()) if not namespace or ns == namespace]
            rv = store.rv
        if resource == "pods":
            for item in items:  # built-in lists carry no kind on their items
                item.pop("kind", None)
                item.pop("apiVersion", None)
        offset = int(query.get("continue", ["0"])[0] or 0)
        limit = int(query.get("limit", ["0"])[0] or 0) or len(items) + 1
        page = items[offset:offset + limit]
        meta = {"resourceVersion": str(rv)}
        if offset + limit < len(items):
            meta["continue"] = str(offset + limit)
        self.send_json(200, {"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta,
                             "items": page})

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def write_event(self, event_type, obj):
        self.write_chunk(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")

    def watch(self, resource, namespace, query):
        store = self.store
        api_version, kind = RESOURCES[resource]
        since = int(query.get("resourceVersion", ["0"])[0] or 0)
        timeout = min(float(query.get("timeoutSeconds", ["1800"])[0]), self.server.watch_max_seconds)
        bookmarks = query.get("allowWatchBookmarks", ["false"])[0] == "true"
        with store.cond:
            store.counts["watch"][resource] += 1
            too_old = since < store.compacted
            as_status = store.gone_as_status
            drop_generation = store.drop_generation
            gone_generation = store.gone_generation
        gone = status_object(410, "Expired", f"too old resource version: {since} ({store.compacted})")
        if too_old and as_status:
            self.send_json(410, gone)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if too_old:
                self.write_event("ERROR", gone)
                self.write_chunk(b"")
                return
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + self.server.bookmark_seconds
            last = since
            while True:
                with store.cond:
                    def pending():
                        return [e for e in store.history if e[0] > last and e[1] == resource
                                and (not namespace or e[2] == namespace)]
                    events = pending()
                    if not events and store.drop_generation == drop_generation and \
                            store.gone_generation == gone_generation:
                        store.cond.wait(timeout=0.1)
                        events = pending()
                    dropped = store.drop_generation != drop_generation
                    expired = store.gone_generation != gone_generation
                    current = store.rv
                if dropped:
                    # Abrupt: no final chunk, as a connection that breaks.
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if expired:
                    self.write_event("ERROR", gone)
                    break
                for rv, _, _, event_type, obj in events:
                    self.write_event(event_type, obj)
                    last = rv
                now = time.monotonic()
                if bookmarks and now >= next_bookmark:
                    self.write_event("BOOKMARK", {"kind": kind, "apiVersion": api_version,
                                                  "metadata": {"resourceVersion": str(current)}})
                    last = max(last, current)
                    next_bookmark = now + self.server.bookmark_seconds
                if now >= deadline:
                    break
            self.write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--watch-max-seconds", type=float, default=30)
    parser.add_argument("--bookmark-seconds", type=float, default=1)
    parser.add_argument("--initial-rv", type=int, default=100)
    parser.add_argument("--objects", default="", help="JSON file of objects to start with")
    parser.add_argument("--tls-cert", default="", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", default="")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    # A restarted API server: versions from before the restart are compacted away.
    server.store = Store(args.initial_rv, compacted=args.initial_rv if args.initial_rv > 100 else 0)
    server.token = args.token
    server.watch_max_seconds = args.watch_max_seconds
    server.bookmark_seconds = args.bookmark_seconds
    server.verbose = args.verbose
    if args.objects:
        with open(args.objects) as f:
            for obj in json.load(f):
                server.store.apply(obj, silent=False)
    server.serve_forever()


if __name__ == "__main__":
    main()

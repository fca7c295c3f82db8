#!/usr/bin/python3
# An independent reader of the simulator's KV events (python3-zmq and python3-msgpack, not
# pdgate's decoder): subscribes to ENDPOINT, prints "subscribed" once its handshake with the
# publisher is done, then receives one message and prints it as one JSON line:
#   {"frames": 3, "topic": "...", "seq": N, "batch": <the msgpack payload as JSON>}
# Maps keep their wire key order (json.dumps keeps dict order). Exit 2 on a timeout.
# Usage: /usr/bin/python3 kv_events_sub.py tcp://HOST:PORT [timeout_seconds]
import json
import sys

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

endpoint = sys.argv[1]
timeout_ms = int(float(sys.argv[2] if len(sys.argv) > 2 else 10) * 1000)

context = zmq.Context()
sub = context.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
sub.setsockopt(zmq.SUBSCRIBE, b"")
monitor = sub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
sub.connect(endpoint)
if not monitor.poll(timeout_ms):
    print("no handshake", flush=True)
    sys.exit(2)
recv_monitor_message(monitor)
print("subscribed", flush=True)

if not sub.poll(timeout_ms):
    print("no message", flush=True)
    sys.exit(2)
frames = sub.recv_multipart()
batch = msgpack.unpackb(frames[-1], raw=False)
print(json.dumps({
    "frames": len(frames),
    "topic": frames[0].decode("utf-8"),
    "seq": int.from_bytes(frames[1], "big"),
    "batch": batch,
}), flush=True)
sub.disable_monitor()
context.destroy(linger=0)

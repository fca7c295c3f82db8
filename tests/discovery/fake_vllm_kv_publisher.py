#!/usr/bin/python3
"""A stand-in for a vLLM engine's KV-event publisher, written with pyzmq and python3-msgpack (not
pdgate's code): a PUB socket sending [topic, seq (8 bytes big-endian), msgpack batch] (an XPUB:
the same on the wire, and it hears the subscriptions, so a test can wait for one) and a
ROUTER replay socket answering [identity, "", start_seq] with every kept batch from start_seq on,
then the end marker (seq -1, empty payload). `--layout old` replies [seq, payload] after the
delimiter (vLLM <= 0.25), `new` replies [topic, seq, payload] (vLLM 0.26, vllm-project/vllm#45177).
`--buffer-steps n` keeps the last n batches only, as vLLM's `buffer_steps` deque does: a replay
asked from before them starts later.

The test drives it over a REP control socket, one JSON command per request:
  {"op": "publish", "batch": [...]}  send a batch (the JSON array is the msgpack batch as is)
  {"op": "drop", "batch": [...]}     keep it for replay, but do not send it (a lost batch)
  {"op": "restart"}                  forget every batch; numbering starts at 0 again
  {"op": "subscribed"}               "subscribed <n>": subscriptions that reached the PUB socket
                                     (what is published before one does is lost for it)
  {"op": "hold"}                     replay requests wait, unanswered (a replay still under way)
  {"op": "release"}                  "released <n>": the waiting requests are answered with the
                                     batches kept now; later ones are answered at once again
  {"op": "replays"}                  "replays <s1>,<s2>,...": the start seqs asked so far, in order
  {"op": "quit"}
Hashes are JSON integers; {"bin": "hex"} stands for a bytes value."""
import argparse
import collections
import json
import struct

import msgpack
import zmq


def decode(value):
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"bin"}:
            return bytes.fromhex(value["bin"])
        return {k: decode(v) for k, v in value.items()}
    return value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--replay-port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--topic", default="")
    parser.add_argument("--layout", choices=["old", "new"], default="new")
    parser.add_argument("--buffer-steps", type=int, default=10000)
    args = parser.parse_args()
    context = zmq.Context()
    pub = context.socket(zmq.XPUB)
    pub.bind(f"tcp://{args.address}:{args.port}")
    replay = context.socket(zmq.ROUTER)
    replay.bind(f"tcp://{args.address}:{args.replay_port}")
    control = context.socket(zmq.REP)
    control.bind(f"tcp://{args.address}:{args.control_port}")
    topic = args.topic.encode()
    kept = collections.deque(maxlen=args.buffer_steps)  # (seq, payload)
    next_seq = 0
    subscribed = 0
    asked = []  # start seqs of the replay requests, in order
    holding = False
    waiting = []  # (identity, start) while holding

    def answer(identity, start):
        for seq, payload in kept:
            if seq >= start:
                head = [identity, b""] + ([topic] if args.layout == "new" else [])
                replay.send_multipart(head + [struct.pack(">Q", seq), payload])
        head = [identity, b""] + ([b""] if args.layout == "new" else [])
        replay.send_multipart(head + [struct.pack(">q", -1), b""])

    poller = zmq.Poller()
    poller.register(pub, zmq.POLLIN)
    poller.register(replay, zmq.POLLIN)
    poller.register(control, zmq.POLLIN)
    print("ready", flush=True)
    while True:
        for socket, _ in poller.poll():
            if socket is pub:
                # A subscription reached the socket: b"\x01" + topic (b"\x00": the last went).
                message = pub.recv()
                subscribed += 1 if message[:1] == b"\x01" else -1
                continue
            if socket is replay:
                frames = replay.recv_multipart()
                if len(frames) != 3 or len(frames[2]) != 8:
                    continue
                identity, start = frames[0], struct.unpack(">Q", frames[2])[0]
                asked.append(start)
                if holding:
                    waiting.append((identity, start))
                else:
                    answer(identity, start)
                continue
            command = json.loads(control.recv())
            op = command["op"]
            if op in ("publish", "drop"):
                payload = msgpack.packb(decode(command["batch"]), use_bin_type=True)
                kept.append((next_seq, payload))
                if op == "publish":
                    pub.send_multipart([topic, struct.pack(">Q", next_seq), payload])
                control.send_string(f"ok {next_seq}")
                next_seq += 1
            elif op == "restart":
                kept.clear()
                next_seq = 0
                control.send_string("ok")
            elif op == "subscribed":
                control.send_string(f"subscribed {subscribed}")
            elif op == "hold":
                holding = True
                control.send_string("ok")
            elif op == "release":
                holding = False
                for identity, start in waiting:
                    answer(identity, start)
                control.send_string(f"released {len(waiting)}")
                waiting.clear()
            elif op == "replays":
                control.send_string("replays " + ",".join(str(start) for start in asked))
            elif op == "quit":
                control.send_string("ok")
                return
            else:
                control.send_string("unknown op")


if __name__ == "__main__":
    main()

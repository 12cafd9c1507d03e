#!/usr/bin/env python3
"""Fills fuzz/seeds/<target>/ with seeds taken from spec/vectors/*.json (stdlib only).

    python3 fuzz/seeds.py            # from the repository root or anywhere

Each target's seed layout follows the comment at the top of its fuzz_targets/<target>.rs:
raw inputs (payload strings and their CBOR, record bytes, trust lists, head statements,
checkpoint notes) and, for the targets that sign fuzzer-chosen payloads, the vectors'
payloads behind the selector byte that picks their signer and position. File names are the
SHA-1 of the contents (as libFuzzer names its own), so re-running is idempotent.
"""
import hashlib
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTORS = os.path.join(ROOT, "spec", "vectors")
SEEDS_DIR = os.path.join(ROOT, "fuzz", "seeds")

# Key seeds of the vector world in the order of provenance_fuzz::seed::ALL.
SEEDS = [1, 2, 3, 4, 5, 7, 9]
OPERATOR, MAKER, DESK, HOST, BUYER, STRANGER, LEDGER = range(7)  # indexes into SEEDS
# Signer of each record of records.json (by name), as an index into SEEDS.
RECORD_SIGNER = {
    "run-manifest": MAKER, "mint": MAKER, "repair": DESK, "transfer": MAKER,
    "badge": HOST, "report-stolen": BUYER, "report-recovered": BUYER, "report-void": MAKER,
}

B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def base45_decode(text):
    out = bytearray()
    vals = [B45.index(c) for c in text]
    for i in range(0, len(vals), 3):
        chunk = vals[i:i + 3]
        n = sum(v * 45 ** j for j, v in enumerate(chunk))
        out += n.to_bytes(2 if len(chunk) == 3 else 1, "big")
    return bytes(out)


def cbor(data, i=0):
    """Decodes one definite-length CBOR item at i: (value, next index). Tags are dropped."""
    ib = data[i]
    major, info = ib >> 5, ib & 31
    i += 1
    if info < 24:
        n = info
    else:
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        n = int.from_bytes(data[i:i + size], "big")
        i += size
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major in (2, 3):
        raw = data[i:i + n]
        return (raw if major == 2 else raw.decode()), i + n
    if major == 4:
        items = []
        for _ in range(n):
            v, i = cbor(data, i)
            items.append(v)
        return items, i
    if major == 5:
        m = {}
        for _ in range(n):
            k, i = cbor(data, i)
            v, i = cbor(data, i)
            m[k] = v
        return m, i
    if major == 6:
        return cbor(data, i)
    return None, i


def cose_payload(cose):
    """The payload of a profiled COSE_Sign1: d2 84 4d <13 bytes> a0 <bstr payload> ..."""
    value, _ = cbor(cose)
    return value[2]


written = {}


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(SEEDS_DIR, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    written[target] = written.get(target, 0) + 1


def main():
    payloads = json.load(open(os.path.join(VECTORS, "payloads.json")))["vectors"]
    records = json.load(open(os.path.join(VECTORS, "records.json")))["records"]
    recs = {r["name"]: bytes.fromhex(r["cose_hex"]) for r in records}
    chain_names = [r["name"] for r in records][1:]  # mint first, then every later record

    # payload: every payload string, and the CBOR inside each that is valid base45.
    containers = []
    for v in payloads:
        put("payload", v["payload"])
        text = v["payload"].strip()
        if text.startswith("PV1:"):
            try:
                raw = base45_decode(text[4:])
            except (ValueError, OverflowError):
                continue
            if len(raw) <= 4296:
                put("payload", raw)
            try:
                value, end = cbor(raw)
            except (KeyError, IndexError, UnicodeDecodeError):
                continue
            if isinstance(value, dict) and end == len(raw):
                containers.append(value)

    # record: raw bytes, and [selector, payload] signed by the right key at the right position.
    for name, cose in recs.items():
        put("record", cose)
        signer = RECORD_SIGNER[name]
        position = 0 if name in ("run-manifest", "mint") else chain_names.index(name)
        put("record", bytes([signer + 7 * position]) + cose_payload(cose))

    # trust_list: each distinct list, and its content.
    for t in sorted({v["trust_list_hex"] for v in payloads}):
        tl = bytes.fromhex(t)
        put("trust_list", tl)
        put("trust_list", cose_payload(tl))

    # head: the head statements carried by living payloads, and their content.
    heads = {c[3] for c in containers if 3 in c and isinstance(c[3], bytes)}
    for h in sorted(heads):
        put("head", h)
        try:
            put("head", cose_payload(h))
        except (KeyError, IndexError, TypeError):
            pass

    # checkpoint: notes of the log anchors (mode 0), their fields (mode 1), proofs (mode 2).
    notes = {c[4][0] for c in containers if 4 in c and isinstance(c[4], list) and c[4]}
    for note in sorted(n for n in notes if isinstance(n, str)):
        put("checkpoint", b"\x00" + note.encode())
        origin, size, root = note.split("\n")[:3]
        import base64
        put("checkpoint", b"\x01" + origin.encode() + b"\x00" + struct.pack(">Q", int(size))
            + base64.b64decode(root))
    for c in containers:
        if 4 in c and isinstance(c[4], list) and len(c[4]) == 3:
            _, index, proof = c[4]
            body = struct.pack(">QQQQ", index, index + 1, 1, index + 1) + b"\x07"
            body += bytes([32]) + bytes(32) + bytes([32]) + bytes(32) + bytes([32]) + bytes(32)
            for h in proof:
                body += bytes([len(h)]) + h
            put("checkpoint", b"\x02" + body)
    put("checkpoint", b"\x02" + struct.pack(">QQQQ", 5, 300, 7, 13))

    # http_append: selector % 4 = 0 append, 1 mint, 2 run, 3 signed (signer (s / 4) % 7).
    put("http_append", b"\x02" + recs["run-manifest"])
    put("http_append", b"\x01" + recs["mint"])
    for name in chain_names[1:]:
        put("http_append", b"\x00" + recs[name])
    for name, cose in recs.items():
        put("http_append", bytes([3 + 4 * RECORD_SIGNER[name]]) + cose_payload(cose))

    for target, n in sorted(written.items()):
        print(f"{target}: {n} seeds in fuzz/seeds/{target}/")


if __name__ == "__main__":
    main()

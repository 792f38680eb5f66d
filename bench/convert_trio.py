"""Converts a trio made by `npm run bench -- --keep` (BF16) to F16 or F32, to time the
F16 and F32 paths on the same layout and element count:

    python3 bench/convert_trio.py <kept trio folder> <new folder> F16|F32

The parents' BF16 tensors are cast to the new dtype (exact for F32; for F16 exact where
the values are within its range, rounded to its subnormals below 2^-14); the suspect is
recomputed from the cast parents as 0.6*B + 0.4*A in float32 (each product and the sum
rounded to float32, as mergekit with `dtype: float32` computes) and saved in the new
dtype. F32 tensors and every other file are copied as they are. Each shard is rewritten
with the new dtype and offsets, tensors in the same order. Needs numpy."""

import json
import os
import shutil
import struct
import sys

import numpy as np

ROLES = ["parent-a", "parent-b", "suspect"]


def bf16_values(raw):
    return (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def convert_shard(src, dst, name, dtype):
    target = np.float16 if dtype == "F16" else np.float32
    headers, bodies = {}, {}
    for role in ROLES:
        with open(os.path.join(src, role, name), "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            headers[role] = json.loads(handle.read(length))
            bodies[role] = handle.read()
    header = headers["suspect"]
    entries = sorted((k, v) for k, v in header.items() if k != "__metadata__")
    entries.sort(key=lambda kv: kv[1]["data_offsets"][0])
    out_header = {"__metadata__": header["__metadata__"]} if "__metadata__" in header else {}
    parts = {role: [] for role in ROLES}
    offset = 0
    for tensor, entry in entries:
        begin, end = entry["data_offsets"]
        if entry["dtype"] == "BF16":
            a = bf16_values(bodies["parent-a"][begin:end]).astype(target)
            b = bf16_values(bodies["parent-b"][begin:end]).astype(target)
            blend = np.float32(0.6) * b.astype(np.float32) + np.float32(0.4) * a.astype(np.float32)
            data = {"parent-a": a.tobytes(), "parent-b": b.tobytes(), "suspect": blend.astype(target).tobytes()}
            tensor_dtype = dtype
        else:
            data = {role: bodies[role][begin:end] for role in ROLES}
            tensor_dtype = entry["dtype"]
        size = len(data["suspect"])
        out_header[tensor] = {"dtype": tensor_dtype, "shape": entry["shape"], "data_offsets": [offset, offset + size]}
        offset += size
        for role in ROLES:
            parts[role].append(data[role])
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    for role in ROLES:
        with open(os.path.join(dst, role, name), "wb") as handle:
            handle.write(struct.pack("<Q", len(text)))
            handle.write(text)
            for part in parts[role]:
                handle.write(part)


def main(argv):
    if len(argv) != 3 or argv[2] not in ("F16", "F32"):
        print("usage: python3 bench/convert_trio.py <kept trio folder> <new folder> F16|F32", file=sys.stderr)
        return 2
    src, dst, dtype = argv
    if os.path.exists(dst):
        print(f"{dst}: already exists; give a new folder", file=sys.stderr)
        return 2
    for role in ROLES:
        if not os.path.isdir(os.path.join(src, role)):
            print(f"{os.path.join(src, role)}: no such folder (expected a trio kept by npm run bench -- --keep)", file=sys.stderr)
            return 2
    shards = sorted(f for f in os.listdir(os.path.join(src, "suspect")) if f.endswith(".safetensors"))
    for role in ROLES:
        os.makedirs(os.path.join(dst, role))
        for name in os.listdir(os.path.join(src, role)):
            if not name.endswith(".safetensors"):
                shutil.copy(os.path.join(src, role, name), os.path.join(dst, role, name))
    for name in shards:
        convert_shard(src, dst, name, dtype)
    print(f"{dst}: {len(shards)} shards per model in {dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

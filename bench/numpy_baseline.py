#!/usr/bin/env python3
"""The NumPy script a researcher would write instead of provcheck, written carefully.

For every tensor of a suspect S and parents A, B (safetensors folders or files), it
accumulates the float64 Gram matrix of [r, d, e] = [A, B - A, S - A] (six dot products)
and reports the least-squares blend weight of B. That is the core of provcheck's
statistics and less than all of it: no rounding floor, no informative-element sums, no
exact-hit profile, no non-finite handling.

Made fast, not sandbagged: positional reads (os.preadv) into buffers allocated once per
thread, bf16 widened by a shift on a uint32 view, dot products through BLAS (pinned to
one thread, set before numpy is imported), one thread per core over tensors (NumPy
releases the GIL in reads, casts and dot products), files read in order within a tensor.

    python3 bench/numpy_baseline.py SUSPECT PARENT_A PARENT_B [--threads N] [--chunk-mib 1]

Prints one JSON line: tensors, elements, seconds, and the element-weighted weight of B.
"""
import argparse
import json
import os
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
import numpy as np  # noqa: E402

ITEM_BYTES = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8}


def shard_files(model):
    if os.path.isfile(model):
        return [model]
    names = sorted(n for n in os.listdir(model) if n.endswith(".safetensors"))
    return [os.path.join(model, n) for n in names]


def read_header(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    header.pop("__metadata__", None)
    base = 8 + length
    return {name: (info["dtype"], base + info["data_offsets"][0], info["data_offsets"][1] - info["data_offsets"][0]) for name, info in header.items()}


def tensors_of(model):
    found = {}
    for path in shard_files(model):
        for name, (dtype, start, nbytes) in read_header(path).items():
            found[name] = (path, dtype, start, nbytes)
    return found


class Reader:
    """Per-thread reusable buffers and open file descriptors."""

    def __init__(self, chunk_bytes):
        self.chunk_bytes = chunk_bytes
        self.raw = [np.empty(chunk_bytes, dtype=np.uint8) for _ in range(3)]
        self.wide = [np.empty(chunk_bytes // 2, dtype=np.uint32) for _ in range(3)]
        self.fds = {}

    def fd(self, path):
        fd = self.fds.get(path)
        if fd is None:
            fd = self.fds[path] = os.open(path, os.O_RDONLY)
        return fd

    def values(self, k, path, dtype, offset, count):
        nbytes = count * ITEM_BYTES[dtype]
        view = self.raw[k][:nbytes]
        got = os.preadv(self.fd(path), [memoryview(view)], offset)
        if got != nbytes:
            raise IOError(f"{path}: short read at {offset}")
        if dtype == "BF16":
            wide = self.wide[k][:count]
            np.left_shift(view.view(np.uint16), 16, out=wide, dtype=np.uint32)
            return wide.view(np.float32).astype(np.float64)
        if dtype == "F16":
            return view.view(np.float16).astype(np.float64)
        if dtype == "F32":
            return view.view(np.float32).astype(np.float64)
        return view.view(np.float64).copy()


def gram_of(reader, inputs, count):
    """Six dot products over one tensor, chunk by chunk."""
    sums = np.zeros(6)
    item = max(ITEM_BYTES[dtype] for _, dtype, _, _ in inputs)
    step = reader.chunk_bytes // max(item, 2)
    for first in range(0, count, step):
        n = min(step, count - first)
        s, a, b = (reader.values(k, path, dtype, start + first * ITEM_BYTES[dtype], n) for k, (path, dtype, start, _) in enumerate(inputs))
        d = b - a
        e = s - a
        sums += (a @ a, a @ d, a @ e, d @ d, d @ e, e @ e)
    return sums


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("suspect")
    parser.add_argument("parent_a")
    parser.add_argument("parent_b")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--chunk-mib", type=float, default=1)
    args = parser.parse_args()

    start_time = time.perf_counter()
    models = [tensors_of(m) for m in (args.suspect, args.parent_a, args.parent_b)]
    names = [n for n in models[0] if n in models[1] and n in models[2] and models[0][n][1] in ITEM_BYTES]
    # Largest first, so the last tensor to start is a small one and the threads finish together.
    names.sort(key=lambda n: -models[0][n][3])
    chunk_bytes = int(args.chunk_mib * 2**20)
    readers = {}

    def work(name):
        reader = readers.setdefault(threading_id(), Reader(chunk_bytes))
        inputs = [m[name] for m in models]
        count = inputs[0][3] // ITEM_BYTES[inputs[0][1]]
        return count, gram_of(reader, inputs, count)

    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        results = list(pool.map(work, names))
    elements = sum(count for count, _ in results)
    weighted = 0.0
    weight_elements = 0
    for count, (aa, ad, ae, dd, de, ee) in results:
        if dd > 0:
            weighted += count * (de / dd)
            weight_elements += count
    seconds = time.perf_counter() - start_time
    print(json.dumps({
        "tensors": len(names),
        "elements": elements,
        "seconds": seconds,
        "threads": args.threads,
        "weightB": weighted / weight_elements if weight_elements else None,
        "numpy": np.__version__,
    }))
    return 0


def threading_id():
    import threading
    return threading.get_ident()


if __name__ == "__main__":
    sys.exit(main())

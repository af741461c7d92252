#!/usr/bin/env python3
"""Independent reference for the bucket of a targeting key (docs/targeting.md, "Buckets").

Written from the published MurmurHash3 x86_32 algorithm description (Austin Appleby's
SMHasher / the Wikipedia pseudocode), NOT from the project's C code. It was used to write
tests/vectors/targeting.json by hand: it only computes hashes and buckets, it does not
evaluate rules.

    bucket = murmur3_x86_32(toggle_name + ":" + key, seed 0) mod 10000

over UTF-8 bytes, key being the string itself or an integer's decimal digits.

Usage:
    python3 murmur3_reference.py --self-test
    python3 murmur3_reference.py TOGGLE KEY [KEY ...]     # prints bucket per key
"""
import sys

MASK = 0xFFFFFFFF


def _rotl(x, r):
    return ((x << r) | (x >> (32 - r))) & MASK


def murmur3_x86_32(data: bytes, seed: int = 0) -> int:
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & MASK
    n = len(data)
    nblocks = n // 4
    for i in range(nblocks):                      # body: 4-byte little-endian blocks
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * c1) & MASK
        k = _rotl(k, 15)
        k = (k * c2) & MASK
        h ^= k
        h = _rotl(h, 13)
        h = (h * 5 + 0xE6546B64) & MASK
    tail = data[4 * nblocks:]                      # tail: 0..3 remaining bytes
    if tail:
        k = int.from_bytes(tail, "little")
        k = (k * c1) & MASK
        k = _rotl(k, 15)
        k = (k * c2) & MASK
        h ^= k
    h ^= n                                         # finalisation (fmix32)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK
    h ^= h >> 16
    return h


def bucket(toggle: str, key) -> int:
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise TypeError("bucketing key must be a string or an integer")
    k = key if isinstance(key, str) else str(key)  # integer: decimal digits, e.g. -17
    return murmur3_x86_32((toggle + ":" + k).encode("utf-8"), 0) % 10000


# Published reference values (SMHasher-derived vectors, as quoted on Wikipedia /
# StackOverflow "MurmurHash3 test vectors" and in several independent test suites).
REFERENCE = [
    (b"", 0, 0x00000000),
    (b"", 1, 0x514E28B7),
    (b"", 0xFFFFFFFF, 0x81F16F39),
    (b"", 42, 0x087FCD5C),
    (b"hello", 0, 0x248BFA47),
    (b"R", 0, 0x79B365C1),
    (b"[)<{vbjRgcp", 0, 0x100949F7),
    (b"Turn me into a hash", 1234, 4138100590),
    (b"Life, the Universe, and Everything.", 42, 458076548),
    (b"abc", 0, 0xB3DD93FA),
    (b"aaaa", 0x9747B28C, 0x5A97808A),
    (b"Hello, world!", 0x9747B28C, 0x24884CBA),
    (b"The quick brown fox jumps over the lazy dog", 0x9747B28C, 0x2FA826CD),
]


def self_test() -> None:
    for data, seed, want in REFERENCE:
        got = murmur3_x86_32(data, seed)
        assert got == want, (data, seed, hex(got), hex(want))
    print("ok: %d reference vectors" % len(REFERENCE))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--self-test":
        self_test()
    elif len(sys.argv) >= 3:
        for key in sys.argv[2:]:
            print("bucket(%s:%s) = %d" % (sys.argv[1], key, bucket(sys.argv[1], key)))
    else:
        print(__doc__)
        sys.exit(2)

"""The compressed file: a fixed 56-byte header, then the range coder's words.

Header (little-endian):

    offset size field
    0      4    magic b"KARC"
    4      1    format version
    5      1    backend (1 jax, 2 tensorflow, 3 torch)
    6      1    flags (bit 0: class labels coded; bit 1: texts with an end)
    7      1    rank of one example (1..3)
    8      12   shape of one example (3 x uint32, unused entries 0)
    20     4    number of examples
    24     4    examples coded together (the batch of the coding loop)
    28     4    payload length in bytes
    32     8    model fingerprint (config and weights)
    40     4    environment tag (library, backend and platform versions)
    44     4    CRC32 of the payload
    48     4    CRC32 of the decoded examples (and labels)
    52     4    CRC32 of the 52 bytes before it
"""

import platform
import struct
import zlib

import keras
import numpy as np

MAGIC = b"KARC"
VERSION = 1
HEADER = struct.Struct("<4sBBBB3IIII8sIIII")
HEADER_SIZE = HEADER.size
BACKENDS = {"jax": 1, "tensorflow": 2, "torch": 3}
BACKEND_NAMES = {code: name for name, code in BACKENDS.items()}
FLAG_LABELS = 1
FLAG_TEXT = 2


def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def data_checksum(x, labels=None):
    """CRC32 of the examples (as little-endian int32) and the labels."""
    value = crc32(np.ascontiguousarray(x, "<i4").tobytes())
    if labels is not None:
        value = zlib.crc32(np.ascontiguousarray(labels, "<i4").tobytes(), value)
    return value & 0xFFFFFFFF


def environment():
    """What the step arithmetic may depend on besides the model: a string."""
    import keras_ar

    backend = keras.backend.backend()
    try:
        module = __import__({"tensorflow": "tensorflow"}.get(backend, backend))
        backend_version = getattr(module, "__version__", "?")
    except ImportError:  # pragma: no cover
        backend_version = "?"
    return "|".join(
        [
            backend,
            backend_version,
            keras.__version__,
            getattr(keras_ar, "__version__", "?"),
            np.__version__,
            platform.system(),
            platform.machine(),
        ]
    )


def environment_tag():
    return crc32(environment().encode())


def pack(
    *, backend, flags, shape, count, batch, payload, fingerprint, data_crc
):  # fmt: skip
    dims = list(shape) + [0] * (3 - len(shape))
    body = HEADER.pack(
        MAGIC, VERSION, BACKENDS[backend], flags, len(shape), *dims, count, batch,
        len(payload), fingerprint, environment_tag(), crc32(payload), data_crc, 0,
    )  # fmt: skip
    header = body[:-4] + struct.pack("<I", crc32(body[:-4]))
    return header + payload


def unpack(data):
    """`(fields dict, payload bytes)`; raises ValueError for anything that is
    not a complete, intact keras_ar compressed file."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"`data` must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 4 or data[:4] != MAGIC:
        raise ValueError(
            f"`data` is not keras_ar compressed data (it does not start with {MAGIC!r})"
        )
    if len(data) < HEADER_SIZE:
        raise ValueError(
            f"`data` is truncated: {len(data)} bytes, shorter than the "
            f"{HEADER_SIZE}-byte header"
        )
    fields = HEADER.unpack(data[:HEADER_SIZE])
    if crc32(data[: HEADER_SIZE - 4]) != fields[-1]:
        raise ValueError("`data` is corrupted: the header's checksum does not match")
    (
        _, version, backend, flags, rank, d0, d1, d2, count, batch, length,
        fingerprint, env, payload_crc, data_crc, _,
    ) = fields  # fmt: skip
    if version != VERSION:
        raise ValueError(
            f"`data` has format version {version}; this keras_ar reads version "
            f"{VERSION}"
        )
    payload = data[HEADER_SIZE:]
    if len(payload) < length:
        raise ValueError(
            f"`data` is truncated: the payload has {len(payload)} of its {length} bytes"
        )
    if len(payload) > length:
        raise ValueError(
            f"`data` has {len(payload) - length} bytes after its payload "
            "(several files joined, or a corrupted length)"
        )
    if crc32(payload) != payload_crc:
        raise ValueError("`data` is corrupted: the payload's checksum does not match")
    if backend not in BACKEND_NAMES or not 1 <= rank <= 3:
        raise ValueError("`data` is corrupted: unknown backend or rank in the header")
    return {
        "backend": BACKEND_NAMES[backend],
        "labels": bool(flags & FLAG_LABELS),
        "text": bool(flags & FLAG_TEXT),
        "shape": (d0, d1, d2)[:rank],
        "count": count,
        "batch": batch,
        "fingerprint": fingerprint,
        "environment": env,
        "data_crc": data_crc,
    }, payload

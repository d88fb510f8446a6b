"""Reader and writer for the IDX format used by MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension and
the raw array in C order, big-endian. The magic number is two zero bytes, a
type code (0x08 for unsigned bytes, the only type the MNIST family uses) and
the number of dimensions. Files may be gzip-compressed.
"""

import gzip
import os
import struct
import zlib

import numpy as np

# Type codes of the IDX format and the big-endian NumPy dtypes they stand for.
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    """Returns the file's bytes, gunzipped when the file is gzip data."""
    with open(path, "rb") as f:
        data = f.read()
    # Sniff the content rather than trust the suffix: some mirrors serve
    # uncompressed files under `.gz` names and vice versa.
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(
                f"{path}: not a valid gzip file (truncated or corrupt?): {e}"
            ) from None
    return data


def read_idx(path):
    """Reads an IDX file (optionally gzip-compressed) into a NumPy array.

    Args:
        path: path of the file (`str` or `os.PathLike`).

    Returns:
        A NumPy array with the file's shape, in native byte order (`uint8`
        for the MNIST family).

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: naming the file, if it is not an IDX file (wrong magic
            number, unknown type code), or if it is truncated or longer than
            its header says.

    Example:

    >>> images = read_idx("train-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape, images.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(
            f"{path}: not an IDX file: {len(data)} bytes, shorter than the "
            "4-byte magic number"
        )
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file: bad magic number 0x{data[:4].hex()} "
            "(expected 0x0000TTDD with a known type code TT, e.g. 0x08 for "
            "unsigned bytes, and DD dimensions)"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions need "
            f"{header_size} header bytes, the file has {len(data)}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_size
    if found != expected:
        problem = "truncated" if found < expected else "has trailing data"
        raise ValueError(
            f"{path}: IDX file {problem}: shape {tuple(shape)} of "
            f"{dtype.name} needs {expected} data bytes, found {found}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    # Native byte order and a writable copy, like any other loaded array.
    return array.astype(dtype.newbyteorder("="))


def write_idx(path, array, compress=None):
    """Writes a NumPy array as an IDX file.

    Args:
        path: destination path.
        array: array of one of the IDX types (uint8, int8, int16, int32,
            float32, float64), at most 255 dimensions.
        compress: whether to gzip the file; `None` means "if `path` ends in
            `.gz`".

    Example:

    >>> write_idx("labels-idx1-ubyte.gz", np.array([3, 1, 4], "uint8"))  # doctest: +SKIP
    """
    path = os.fspath(path)
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(
            f"`array` must have one of the IDX dtypes "
            f"{sorted(str(d) for d in codes)}, got {array.dtype}"
        )
    if array.ndim > 255:
        raise ValueError(f"`array` has {array.ndim} dimensions, IDX allows 255")
    type_code = codes[native]
    header = struct.pack(">HBB", 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, IDX_DTYPES[type_code]).tobytes()
    if compress is None:
        compress = path.endswith(".gz")
    if compress:
        # A fixed mtime makes the output byte-identical across runs.
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)

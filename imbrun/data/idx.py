"""Read IDX files (the MNIST / Fashion-MNIST format), checking header and size byte for byte."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from imbrun.errors import ImbrunError

# magic number -> what it holds; both are uint8 (type byte 0x08), the last byte is the number of dims
IDX_KINDS = {0x00000801: ("labels", 1), 0x00000803: ("images", 3)}


def _read_bytes(path: Path) -> bytes:
    """Whole file content, decompressed when the name ends in .gz."""
    if not path.is_file():
        raise ImbrunError(f"{path}: IDX file not found")
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (EOFError, OSError, zlib.error) as err:
        raise ImbrunError(f"{path}: expected a complete gzip file, got a truncated or corrupt one ({err})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (raw or .gz) into a uint8 array.

    Labels (magic 0x00000801) give shape (n,), images (magic 0x00000803) give (n, rows, cols).

    Example:
        >>> read_idx("mnist/t10k-labels-idx1-ubyte.gz").shape
        (10000,)
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ImbrunError(f"{path}: expected an IDX header of at least 4 bytes, got {len(data)} bytes")
    magic = int.from_bytes(data[:4], "big")
    if magic not in IDX_KINDS:
        raise ImbrunError(
            f"{path}: expected IDX magic 0x00000801 (labels) or 0x00000803 (images), got 0x{magic:08x}"
        )
    _, ndim = IDX_KINDS[magic]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ImbrunError(f"{path}: expected a {header}-byte IDX header, got {len(data)} bytes in total")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise ImbrunError(
            f"{path}: expected {expected} bytes for dims {'x'.join(map(str, dims))}, got {len(data)} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array of 1 or 3 dims as IDX (gzip-compressed when the name ends in .gz); used by tests."""
    array = np.asarray(array, dtype=np.uint8)
    magic = {1: 0x00000801, 3: 0x00000803}[array.ndim]
    payload = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape) + array.tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)

"""One message format for every conversation between a kernel, the grader and its evaluator.

A message is a 4-byte big-endian length, a JSON header (a dict), then the arrays the header
lists under "arrays" (their byte lengths), each one .npy file. Arrays are read with
np.load(..., allow_pickle=False): a message carries data, never code. Sizes are bounded on
reading, so a hostile peer cannot make the reader allocate more than `max_bytes`.
"""

import io
import json
import struct

import numpy as np

MAX_HEADER = 16 * 2**20
MAX_BYTES = 256 * 2**20


class WireError(ValueError):
    """A message that is malformed or too large."""


def encode_array(array) -> bytes:
    buffer = io.BytesIO()
    array = np.ascontiguousarray(array)
    if array.dtype == object:
        raise WireError("object arrays cannot be sent")
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def decode_array(data: bytes) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as error:  # noqa: BLE001  (whatever is wrong, it is not an array)
        raise WireError(f"not an array: {error}") from error


def encode(header: dict, arrays=()) -> bytes:
    """The bytes of one message."""
    payloads = [encode_array(a) for a in arrays]
    encoded = json.dumps({**header, "arrays": [len(p) for p in payloads]}, allow_nan=False).encode()
    return struct.pack(">I", len(encoded)) + encoded + b"".join(payloads)


def send(stream, header: dict, arrays=()) -> None:
    """Write one message to a binary stream and flush it."""
    stream.write(encode(header, arrays))
    stream.flush()


def _read_exactly(stream, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(stream, max_bytes: int = MAX_BYTES) -> tuple[dict, list[np.ndarray]]:
    """Read one message: (header, arrays). Raises WireError past `max_bytes` in all."""
    (size,) = struct.unpack(">I", _read_exactly(stream, 4))
    if size > MAX_HEADER:
        raise WireError("header too large")
    try:
        header = json.loads(_read_exactly(stream, size))
    except json.JSONDecodeError as error:
        raise WireError("header is not JSON") from error
    if not isinstance(header, dict):
        raise WireError("header must be a JSON object")
    lengths = header.pop("arrays", [])
    if not isinstance(lengths, list) or not all(isinstance(n, int) and n > 0 for n in lengths):
        raise WireError("bad array lengths")
    if sum(lengths) > max_bytes:
        raise WireError(f"message over {max_bytes // 2**20} MB")
    return header, [decode_array(_read_exactly(stream, n)) for n in lengths]


def decode(data: bytes, max_bytes: int = MAX_BYTES) -> tuple[dict, list[np.ndarray]]:
    """The (header, arrays) of one message held in memory; trailing bytes are an error."""
    stream = io.BytesIO(data)
    message = receive(stream, max_bytes)
    if stream.read(1):
        raise WireError("trailing bytes after the message")
    return message

"""The call protocol between the grader and the worker that runs a submission.

Only plain data crosses: NumPy arrays (``np.lib.format``, ``allow_pickle=False``), Python
scalars, strings, bytes, None, and lists/tuples/dicts (string keys) of them. A
``numpy.random.Generator`` crosses as its bit generator's name and state and is rebuilt on
the other side; after the call the advanced state travels back, so ``rng`` behaves exactly as
in a local call. Any other object stays where it was made and crosses as an opaque
:class:`Handle` (an id and a type name). Nothing is ever unpickled: a hostile submission
cannot make the grader execute code by what it returns.

Wire format of one message: 8-byte little-endian length of a JSON header, the header, then
for each array an 8-byte length and the ``.npy`` bytes.
"""
import io
import json
import math
import struct

import numpy as np

MAX_MESSAGE_BYTES = 1 << 31          # 2 GiB: a bigger reply is treated as hostile
_LEN = struct.Struct("<Q")


class ProtocolError(RuntimeError):
    """A message could not be encoded or decoded (unsupported type, corrupt or oversized)."""


class Frozen:
    """A seed that becomes a *fresh* ``np.random.default_rng(seed)`` each time a call is made
    (``G.frozen(seed)``): a dropout mask stays fixed while a gradient is differenced."""

    __slots__ = ("seed",)

    def __init__(self, seed):
        self.seed = int(seed)

    def rng(self):
        return np.random.default_rng(self.seed)

    def __repr__(self):
        return f"G.frozen({self.seed})"


def materialize(value):
    """``value`` with every :class:`Frozen` (also inside lists/tuples/dicts) replaced by a
    fresh Generator."""
    if isinstance(value, Frozen):
        return value.rng()
    if isinstance(value, list):
        return [materialize(v) for v in value]
    if isinstance(value, tuple):
        return tuple(materialize(v) for v in value)
    if isinstance(value, dict):
        return {k: materialize(v) for k, v in value.items()}
    return value


class Handle:
    """An object that lives in the worker; the grader holds only its id and type name."""

    __slots__ = ("id", "type_name")

    def __init__(self, id, type_name):
        self.id = int(id)
        self.type_name = str(type_name)

    def __repr__(self):
        return f"<student {self.type_name} object #{self.id}>"

    def __eq__(self, other):
        return isinstance(other, Handle) and other.id == self.id

    def __hash__(self):
        return hash(("handle", self.id))


def _encode(value, arrays, generators, handle_of):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"__float__": repr(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise ProtocolError("object arrays cannot cross the grading boundary")
        arrays.append(value)
        return {"__ndarray__": len(arrays) - 1}
    if isinstance(value, np.generic):
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise ProtocolError("object scalars cannot cross the grading boundary")
        arrays.append(arr)
        return {"__npscalar__": len(arrays) - 1}
    if isinstance(value, np.random.Generator):
        generators.append(value)
        bg = value.bit_generator
        return {"__generator__": len(generators) - 1, "bit_generator": type(bg).__name__,
                "state": _jsonable_state(bg.state)}
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    if isinstance(value, Frozen):
        return {"__frozen__": value.seed}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays, generators, handle_of) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays, generators, handle_of) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ProtocolError(f"dict keys must be strings to cross the grading boundary, got {type(k).__name__}")
            out[k] = _encode(v, arrays, generators, handle_of)
        return {"__dict__": out}
    if isinstance(value, Handle):
        return {"__handle__": value.id, "type": value.type_name}
    if handle_of is not None:
        hid = handle_of(value)
        return {"__handle__": hid, "type": type(value).__name__}
    raise ProtocolError(f"a {type(value).__name__} cannot cross the grading boundary")


def _jsonable_state(state):
    if isinstance(state, dict):
        return {k: _jsonable_state(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return {"__state_array__": state.tolist(), "dtype": str(state.dtype)}
    if isinstance(state, (np.integer,)):
        return int(state)
    return state


def _restore_state(state):
    if isinstance(state, dict):
        if "__state_array__" in state:
            return np.array(state["__state_array__"], dtype=state["dtype"])
        return {k: _restore_state(v) for k, v in state.items()}
    return state


def make_generator(bit_generator, state):
    """A Generator with the named bit generator, set to ``state``."""
    allowed = {"PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"}
    if bit_generator not in allowed:
        raise ProtocolError(f"unsupported bit generator {bit_generator!r}")
    bg = getattr(np.random, bit_generator)()
    bg.state = _restore_state(state)
    return np.random.Generator(bg)


def generator_state(gen):
    return _jsonable_state(gen.bit_generator.state)


def set_generator_state(gen, state):
    gen.bit_generator.state = _restore_state(state)


def _decode(node, arrays, generators, resolve_handle):
    if isinstance(node, list):
        return [_decode(v, arrays, generators, resolve_handle) for v in node]
    if not isinstance(node, dict):
        return node
    if "__ndarray__" in node:
        return arrays[node["__ndarray__"]]
    if "__npscalar__" in node:
        return arrays[node["__npscalar__"]][()]
    if "__float__" in node:
        return float(node["__float__"])
    if "__frozen__" in node:
        return Frozen(node["__frozen__"])
    if "__bytes__" in node:
        return bytes.fromhex(node["__bytes__"])
    if "__tuple__" in node:
        return tuple(_decode(v, arrays, generators, resolve_handle) for v in node["__tuple__"])
    if "__dict__" in node:
        return {k: _decode(v, arrays, generators, resolve_handle) for k, v in node["__dict__"].items()}
    if "__generator__" in node:
        gen = make_generator(node["bit_generator"], node["state"])
        generators.append(gen)
        return gen
    if "__handle__" in node:
        if resolve_handle is None:
            return Handle(node["__handle__"], node.get("type", "object"))
        return resolve_handle(node["__handle__"], node.get("type", "object"))
    raise ProtocolError(f"unknown node in message: {sorted(node)[:3]}")


_PAYLOAD_KEYS = ("value", "args", "kwargs", "mutated")


def encode(message: dict, handle_of=None, arrays_out=None):
    """``(bytes, generators)``: the wire form of ``message`` and the Generators it carried
    (in order), so the sender can later apply the advanced states that come back.
    ``arrays_out`` (a list) receives the arrays sent, in wire order, so that arrays a call
    changed in place can be written back into the caller's arrays."""
    arrays, generators = [], []
    header = {k: (_encode(v, arrays, generators, handle_of) if k in _PAYLOAD_KEYS else v)
              for k, v in message.items()}
    if arrays_out is not None:
        arrays_out.extend(arrays)
    header["n_arrays"] = len(arrays)
    head = json.dumps(header, allow_nan=True).encode("utf-8")
    parts = [_LEN.pack(len(head)), head]
    for arr in arrays:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
        data = buf.getvalue()
        parts.append(_LEN.pack(len(data)))
        parts.append(data)
    return b"".join(parts), generators


def decode(data: bytes, resolve_handle=None, arrays_out=None):
    """``(message, generators)``: the inverse of :func:`encode`; Generators are rebuilt.
    ``arrays_out`` (a list) receives the decoded arrays in wire order."""
    view = memoryview(data)
    try:
        (n,) = _LEN.unpack_from(view, 0)
        header = json.loads(bytes(view[8:8 + n]).decode("utf-8"))
        pos = 8 + n
        arrays = []
        for _ in range(int(header.pop("n_arrays", 0))):
            (m,) = _LEN.unpack_from(view, pos)
            pos += 8
            if pos + m > len(view):
                raise ProtocolError("truncated array in message")
            arrays.append(np.lib.format.read_array(io.BytesIO(bytes(view[pos:pos + m])), allow_pickle=False))
            pos += m
    except ProtocolError:
        raise
    except Exception as exc:
        raise ProtocolError(f"corrupt message: {type(exc).__name__}: {exc}") from exc
    generators = []
    message = {k: (_decode(v, arrays, generators, resolve_handle) if k in _PAYLOAD_KEYS else v)
               for k, v in header.items()}
    if arrays_out is not None:
        arrays_out.extend(arrays)
    return message, generators


def write_message(fd: int, data: bytes) -> None:
    """Write one framed message (length prefix + payload) to a file descriptor."""
    import os

    payload = _LEN.pack(len(data)) + data
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exactly(fd: int, n: int) -> bytes:
    import os

    chunks, remaining = [], n
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> bytes:
    (n,) = _LEN.unpack(read_exactly(fd, 8))
    if n > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {n} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")
    return read_exactly(fd, n)

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

MAX_MESSAGE_BYTES = 1 << 31          # 2 GiB: a bigger request is treated as hostile (the worker's side)
MAX_HEADER_BYTES = 16 << 20          # the JSON part of a message; arrays carry the bulk
MAX_RNG_ADVANCE = 1 << 48            # a Generator comes back at most this many draws further
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


def _read_npy(view):
    """An array from the ``.npy`` bytes in ``view`` without copying the data (the array is a
    view of the message buffer). No pickles, no object dtypes."""
    head = io.BytesIO(bytes(view[:min(len(view), 16 + MAX_HEADER_BYTES)][:65536 + 16]))
    version = np.lib.format.read_magic(head)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
    else:
        raise ProtocolError(f"unsupported .npy version {version}")
    if dtype.hasobject:
        raise ProtocolError("object arrays cannot cross the grading boundary")
    count = math.prod(shape)
    offset = head.tell()
    if offset + count * dtype.itemsize != len(view):
        raise ProtocolError(f"array data of {len(view) - offset} bytes where {count * dtype.itemsize} were announced")
    arr = np.frombuffer(view, dtype=dtype, count=count, offset=offset)
    return arr.reshape(shape, order="F" if fortran else "C")


def decode(data, resolve_handle=None, arrays_out=None):
    """``(message, generators)``: the inverse of :func:`encode`; Generators are rebuilt.
    ``arrays_out`` (a list) receives the decoded arrays in wire order. Arrays are views of
    ``data`` (writable when ``data`` is a bytearray): decoding adds no copy of the bulk."""
    view = memoryview(data)
    try:
        (n,) = _LEN.unpack_from(view, 0)
        if n > MAX_HEADER_BYTES or 8 + n > len(view):
            raise ProtocolError(f"a message header of {n} bytes (limit {MAX_HEADER_BYTES}, message {len(view)})")
        header = json.loads(bytes(view[8:8 + n]).decode("utf-8"))
        if not isinstance(header, dict):
            raise ProtocolError("the message header is not an object")
        pos = 8 + n
        arrays = []
        count = int(header.pop("n_arrays", 0))
        if count < 0 or count > (len(view) - pos) // 8:
            raise ProtocolError(f"{count} arrays announced")
        for _ in range(count):
            (m,) = _LEN.unpack_from(view, pos)
            pos += 8
            if pos + m > len(view):
                raise ProtocolError("truncated array in message")
            arrays.append(_read_npy(view[pos:pos + m]))
            pos += m
        generators = []
        message = {k: (_decode(v, arrays, generators, resolve_handle) if k in _PAYLOAD_KEYS else v)
                   for k, v in header.items()}
    except ProtocolError:
        raise
    except Exception as exc:
        raise ProtocolError(f"corrupt message: {type(exc).__name__}: {exc}") from exc
    if arrays_out is not None:
        arrays_out.extend(arrays)
    return message, generators


PCG64_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645


def _lcg_distance(start, end, mult, inc, bits=128):
    """Number of steps of ``s → s·mult + inc (mod 2^bits)`` from ``start`` to ``end``
    (Brown's algorithm, as in pcg-cpp's ``distance``)."""
    mask = (1 << bits) - 1
    the_bit, distance = 1, 0
    start, end = start & mask, end & mask
    while start != end:
        if (start & the_bit) != (end & the_bit):
            start = (start * mult + inc) & mask
            distance |= the_bit
        the_bit <<= 1
        inc = ((mult + 1) * inc) & mask
        mult = (mult * mult) & mask
        if the_bit > mask:
            return None
    return distance


def _pcg64_output(state):
    """PCG64's XSL-RR output for the 128-bit ``state`` (what the draw that reached it returned)."""
    m64 = (1 << 64) - 1
    x = ((state >> 64) ^ state) & m64
    rot = state >> 122
    return ((x >> rot) | (x << ((-rot) & 63))) & m64


def check_advanced_state(gen, state):
    """None if ``state`` (as returned by the worker) is ``gen``'s state advanced by some
    number of draws, else why not: the worker may not hand the grader a generator state it
    chose (it would choose the grader's next "random" numbers). Exact for PCG64; other bit
    generators must keep their type."""
    try:
        new = _restore_state(state)
        old = gen.bit_generator.state
        if not isinstance(new, dict) or new.get("bit_generator") != old["bit_generator"]:
            return "the random generator came back as a different kind of generator"
        if old["bit_generator"] != "PCG64":
            return None
        if new["state"]["inc"] != old["state"]["inc"]:
            return "the random generator came back with a different stream (inc changed)"
        steps = _lcg_distance(int(old["state"]["state"]), int(new["state"]["state"]), PCG64_MULTIPLIER,
                              int(old["state"]["inc"]))
        if steps is None or steps > MAX_RNG_ADVANCE:
            return ("the random generator came back in a state that no sequence of draws reaches "
                    "(only draw from it; never set its state)")
        if int(new.get("has_uint32", 0)) not in (0, 1) or (
                new.get("has_uint32") and int(new.get("uinteger", -1)) != _pcg64_output(int(new["state"]["state"])) >> 32):
            return "the random generator came back in an invalid state (a forged buffered 32-bit draw)"
    except (KeyError, TypeError, ValueError, AttributeError):
        return "the random generator came back in an invalid state"
    return None


def write_message(fd: int, data: bytes) -> None:
    """Write one framed message (length prefix + payload) to a file descriptor."""
    import os

    payload = _LEN.pack(len(data)) + data
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exactly(fd: int, n: int) -> bytearray:
    """``n`` bytes from ``fd`` into one buffer (a bytearray, so decoded arrays are writable)."""
    import os

    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:got + (1 << 22)]])
        if not k:
            raise EOFError("the other side closed the channel")
        got += k
    return buf


def read_message(fd: int) -> bytes:
    (n,) = _LEN.unpack(read_exactly(fd, 8))
    if n > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {n} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")
    return read_exactly(fd, n)

"""minidl.save / minidl.load: state dicts and nested containers of arrays in one ``.npz``::

    minidl.save(model.state_dict(), "model.npz")
    model.load_state_dict(minidl.load("model.npz"))
    minidl.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 7}, "ckpt.npz")

Format: a standard NumPy ``.npz`` (zip) archive. Every ndarray is one member, named by its
path in the structure (``"0.weight"`` for a state dict, ``"optim/state/0/momentum_buffer"``
for nested data), so ``numpy.load`` can read the arrays too. The member ``__minidl__``
holds a small JSON manifest (as uint8 bytes) describing the structure: dicts (their key types
and order), lists, tuples, Python scalars and which member each array is.

Safety: pickle is never used, for writing or reading (``numpy.load(allow_pickle=False)``),
so loading a file cannot run code; object arrays are refused. Loading reads each member's
.npy header first and refuses, with a ValueError, a file whose arrays declare more than
``max_bytes`` in total (default 512 MiB: a 300-byte file declaring a 2^40-element array, or
a 1 MB deflate "bomb" that expands to 1 GiB, is rejected before anything is allocated) or
whose structure nests deeper than 100 levels. Writes are atomic: the archive
goes to a temporary file in the destination folder, is flushed to disk, and then
``os.replace`` renames it over ``path`` — a crash mid-write leaves the old file intact and
no partial file behind.
"""
import json
import os
import secrets
import zipfile
from collections import OrderedDict

import numpy as np

_MANIFEST = "__minidl__"
_FORMAT = "minidl"
_VERSION = 1
_SCALARS = (bool, int, float, str, type(None))
MAX_DEPTH = 100                   # nesting levels of dicts/lists/tuples, in save and load
MAX_BYTES = 512 * 2**20           # load()'s default limit on the arrays' declared total size


class _Flattener:
    """Walk a nested structure; collect arrays in ``self.arrays``, return the JSON tree."""

    def __init__(self):
        self.arrays = {}

    def _member(self, path, array):
        name = path or "array"
        base, n = name, 1
        while name in self.arrays or name == _MANIFEST:
            n += 1
            name = f"{base}#{n}"
        self.arrays[name] = array
        return name

    def node(self, obj, path, depth=0):
        where = path or "<top level>"
        if depth > MAX_DEPTH:
            raise ValueError(f"minidl.save: {where} is nested deeper than {MAX_DEPTH} levels")
        if isinstance(obj, np.ndarray) or isinstance(obj, np.generic):
            array = np.asarray(obj)
            if array.dtype.hasobject:
                raise TypeError(f"minidl.save: {where} is an object array, which can only be stored "
                                f"with pickle; minidl files never use pickle")
            kind = "array" if isinstance(obj, np.ndarray) else "scalar"
            return {kind: self._member(path, np.array(array, order="C"))}
        if isinstance(obj, _SCALARS):
            return {"value": obj}
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if isinstance(key, np.integer):
                    key = int(key)
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise TypeError(f"minidl.save: dict keys must be str or int, got {key!r} "
                                    f"({type(key).__name__}) in {where}")
                items.append([key, self.node(value, f"{path}/{key}" if path else str(key), depth + 1)])
            return {"odict" if isinstance(obj, OrderedDict) else "dict": items}
        if isinstance(obj, (list, tuple)):
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {kind: [self.node(v, f"{path}/{i}" if path else str(i), depth + 1) for i, v in enumerate(obj)]}
        hint = (" (save its state_dict(): minidl.save(model.state_dict(), path))"
                if hasattr(obj, "state_dict") else "")
        raise TypeError(f"minidl.save: cannot store {type(obj).__name__} at {where}; minidl files hold "
                        f"ndarrays, numbers, strings, None and dicts/lists/tuples of them{hint}")


def save(obj, path, compress=False):
    """Write ``obj`` (a state dict, or nested dicts/lists/tuples of ndarrays and Python
    scalars) to ``path`` as an ``.npz`` archive, atomically. The file name is used as given
    (no ``.npz`` is appended). ``compress=True`` uses zip deflate (smaller, slower)."""
    path = os.fspath(path)
    flat = _Flattener()
    tree = flat.node(obj, "")
    manifest = json.dumps({"format": _FORMAT, "version": _VERSION, "tree": tree}, allow_nan=True)
    members = dict(flat.arrays)
    members[_MANIFEST] = np.frombuffer(manifest.encode("utf-8"), dtype=np.uint8)

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"minidl.save: folder {folder!r} for {path!r} does not exist")
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # os.open with mode 0o666 lets the umask decide permissions, as a plain open() would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, **members)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class _Rebuilder:
    def __init__(self, arrays, path):
        self.arrays, self.path = arrays, path

    def node(self, node, depth=0):
        if depth > MAX_DEPTH:
            raise ValueError(f"the structure is nested deeper than {MAX_DEPTH} levels")
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError(f"bad manifest entry {str(node)[:80]}")
        (kind, body), = node.items()
        if kind == "array":
            return self.arrays[body]
        if kind == "scalar":
            return self.arrays[body][()]
        if kind == "value":
            return body
        if kind in ("dict", "odict"):
            pairs = [(key, self.node(value, depth + 1)) for key, value in body]
            return OrderedDict(pairs) if kind == "odict" else dict(pairs)
        if kind == "list":
            return [self.node(v, depth + 1) for v in body]
        if kind == "tuple":
            return tuple(self.node(v, depth + 1) for v in body)
        raise ValueError(f"unknown manifest entry kind {kind!r}")


def _declared_bytes(path):
    """The total size the archive's .npy members declare in their headers (nothing else is
    read): what loading them would allocate."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename!r} is not an .npy array")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(member)
            if dtype.hasobject:
                raise ValueError(f"member {info.filename!r} is an object array (needs pickle)")
            count = 1
            for size in shape:
                count *= int(size)
            total += count * dtype.itemsize
    return total


def load(path, max_bytes=MAX_BYTES):
    """Read what :func:`save` wrote: the same structure, arrays as ndarrays (same dtype and
    shape), dicts in their original order (an ``OrderedDict`` stays one).

    Raises FileNotFoundError if ``path`` does not exist and ValueError naming ``path`` if it
    is not a readable minidl file (corrupt, truncated, a plain ``.npz`` or pickle), if its
    arrays declare more than ``max_bytes`` bytes in total (checked before any is read: raise
    the limit for larger checkpoints), or if its structure nests deeper than 100 levels.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"minidl.load: no such file {path!r}")
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                raise ValueError("not an .npz (zip) archive")
        declared = _declared_bytes(path)
        if declared > max_bytes:
            raise ValueError(f"its arrays declare {declared:,} bytes, more than max_bytes={max_bytes:,}")
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not a minidl .npz archive")
            if _MANIFEST not in archive.files:
                raise ValueError("no minidl manifest (a plain .npz? read it with numpy.load)")
            # Read every member now, inside the try: a truncated or corrupt member raises here.
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop(_MANIFEST).tobytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ValueError("manifest is not a minidl manifest")
        if meta.get("version") != _VERSION:
            raise ValueError(f"format version {meta.get('version')!r}, this minidl reads version {_VERSION}")
        return _Rebuilder(arrays, path).node(meta["tree"])
    except RecursionError:
        raise ValueError(f"minidl.load: {path!r} is not a readable minidl file: its manifest is nested "
                         f"deeper than {MAX_DEPTH} levels") from None
    except (ValueError, KeyError, TypeError, OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError,
            MemoryError) as exc:
        raise ValueError(f"minidl.load: {path!r} is not a readable minidl file "
                         f"(corrupt, truncated or not written by minidl.save): {exc}") from exc

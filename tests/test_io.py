import io
import json
import os
import pickle
import struct
import tracemalloc
import zipfile
import zlib
from collections import OrderedDict

import numpy as np
import pytest

import minidl
from minidl.nn import Module, Parameter, Sequential


class TinyLinear(Module):
    """A Linear-like module (weight (out, in), bias (out,)) so the test needs no other layer."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = Parameter(np.arange(out_features * in_features, dtype=np.float32)
                                .reshape(out_features, in_features))
        self.bias = Parameter(np.zeros(out_features, dtype=np.float32))
        self.register_buffer("steps", np.array(3, dtype=np.int64))


def _assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_state_dict_round_trip(tmp_path):
    model = Sequential(TinyLinear(3, 4), TinyLinear(4, 2))
    state = model.state_dict()
    path = tmp_path / "model.npz"
    minidl.save(state, path)
    loaded = minidl.load(path)
    _assert_same(state, loaded)  # an OrderedDict comes back as one, keys in order
    assert list(loaded) == ["0.weight", "0.bias", "0.steps", "1.weight", "1.bias", "1.steps"]
    # the archive is a plain npz: numpy can read the arrays under their state_dict names
    with np.load(path, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["0.weight"], state["0.weight"])
    other = Sequential(TinyLinear(3, 4), TinyLinear(4, 2))
    for p in other.parameters():
        p.data[...] = -1
    other.load_state_dict(minidl.load(str(path)))
    for (_, p), (_, q) in zip(model.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_nested_optimizer_like_state_round_trip(tmp_path):
    obj = {
        "model": OrderedDict([("weight", np.ones((2, 3), np.float32)), ("bias", np.zeros(2))]),
        "optimizer": {
            "state": {0: {"momentum_buffer": np.arange(6.0).reshape(2, 3), "step": 4},
                      1: {"momentum_buffer": None}},
            "param_groups": [{"lr": 0.1, "momentum": 0.9, "nesterov": False, "params": [0, 1],
                              "name": "default"}],
        },
        "epoch": 7,
        "best": float("nan"),
        "history": (1.5, np.float32(2.5), np.int64(3), np.array(4.0), np.empty((0, 5))),
        "flags": [True, None, "x"],
        "big": 2**70,
    }
    path = tmp_path / "ckpt.npz"
    minidl.save(obj, path, compress=True)
    _assert_same(obj, minidl.load(path))


def test_key_collisions_do_not_lose_arrays(tmp_path):
    obj = {"a/b": np.ones(2), "a": {"b": np.zeros(2)}, "__minidl__": np.full(2, 5.0)}
    minidl.save(obj, tmp_path / "c.npz")
    _assert_same(obj, minidl.load(tmp_path / "c.npz"))


def test_top_level_array_and_exact_file_name(tmp_path):
    path = tmp_path / "weights.bin"  # no .npz appended behind the user's back
    minidl.save(np.arange(5), path)
    assert os.listdir(tmp_path) == ["weights.bin"]
    np.testing.assert_array_equal(minidl.load(path), np.arange(5))


def test_shape_mismatch_is_rejected_by_load_state_dict(tmp_path):
    minidl.save(TinyLinear(3, 4).state_dict(), tmp_path / "small.npz")
    wider = TinyLinear(5, 4)
    before = wider.weight.data.copy()
    with pytest.raises(ValueError, match=r"weight: expected shape \(4, 5\), got \(4, 3\)"):
        wider.load_state_dict(minidl.load(tmp_path / "small.npz"))
    np.testing.assert_array_equal(wider.weight.data, before)  # nothing half-loaded


def test_object_arrays_and_unknown_types_are_refused(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match="pickle"):
        minidl.save({"w": np.array([{"a": 1}], dtype=object)}, path)
    with pytest.raises(TypeError, match=r"state_dict\(\)"):
        minidl.save(TinyLinear(2, 2), path)
    with pytest.raises(TypeError, match="dict keys"):
        minidl.save({(1, 2): np.ones(1)}, path)
    with pytest.raises(TypeError, match="set"):
        minidl.save({"s": {1, 2}}, path)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_pickle_is_never_used(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("dump", "dumps", "load", "loads", "Pickler", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    obj = {"w": np.ones((2, 2)), "state": {0: {"step": 1, "buf": np.zeros(3)}}, "lr": [0.1, 0.01]}
    minidl.save(obj, tmp_path / "p.npz")
    _assert_same(obj, minidl.load(tmp_path / "p.npz"))


def test_file_with_object_member_is_rejected_on_load(tmp_path):
    path = tmp_path / "evil.npz"
    manifest = np.frombuffer(b'{"format": "minidl", "version": 1, "tree": {"array": "x"}}', np.uint8)
    np.savez(path, x=np.array([print], dtype=object), __minidl__=manifest)  # needs pickle to read
    with pytest.raises(ValueError, match="evil.npz"):
        minidl.load(path)


def test_failed_write_leaves_old_file_and_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    minidl.save({"w": np.ones(3)}, path)

    def crash_midway(file, **arrays):
        file.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        minidl.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]  # temp file removed
    np.testing.assert_array_equal(minidl.load(path)["w"], np.ones(3))  # old content intact


def test_missing_folder_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        minidl.save({"w": np.ones(1)}, tmp_path / "nope" / "m.npz")
    with pytest.raises(FileNotFoundError, match="m.npz"):
        minidl.load(tmp_path / "m.npz")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip_bytes", "plain_npz", "npy", "pickle"])
def test_corrupt_or_foreign_files_raise_value_error_naming_the_path(tmp_path, damage):
    path = tmp_path / "bad.npz"
    minidl.save({"w": np.arange(1000.0), "b": np.ones(10)}, path)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"this is not an archive")
    elif damage == "flip_bytes":  # corrupt array payload: zip CRC check fails
        middle = len(raw) // 3
        path.write_bytes(raw[:middle] + bytes(b ^ 0xFF for b in raw[middle:middle + 64]) + raw[middle + 64:])
    elif damage == "plain_npz":
        with open(path, "wb") as f:
            np.savez(f, w=np.ones(3))
    elif damage == "npy":
        with open(path, "wb") as f:
            np.save(f, np.ones(3))
    elif damage == "pickle":
        path.write_bytes(pickle.dumps({"w": np.ones(3)}))
    with pytest.raises(ValueError, match=r"minidl\.load: .*bad\.npz"):
        minidl.load(path)


def test_zip_member_list_is_arrays_plus_manifest(tmp_path):
    minidl.save({"a": np.ones(2), "n": 3}, tmp_path / "z.npz")
    with zipfile.ZipFile(tmp_path / "z.npz") as z:
        assert sorted(z.namelist()) == ["__minidl__.npy", "a.npy"]


def test_numpy_integer_keys_become_int(tmp_path):
    minidl.save({np.int64(0): {"step": np.int64(2)}}, tmp_path / "k.npz")
    loaded = minidl.load(tmp_path / "k.npz")
    assert list(loaded) == [0] and type(list(loaded)[0]) is int
    assert loaded[0]["step"] == 2 and loaded[0]["step"].dtype == np.int64


# -- malformed files: every one is a ValueError, decided before anything large is allocated ----
def _minidl_zip(path, members, compression=zipfile.ZIP_STORED):
    """A zip holding the given raw ``name -> bytes`` members (names without .npy)."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name + ".npy", data)


def _npy_header(shape, dtype):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


def _manifest(tree):
    text = json.dumps({"format": "minidl", "version": 1, "tree": tree}).encode()
    return _npy_header((len(text),), np.uint8) + text


def test_a_deeply_nested_manifest_is_a_value_error(tmp_path):
    for depth in (150, 100_000):        # deeper than the limit; deeper than Python's recursion limit
        tree = '{"list": [' * depth + '{"value": 1}' + "]}" * depth
        text = ('{"format": "minidl", "version": 1, "tree": ' + tree + "}").encode()
        path = tmp_path / f"deep{depth}.npz"
        _minidl_zip(path, {"__minidl__": _npy_header((len(text),), np.uint8) + text})
        with pytest.raises(ValueError, match="nested deeper than 100 levels"):
            minidl.load(path)
    nested = 1
    for _ in range(101):
        nested = [nested]
    with pytest.raises(ValueError, match="nested deeper than 100 levels"):
        minidl.save(nested, tmp_path / "too_deep.npz")
    fine = 1
    for _ in range(100):
        fine = [fine]
    minidl.save(fine, tmp_path / "deep_but_fine.npz")
    assert minidl.load(tmp_path / "deep_but_fine.npz") == fine


def test_a_tiny_file_declaring_a_huge_array_is_a_value_error(tmp_path):
    path = tmp_path / "huge.npz"
    _minidl_zip(path, {"x": _npy_header((2**40,), np.float32), "__minidl__": _manifest({"array": "x"})},
                zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 512                              # a few hundred bytes
    with pytest.raises(ValueError, match=r"declare 4,398,046,511,\d{3} bytes, more than max_bytes"):
        minidl.load(path)


def _deflate_bomb(path, total=2**30, chunk=16 * 2**20):
    """A zip whose one member inflates to an .npy of ``total`` zero bytes: deflate blocks
    ended by a full flush do not depend on earlier data, so one compressed chunk is repeated."""
    header = _npy_header((total // 4,), np.float32)
    pieces = []
    for data in (header, bytes(chunk)):
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        pieces.append(z.compress(data) + z.flush(zlib.Z_FULL_FLUSH))
    stream = pieces[0] + pieces[1] * (total // chunk) + b"\x03\x00"   # + an empty final block
    crc = zlib.crc32(header)
    zeros = bytes(chunk)
    for _ in range(total // chunk):
        crc = zlib.crc32(zeros, crc)
    assert zlib.decompressobj(-15).decompress(stream[:4096], 100) == header[:100]
    name, size = b"bomb.npy", len(header) + total
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(stream), size, len(name), 0)
    manifest = _manifest({"array": "bomb"})
    with open(path, "wb") as f:
        f.write(local + name + stream)
        central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(stream), size,
                              len(name), 0, 0, 0, 0, 0, 0) + name
        offset_manifest = f.tell()
        mname = b"__minidl__.npy"
        mcrc = zlib.crc32(manifest)
        f.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, mcrc, len(manifest), len(manifest),
                            len(mname), 0) + mname + manifest)
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, mcrc, len(manifest),
                               len(manifest), len(mname), 0, 0, 0, 0, 0, offset_manifest) + mname
        start = f.tell()
        f.write(central)
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 2, 2, len(central), start, 0))


def test_a_deflate_bomb_is_a_value_error_before_it_is_inflated(tmp_path):
    path = tmp_path / "bomb.npz"
    _deflate_bomb(path)
    assert path.stat().st_size < 1.1 * 2**20                      # ~1 MB on disk
    with zipfile.ZipFile(path) as archive:                          # a valid archive: 1 GiB inside
        assert archive.getinfo("bomb.npy").file_size > 2**30
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"declare 1,073,741,\d+ bytes, more than max_bytes"):
            minidl.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20
    # with the limit raised, the same file loads: the limit is what stopped it
    small = tmp_path / "small_bomb.npz"
    _deflate_bomb(small, total=2**20, chunk=2**16)
    assert minidl.load(small, max_bytes=2**21).shape == (2**18,)
    with pytest.raises(ValueError, match="max_bytes"):
        minidl.load(small, max_bytes=2**19)

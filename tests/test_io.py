import os
import pickle
import zipfile
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

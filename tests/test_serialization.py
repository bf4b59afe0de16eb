"""tg.save / tg.load: bitwise roundtrips, atomic writes, and refusal of anything that is not a
complete .npz of plain arrays (missing, truncated, corrupted, foreign or pickled)."""
from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor, nn


def _sample_state():
    rng = np.random.default_rng(5)
    weird = np.array([np.nan, -0.0, np.inf, -np.inf, 5e-324, 1.0])  # NaN, signed zero, subnormal
    return {
        "0.weight": rng.standard_normal((3, 2)),
        "0.bias": rng.standard_normal(3).astype(np.float32),
        "scalar": np.array(2.5),
        "weird": weird,
        "counts": np.arange(6, dtype=np.int32).reshape(2, 3),
        "mask": np.array([True, False]),
        "fortran": np.asfortranarray(rng.standard_normal((2, 3))),
        "empty": np.zeros((0, 4)),
    }


def _bits_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_roundtrip_is_bitwise_and_keeps_order(tmp_path):
    state = _sample_state()
    path = tmp_path / "state.npz"
    tg.save(state, path)
    loaded = tg.load(path)
    assert list(loaded) == list(state)
    for key, value in state.items():
        assert type(loaded[key]) is np.ndarray
        assert _bits_equal(loaded[key], value), key
    assert os.listdir(tmp_path) == ["state.npz"]  # no temporary file left behind


def test_file_is_a_plain_npz_that_numpy_reads_without_pickle(tmp_path):
    state = _sample_state()
    tg.save(state, str(tmp_path / "plain.npz"))
    with np.load(tmp_path / "plain.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(state)
        assert _bits_equal(npz["weird"], state["weird"])
    np.savez(tmp_path / "by_numpy.npz", a=np.ones(2), b=np.eye(2, dtype=np.float32))
    loaded = tg.load(tmp_path / "by_numpy.npz")
    assert _bits_equal(loaded["b"], np.eye(2, dtype=np.float32))


def test_model_roundtrip_through_a_file_gives_the_same_outputs(tmp_path):
    model = nn.Sequential(nn.Linear(2, 5, rng=0), nn.Tanh(), nn.Linear(5, 1, rng=1))
    x = np.random.default_rng(0).standard_normal((4, 2))
    tg.save(model.state_dict(), tmp_path / "model.npz")
    fresh = nn.Sequential(nn.Linear(2, 5, rng=9), nn.Tanh(), nn.Linear(5, 1, rng=9))
    fresh.load_state_dict(tg.load(tmp_path / "model.npz"))
    np.testing.assert_array_equal(fresh(x).data, model(x).data)


def test_tensors_are_saved_by_value_and_path_is_used_as_given(tmp_path):
    path = tmp_path / "no_suffix"
    tg.save({"t": Tensor([1.0, 2.0], requires_grad=True)}, path)
    assert path.exists() and not (tmp_path / "no_suffix.npz").exists()
    assert _bits_equal(tg.load(path)["t"], np.array([1.0, 2.0]))


def test_overwriting_replaces_the_file(tmp_path):
    path = tmp_path / "s.npz"
    tg.save({"a": np.ones(2)}, path)
    tg.save({"b": np.zeros(3)}, path)
    assert list(tg.load(path)) == ["b"]


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "keep.npz"
    tg.save({"a": np.arange(3.0)}, path)
    original = path.read_bytes()
    calls = []
    real_write = np.lib.format.write_array

    def failing_write(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first array is already in the temporary file
            raise OSError("disk full (simulated)")
        return real_write(fp, array, *args, **kwargs)
    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    with pytest.raises(OSError, match="disk full"):
        tg.save({"x": np.ones(1000), "y": np.ones(1000)}, path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["keep.npz"]


@pytest.mark.parametrize("state, error, words", [
    ({"obj": np.array([{}, 1], dtype=object)}, TypeError, ["obj", "object"]),
    ({"s": np.array(["a", "b"])}, TypeError, ["'s'"]),
    ({"": np.ones(1)}, ValueError, ["''"]),
    ({"a/b": np.ones(1)}, ValueError, ["a/b"]),
    ({3: np.ones(1)}, ValueError, ["3"]),
    ([("a", np.ones(1))], TypeError, ["dict"]),
])
def test_save_refuses_bad_state_and_writes_nothing(tmp_path, state, error, words):
    with pytest.raises(error) as info:
        tg.save(state, tmp_path / "bad.npz")
    for word in words:
        assert word in str(info.value)
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        tg.save({"a": np.ones(1)}, tmp_path / "nowhere" / "s.npz")


def test_load_missing_file_or_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        tg.load(tmp_path / "absent.npz")
    with pytest.raises(IsADirectoryError, match="folder"):
        tg.load(tmp_path)


def _saved_bytes(tmp_path):
    path = tmp_path / "good.npz"
    tg.save(_sample_state(), path)
    return path.read_bytes()


def test_every_truncation_is_refused_naming_the_file(tmp_path):
    data = _saved_bytes(tmp_path)
    cut = tmp_path / "cut.npz"
    lengths = sorted(set(range(0, len(data), max(1, len(data) // 60))) | {len(data) - 1, 1, 3})
    for n in lengths:
        cut.write_bytes(data[:n])
        with pytest.raises(ValueError, match="cut.npz"):
            tg.load(cut)


def test_flipped_bytes_in_array_data_are_refused(tmp_path):
    marker = np.float64(np.e).tobytes()  # a value placed in the file so we can find its data
    path = tmp_path / "target.npz"
    tg.save({"a": np.full(8, np.e)}, path)
    data = bytearray(path.read_bytes())
    where = bytes(data).index(marker)
    data[where + 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="target.npz"):
        tg.load(path)


def test_any_flipped_byte_is_refused_or_harmless(tmp_path):
    """Every single-byte corruption of a saved file (three flip patterns at every offset) either
    raises ValueError naming the file or loads exactly what was saved: never part of it (a
    damaged length in the zip directory once made zipfile list fewer members, silently)."""
    state = {"0.weight": np.arange(6.0).reshape(2, 3), "0.bias": np.ones(2, np.float32),
             "2.weight": np.full((1, 2), np.pi), "2.bias": np.zeros(1)}
    path = tmp_path / "flip.npz"
    tg.save(state, path)
    data = path.read_bytes()
    refused = 0
    for offset in range(len(data)):
        for pattern in (0xFF, 0x01, 0x80):
            damaged = bytearray(data)
            damaged[offset] ^= pattern
            path.write_bytes(bytes(damaged))
            try:
                loaded = tg.load(path)
            except ValueError as exc:
                assert "flip.npz" in str(exc)
                refused += 1
                continue
            assert list(loaded) == list(state), (offset, pattern)
            for key, value in state.items():
                assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
                np.testing.assert_array_equal(loaded[key], value)
    assert refused > len(data)  # most bytes matter: the check is not vacuous


@pytest.mark.parametrize("kind", ["text", "npy", "pickle", "zip_of_text", "pickled_npz",
                                  "png_header", "duplicate_member"])
def test_foreign_files_are_refused_naming_the_file(tmp_path, kind):
    path = tmp_path / f"foreign_{kind}.npz"
    if kind == "text":
        path.write_text("weight,bias\n1,2\n")
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.ones(3))
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"a": np.ones(2)}))
    elif kind == "zip_of_text":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "hello")
    elif kind == "duplicate_member":
        with zipfile.ZipFile(path, "w") as z, pytest.warns(UserWarning, match="Duplicate"):
            for value in (1.0, 2.0):
                with z.open("a.npy", "w") as member:
                    np.lib.format.write_array(member, np.array([value]))
    elif kind == "pickled_npz":
        with open(path, "wb") as f:
            np.savez(f, objects=np.array([{"x": 1}, None], dtype=object))
    else:
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(ValueError) as info:
        tg.load(path)
    assert path.name in str(info.value)

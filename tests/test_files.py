"""Files are written whole or not at all, with the permissions open() gives, by tg.save, the ONNX
export and the graph command; damaged files and bad arguments get errors naming them; what
cannot run (no Graphviz) writes nothing."""
from __future__ import annotations

import io
import os
import stat
import zipfile

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import cli, files


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _graph_args(path) -> list[str]:
    return ["graph", "--format", "dot", "--out", str(path)]


def _save(path) -> None:
    tg.save({"w": np.arange(3.0)}, path)


def _export(path) -> None:
    pytest.importorskip("onnx")
    tg.onnx.export(lambda t: t * 2.0, (np.ones(2),), path)


def _graph(path) -> None:
    assert cli.main(_graph_args(path)) == 0


WRITERS = [_save, _export, _graph]


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.parametrize("write", WRITERS, ids=["save", "onnx.export", "graph command"])
def test_a_new_file_gets_open_s_permissions_and_an_old_one_keeps_its_own(write, tmp_path,
                                                                          umask_022):
    path = tmp_path / "out.bin"
    write(path)
    assert _mode(path) == 0o644
    os.chmod(path, 0o640)
    write(path)
    assert _mode(path) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temporary left


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "kept.txt"
    path.write_bytes(b"old")

    def half(handle) -> None:
        handle.write(b"new, half")
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        files.write_atomically(path, half, "test")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]


def test_the_graph_command_failing_midway_leaves_the_old_file(tmp_path, monkeypatch, capsys):
    path = tmp_path / "graph.dot"
    path.write_text("digraph old {}")

    def failing(handle_path, write, what):
        return original(handle_path, lambda handle: (handle.write(b"digraph half"),
                                                     (_ for _ in ()).throw(OSError("full"))),
                        what)
    original = files.write_atomically
    from tinygrad_mv.commands import graph as graph_command
    monkeypatch.setattr(graph_command, "write_atomically", failing)
    assert cli.main(_graph_args(path)) != 0
    assert "full" in capsys.readouterr().err
    assert path.read_text() == "digraph old {}"
    assert [p.name for p in tmp_path.iterdir()] == ["graph.dot"]


@pytest.mark.parametrize("write", [_save, _export], ids=["save", "onnx.export"])
def test_a_folder_or_an_empty_path_is_named_as_such(write, tmp_path):
    with pytest.raises(IsADirectoryError, match=f"cannot write '{tmp_path}': it is a folder"):
        write(tmp_path)
    with pytest.raises(ValueError, match="the path is empty"):
        write("")
    assert list(tmp_path.iterdir()) == []


def test_load_refuses_a_header_declaring_more_data_than_the_member_holds(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 11,)})
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", header.getvalue() + bytes(16))
    with pytest.raises(ValueError, match=r"forged\.npz.*declares shape \(100000000000,\) of "
                                         r"float64 \(800000000000 bytes\) but holds 16 bytes"):
        tg.load(path)


def test_save_refuses_a_key_that_load_could_not_read_back(tmp_path):
    with pytest.raises(ValueError, match="NUL"):
        tg.save({"a\x00b": np.ones(2)}, tmp_path / "k.npz")
    assert list(tmp_path.iterdir()) == []


def test_rendering_without_graphviz_writes_nothing(tmp_path, monkeypatch):
    from tinygrad_mv.viz import render
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    picture = tg.draw_graph((x * x).sum())
    for target in (tmp_path / "g.svg", tmp_path / "new_folder" / "g"):
        with pytest.raises(tg.viz.GraphvizNotInstalled, match="'dot' was not found"):
            picture.render(str(target), format="svg")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, message", [
    (["gradcheck", "--atol", "nan"], "argument --atol: must be a finite number >= 0"),
    (["gradcheck", "--atol", "-1", "--rtol", "-1"], "argument --atol: must be a finite number"),
    (["gradcheck", "--eps", "0"], "argument --eps: must be a finite number > 0"),
    (["graph", "--format", "text", "--max-nodes", "-5"], "argument --max-nodes: must be at "
                                                         "least 1, got -5"),
    (["gaussian", "--bin-width", "1e-9"], "more than 1,000,000 bins"),
])
def test_arguments_that_would_check_nothing_or_never_finish_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) if argv[0] != "gaussian" else _no_exit():
        code = cli.main(argv)
        assert code == 2
    assert message in capsys.readouterr().err


class _no_exit:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


@pytest.mark.parametrize("atol, rtol", [(-1.0, -1.0), (float("nan"), 1e-3), (1e-5, -0.5)])
def test_gradcheck_refuses_tolerances_that_pass_everything(atol, rtol):
    wrong = tg.primitive("wrong_slope", np.sin, lambda g, out, x: g * 10.0)
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        tg.gradcheck(wrong, (tg.Tensor([0.3], requires_grad=True),), atol=atol, rtol=rtol)
    assert not tg.gradcheck(wrong, (tg.Tensor([0.3], requires_grad=True),),
                            raise_exception=False)


def test_graph_text_refuses_a_max_nodes_below_one():
    x = tg.Tensor([1.0], requires_grad=True)
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="graph_text: max_nodes must be a positive int"):
            tg.graph_text(x * 2, max_nodes=bad)


def test_save_names_the_key_of_ragged_data_and_load_refuses_strings(tmp_path):
    path = tmp_path / "s.npz"
    with pytest.raises(ValueError, match="tg.save: 'w' is not a rectangular array"):
        tg.save({"w": [[1.0, 2.0], [3.0]]}, path)
    assert not path.exists()
    np.savez(path, a=np.array(["x", "y"]))
    with pytest.raises(ValueError, match=r"s\.npz.*member 'a\.npy' holds <U1 values, not numbers"):
        tg.load(path)


def test_bench_out_naming_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("x")
    assert cli.main(["bench", "--quick", "--out", str(target)]) != 0
    assert "exists and is not a folder" in capsys.readouterr().err
    assert target.read_text() == "x"


def test_a_symlink_is_followed_and_kept(tmp_path):
    real = tmp_path / "real.npz"
    _save(real)
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    tg.save({"v": np.ones(2)}, link)
    assert link.is_symlink() and list(tg.load(real)) == ["v"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.npz", "real.npz"]


def _written_through_a_pipe(pipe, path, data: bytes) -> list[bytes]:
    """Write ``data`` to ``path`` (the pipe, or a link to it) and return what a reader got."""
    import threading
    received: list[bytes] = []
    # (a daemon: a writer that replaced the pipe would leave it waiting for one forever)
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    files.write_atomically(path, lambda handle: handle.write(data), "test")
    reader.join(timeout=10)
    return received


def test_a_pipe_is_written_in_place(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    assert _written_through_a_pipe(pipe, pipe, b"through the pipe") == [b"through the pipe"]
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)


def test_long_names_and_folder_names(tmp_path):
    long_name = tmp_path / ("b" * 250 + ".npz")
    _save(long_name)
    assert list(tg.load(long_name)) == ["w"]
    with pytest.raises(IsADirectoryError, match="it names a folder"):
        tg.save({"w": np.ones(1)}, str(tmp_path / "sub") + os.sep)
    assert [p.name for p in tmp_path.iterdir()] == [long_name.name]


def test_a_link_to_a_pipe_is_written_in_place_and_a_loop_of_links_refused(tmp_path):
    import errno
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    link = tmp_path / "out"  # as /dev/stdout is a link to a pipe under a shell's `| head`
    link.symlink_to(pipe)
    assert _written_through_a_pipe(pipe, link, b"via the link") == [b"via the link"]
    assert link.is_symlink()
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OSError) as info:
        tg.save({"w": np.ones(1)}, tmp_path / "a")
    assert info.value.errno == errno.ELOOP and (tmp_path / "a").is_symlink()


def test_a_long_name_of_multibyte_characters(tmp_path):
    path = tmp_path / ("\N{GRINNING FACE}" * 60 + ".npz")
    _save(path)
    assert list(tg.load(path)) == ["w"]


@pytest.mark.parametrize("name, error, message", [
    ("a/.", IsADirectoryError, "it names a folder"),
    ("nope/../f.bin", FileNotFoundError, "folder 'nope/..' does not exist"),
    ("dangling_to_folder", IsADirectoryError, "it names a folder"),
    ("dangling_to_missing_folder", FileNotFoundError, "does not exist"),
])
def test_a_new_path_is_refused_where_open_would_refuse_it(name, error, message, tmp_path,
                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.symlink("newdir/", "dangling_to_folder")
    os.symlink("sub/missing", "dangling_to_missing_folder")
    before = sorted(os.listdir("."))
    with pytest.raises(error, match=message):
        files.write_atomically(name, lambda handle: handle.write(b"x"), "test")
    assert sorted(os.listdir(".")) == before


def test_a_link_to_no_file_yet_creates_the_file_it_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.symlink("created.npz", "link.npz")
    tg.save({"w": np.ones(2)}, "link.npz")
    assert os.path.islink("link.npz") and list(tg.load("created.npz")) == ["w"]

"""The curve, gaussian and demo commands: each runs on small settings and writes the files it
promises; bad input gives a one-line error; without matplotlib they still train and say how to get
the plots."""
import sys

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import cli
from tinygrad_mv.apps._common import PLOT_HINT, progress_bar

PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def _run(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_png(path):
    assert path.read_bytes()[:8] == PNG_HEADER, path


def _written(out):
    return [line.split("wrote ", 1)[1] for line in out.splitlines() if line.startswith("wrote ")]


@pytest.fixture
def no_matplotlib(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError


def test_curve_command_writes_figure_costs_and_weights(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code, out, err = _run(capsys, "curve", "--steps", "40", "--points", "30", "--out",
                          str(tmp_path), "--quiet")
    assert code == 0, err
    stem = tmp_path / "curve_heart_sgd"
    files = [tmp_path / "curve_heart_sgd.png", tmp_path / "curve_heart_sgd_cost.csv",
             tmp_path / "curve_heart_sgd_model.npz"]
    assert _written(out) == [str(f) for f in files]
    _assert_png(files[0])
    costs = np.loadtxt(files[1], delimiter=",", skiprows=1)
    assert costs.shape == (41, 2)
    state = tg.load(stem.with_name("curve_heart_sgd_model.npz"))
    assert sorted(state) == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]
    assert "cost 0.11" in out and "40 steps of sgd" in out


def test_curve_command_on_a_csv_with_adam(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    data = tmp_path / "square.csv"
    data.write_text("t,x,y\n0,0,0\n1,1,0\n2,1,1\n3,0,1\n4,0,0\n", encoding="utf-8")
    out_dir = tmp_path / "runs"
    code, out, err = _run(capsys, "curve", "--shape", str(data), "--optimizer", "adam",
                          "--steps", "20", "--out", str(out_dir), "--quiet", "--seed", "3")
    assert code == 0, err
    _assert_png(out_dir / "curve_square_adam.png")
    assert (out_dir / "curve_square_adam_model.npz").exists()
    assert "curve 'square': 5 points" in out


@pytest.mark.parametrize("argv, message", [
    (["--shape", "star"], "--shape 'star': not a built-in curve (heart, spiral, lissajous)"),
    (["--steps", "-1"], "--steps must be non-negative"),
    (["--optimizer", "adam", "--lr", "inf"], "--lr must be positive and finite, got inf"),
    (["--optimizer", "adam", "--lr", "-0.1"], "--lr must be positive and finite, got -0.1"),
    (["--lr", "1e308", "--steps", "5"], "training diverged: the cost became nan after 2 steps "
                                        "of sgd with lr 1e+308; give a smaller --lr"),
])
def test_curve_command_bad_arguments(tmp_path, capsys, argv, message):
    code, out, err = _run(capsys, "curve", *argv, "--out", str(tmp_path), "--quiet")
    assert code == 2
    assert err.startswith("tinygrad-mv curve: error: ") and message in err


def test_curve_command_malformed_csv_names_the_line(tmp_path, capsys):
    data = tmp_path / "bad.csv"
    data.write_text("x,y\n0,0\n1,1\n2\n", encoding="utf-8")
    code, _, err = _run(capsys, "curve", "--shape", str(data), "--out", str(tmp_path))
    assert code == 2
    assert f"{data}, line 4: expected 2 columns like line 2, got 1" in err
    assert "Traceback" not in err


def test_gaussian_command_writes_figure_and_path(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code, out, err = _run(capsys, "gaussian", "--steps", "30", "--out", str(tmp_path), "--quiet")
    assert code == 0, err
    files = [tmp_path / "gaussian_fit.png", tmp_path / "gaussian_fit_path.csv"]
    assert _written(out) == [str(f) for f in files]
    _assert_png(files[0])
    path = np.loadtxt(files[1], delimiter=",", skiprows=1)
    assert path.shape == (31, 4)
    np.testing.assert_array_equal(path[0, 1:3], [155.0, 6.0])
    assert "stopped at the step limit" in out and "seed 2024" in out


def test_gaussian_command_on_user_data(tmp_path, capsys):
    data = tmp_path / "h.csv"
    rng = np.random.default_rng(1)
    np.savetxt(data, rng.normal(165.0, 8.0, 400), header="height", comments="", fmt="%.2f")
    code, out, err = _run(capsys, "gaussian", "--data", str(data), "--out", str(tmp_path),
                          "--quiet", "--start", "160", "5", "--bin-width", "4")
    assert code == 0, err
    assert f"400 heights from {data}" in out and "converged" in out
    mu = float(out.split("mu = ")[1].split(",")[0])
    assert mu == pytest.approx(165.0, abs=2.0)


def test_gaussian_command_malformed_csv_names_the_line(tmp_path, capsys):
    data = tmp_path / "h.csv"
    data.write_text("height\n170\n165\n-3\n", encoding="utf-8")
    code, _, err = _run(capsys, "gaussian", "--data", str(data), "--out", str(tmp_path))
    assert code == 2
    assert f"{data}, line 4: height -3.0 is not positive" in err


def test_gaussian_command_missing_file(tmp_path, capsys):
    code, _, err = _run(capsys, "gaussian", "--data", str(tmp_path / "nope.csv"),
                        "--out", str(tmp_path))
    assert code == 2 and "nope.csv" in err


def test_demo_runs_every_step_and_writes_its_files(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code, out, err = _run(capsys, "demo", "--steps", "30", "--out", str(tmp_path), "--quiet")
    assert code == 0, err
    for step in ("1. The chain rule", "2. Gradient check", "3. The network", "4. A Gaussian"):
        assert step in out
    assert "OK: largest difference" in out
    written = _written(out)
    for name in ("demo_curve_heart.png", "demo_gaussian_fit.png", "demo_curve_heart_cost.csv",
                 "demo_gaussian_fit_path.csv"):
        assert str(tmp_path / name) in written
    _assert_png(tmp_path / "demo_curve_heart.png")
    _assert_png(tmp_path / "demo_gaussian_fit.png")
    for path in written:
        assert (tmp_path / path).exists()


def test_without_matplotlib_commands_train_and_point_to_the_extra(tmp_path, capsys,
                                                                  no_matplotlib):
    code, out, err = _run(capsys, "curve", "--steps", "5", "--points", "10", "--out",
                          str(tmp_path), "--quiet")
    assert code == 0, err
    assert PLOT_HINT in out
    assert not (tmp_path / "curve_heart_sgd.png").exists()
    assert (tmp_path / "curve_heart_sgd_cost.csv").exists()
    code, out, err = _run(capsys, "gaussian", "--steps", "5", "--out", str(tmp_path), "--quiet")
    assert code == 0, err
    assert PLOT_HINT in out and not (tmp_path / "gaussian_fit.png").exists()
    code, out, err = _run(capsys, "demo", "--steps", "5", "--out", str(tmp_path), "--quiet")
    assert code == 0, err
    assert PLOT_HINT in out and not list(tmp_path.glob("*.png"))


def test_output_folder_that_is_a_file(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(capsys, "gaussian", "--steps", "2", "--out", str(blocker))
    assert code == 2 and "exists and is not a folder" in err


def test_help_lists_the_options(capsys):
    for command, options in [("curve", ["--shape", "--steps", "--optimizer", "--out", "--seed",
                                        "--quiet"]),
                             ("gaussian", ["--data", "--steps", "--out", "--quiet"]),
                             ("demo", ["--out", "--quiet"])]:
        with pytest.raises(SystemExit) as exc:
            cli.main([command, "--help"])
        assert exc.value.code == 0
        text = capsys.readouterr().out
        for option in options:
            assert option in text, (command, option)


def test_progress_bar_only_on_a_terminal(capsys):
    # Under pytest stderr is captured, not a terminal: the default bar is disabled.
    with progress_bar(10, "x") as bar:
        assert bar.disable
    with progress_bar(10, "x", enabled=False) as bar:
        assert bar.disable
    with progress_bar(10, "x", enabled=True) as bar:
        assert not bar.disable
        bar.update(10)


@pytest.mark.parametrize("argv", [["curve", "--lr", "nan"], ["gaussian", "--lr", "inf"],
                                  ["gaussian", "--start", "1000", "1"]])
def test_a_failed_command_leaves_no_new_output_folder(tmp_path, capsys, argv):
    existing = tmp_path / "existing"
    existing.mkdir()
    for out, kept in [(tmp_path / "new" / "deeper", tmp_path), (existing, existing)]:
        code, _, err = _run(capsys, *argv, "--steps", "3", "--out", str(out), "--quiet")
        assert code == 2 and "error: " in err
        assert sorted(tmp_path.iterdir()) == [existing] and kept.is_dir()


@pytest.mark.parametrize("argv", [["--steps", str(10 ** 15)], ["--points", str(10 ** 15)]])
def test_sizes_beyond_memory_are_a_one_line_error(tmp_path, capsys, argv):
    # (8 PB of float64: more than any address space, whatever the overcommit policy)
    code, _, err = _run(capsys, "curve", *argv, "--out", str(tmp_path / "out"), "--quiet")
    assert code == 2 and not (tmp_path / "out").exists()
    assert err.startswith("tinygrad-mv curve: error: not enough memory: ") and err.count("\n") == 1


def test_a_figure_that_fails_halfway_leaves_no_truncated_file(tmp_path, capsys, monkeypatch):
    figure = pytest.importorskip("matplotlib.figure")

    def fails_halfway(self, fname, **kwargs):
        if isinstance(fname, (str, bytes)) or hasattr(fname, "__fspath__"):
            with open(fname, "wb") as handle:
                handle.write(PNG_HEADER)
        else:
            fname.write(PNG_HEADER)
        raise OSError("No space left on device")

    monkeypatch.setattr(figure.Figure, "savefig", fails_halfway)
    code, _, err = _run(capsys, "gaussian", "--steps", "3", "--out", str(tmp_path), "--quiet")
    assert code == 2 and "No space left on device" in err
    assert [p.name for p in tmp_path.iterdir()] == ["gaussian_fit_path.csv"]  # complete

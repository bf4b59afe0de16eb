"""The course's examples (examples/*.py) on small settings, and the `examples` and
`run` commands. Every example's numbers are checked against an oracle written here; every figure
must be a real PNG."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mv import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OURS = ["newton_raphson", "gradient_descent", "lagrange_multipliers", "linear_regression",
        "taylor_series"]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_under_test_{name}",
                                                  EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_png(path: Path) -> None:
    assert path is not None and path.is_file(), f"no figure at {path}"
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 5_000


@pytest.fixture(scope="module")
def matplotlib_agg():
    pytest.importorskip("matplotlib")


def test_newton_raphson_example(tmp_path, matplotlib_agg):
    out = load("newton_raphson").main(str(tmp_path), quick=True)
    real_root = [r.real for r in np.roots([1, 0, -2, 2]) if abs(r.imag) < 1e-12][0]
    assert abs(out["root"] - real_root) < 1e-10 and out["nit"] == 4
    np.testing.assert_array_equal(out["cycle"][:4], [0.0, 1.0, 0.0, 1.0])
    assert_png(out["figure"])


def test_gradient_descent_example(tmp_path, matplotlib_agg):
    out = load("gradient_descent").main(str(tmp_path), quick=True)
    f0 = (1 + 1.2) ** 2 + 100 * (1 - 1.44) ** 2
    for method, res in out["results"].items():
        x, y = res.x
        assert res.fun == pytest.approx((1 - x) ** 2 + 100 * (y - x * x) ** 2, rel=1e-12)
        assert res.fun < f0 / 4, method
    assert out["results"]["newton"].success
    np.testing.assert_allclose(out["results"]["newton"].x, [1.0, 1.0], atol=1e-8)
    assert_png(out["figure"])


def test_lagrange_multipliers_example(tmp_path, matplotlib_agg):
    out = load("lagrange_multipliers").main(str(tmp_path), quick=True)
    np.testing.assert_allclose(out["line"].x, [0.5, 0.5], atol=1e-12)
    points = sorted(tuple(np.sign(res.x)) for res in out["circle"])
    assert points == [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    for res in out["circle"]:
        x, y = res.x
        assert abs(x) == pytest.approx(2 ** -0.5, abs=1e-10)
        np.testing.assert_allclose([y, x], res.multipliers[0] * np.array([2 * x, 2 * y]),
                                   atol=1e-10)
        assert res.kind == ("maximum" if x * y > 0 else "minimum")
    assert_png(out["figure"])


def test_linear_regression_example_against_numpy_polyfit(tmp_path, matplotlib_agg):
    module = load("linear_regression")
    out = module.main(str(tmp_path), quick=True)
    x, y, sigma = module.make_data(10)
    coef, cov = np.polyfit(x, y, 1, w=1 / sigma, cov="unscaled")  # highest power first
    fit = out["fit"]
    np.testing.assert_allclose(fit.params, coef[::-1], rtol=1e-10)
    np.testing.assert_allclose(fit.covariance, cov[::-1, ::-1], rtol=1e-9)
    assert fit.chi2 == pytest.approx(np.sum(((y - np.polyval(coef, x)) / sigma) ** 2),
                                     rel=1e-10)
    assert_png(out["figure"])


def test_taylor_series_example(tmp_path, matplotlib_agg):
    out = load("taylor_series").main(str(tmp_path), quick=True)
    hand = [np.sin(1.0), np.cos(1.0), -np.sin(1.0), -np.cos(1.0), np.sin(1.0), np.cos(1.0)]
    np.testing.assert_allclose(out["derivatives"], hand, rtol=1e-12)
    for n, slope in out["slopes"].items():
        assert slope == pytest.approx(n + 1, abs=0.15), n
    assert_png(out["figure"])


def test_examples_without_matplotlib_still_compute_and_say_how_to_get_it(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    out = load("newton_raphson").main(str(tmp_path))
    assert out["figure"] is None and abs(out["root"] + 1.7692923542386314) < 1e-10
    assert 'pip install "tinygrad_mv[plot]"' in capsys.readouterr().out
    assert not any(tmp_path.iterdir())


def test_examples_command_lists_each_with_one_line(capsys):
    assert cli.main(["examples"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in OURS:
        row = [line for line in lines if line.split()[:1] == [name]]
        assert len(row) == 1, name
        first = load(name).__doc__.splitlines()[0]
        assert row[0].strip().endswith(first)


def test_run_command_runs_an_example(tmp_path, capsys, matplotlib_agg):
    assert cli.main(["run", "newton_raphson", "--out", str(tmp_path), "--quick"]) == 0
    assert "converged after 4 iteration(s)" in capsys.readouterr().out
    assert_png(tmp_path / "newton_raphson.png")


def test_run_command_unknown_name_is_a_clear_error(capsys):
    assert cli.main(["run", "no_such_example"]) == 2
    err = capsys.readouterr().err
    assert "no example named 'no_such_example'" in err and "newton_raphson" in err


@pytest.mark.parametrize("name", ["taylor_series", "gaussian_fit", "03_hessian"])
def test_run_command_refuses_a_file_as_out_before_running(tmp_path, capsys, name):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["run", name, "--out", str(blocker), "--quick"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"tinygrad-mv run: error: --out {str(blocker)!r} exists and is not "
                            "a folder\n") and captured.out == ""


def test_run_command_runs_a_plain_script_with_out(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "hello.py").write_text(
        '"""Say hello into a file."""\n'
        "import argparse, pathlib\n"
        "p = argparse.ArgumentParser()\n"
        "p.add_argument('--out')\n"
        "a = p.parse_args()\n"
        "pathlib.Path(a.out).mkdir(parents=True, exist_ok=True)\n"
        "(pathlib.Path(a.out) / 'hello.txt').write_text('hi')\n")
    monkeypatch.setenv("TINYGRAD_MV_EXAMPLES", str(folder))
    assert cli.main(["examples"]) == 0
    assert "hello  Say hello into a file." in capsys.readouterr().out
    assert cli.main(["run", "hello", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "hello.txt").read_text() == "hi"


def test_missing_examples_folder_is_a_clear_error(tmp_path, monkeypatch, capsys):
    from tinygrad_mv.commands import examples as command

    monkeypatch.delenv("TINYGRAD_MV_EXAMPLES", raising=False)
    monkeypatch.setattr(command, "__file__", str(tmp_path / "site" / "pkg" / "commands" / "x.py"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["examples"]) == 2
    err = capsys.readouterr().err
    assert "no examples folder found" in err and "TINYGRAD_MV_EXAMPLES" in err


def test_an_examples_folder_given_that_holds_none_is_an_error(tmp_path, monkeypatch, capsys):
    """$TINYGRAD_MV_EXAMPLES naming a missing or empty folder fell back to the shipped examples
    without a word."""
    for folder in (tmp_path / "missing", tmp_path):
        monkeypatch.setenv("TINYGRAD_MV_EXAMPLES", str(folder))
        assert cli.main(["examples"]) == 2
        err = capsys.readouterr().err
        assert f"TINYGRAD_MV_EXAMPLES={folder}" in err and "not a folder of examples" in err


def test_forward_mode_example(tmp_path, matplotlib_agg):
    out = load("forward_mode").main(str(tmp_path), quick=True)
    x, v = 1.3, 0.5
    hand_derivative = (2 * x * np.sin(x) + x * x * np.cos(x)) * v
    assert out["hand"][1] == pytest.approx(hand_derivative, rel=1e-14)
    np.testing.assert_allclose(out["fwad"], [x * x * np.sin(x), hand_derivative], rtol=1e-14)
    np.testing.assert_allclose(out["columns"], out["exact"], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(out["rows"], out["exact"], rtol=1e-14, atol=1e-15)
    assert all(len(t) == len(out["sizes"]) and min(t) > 0 for t in out["timings"].values())
    assert_png(out["figure"])


def test_numpy_backprop_example_runs_the_course_code_on_tensors():
    example = load("numpy_backprop")
    out = example.main(steps=20)
    x, y = example.training_data()
    params = example.initial_params()
    # the oracle: central differences of the NumPy cost, independent of both derivations
    eps = 1e-6
    for name in ("W1", "b2", "W3"):
        numeric = np.zeros_like(params[name])
        for idx in np.ndindex(params[name].shape):
            for sign in (1, -1):
                moved = {k: v.copy() for k, v in params.items()}
                moved[name][idx] += sign * eps
                numeric[idx] += sign * example.cost(moved, x, y) / (2 * eps)
        np.testing.assert_allclose(out["hand"][name], numeric, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(out["reverse"][name], out["hand"][name], rtol=1e-10,
                                   atol=1e-14)
    assert max(out["differences"].values()) < 1e-12
    assert out["slope_difference"] < 1e-12
    assert out["cost"] == pytest.approx(example.cost(params, x, y), rel=1e-12)
    assert out["costs"][-1] < out["costs"][0]


def test_export_onnx_example(tmp_path):
    pytest.importorskip("onnxruntime")
    import onnx

    out = load("export_onnx").main(str(tmp_path), steps=20)
    for path in (out["path"], out["grad_path"]):
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert out["difference"] < 1e-12 and out["grad_difference"] < 1e-12
    assert out["cost_difference"] < 1e-12
    assert all(seconds > 0 for seconds in out["seconds"])

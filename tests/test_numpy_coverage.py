"""The contract's NumPy coverage as a whole: every listed name differentiates as ``np.NAME`` on
Tensors and as ``tg.NAME``, the course's own NumPy expressions run on Tensors, and the README's
coverage table is the list the code routes (so it cannot drift)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mv as tg
import tinygrad_mv.forward_ad as fwAD
from tinygrad_mv import Tensor
from tinygrad_mv.ops.numpy_interop import differentiable_numpy_names

README = Path(__file__).resolve().parents[1] / "README.md"

UFUNCS = ("exp2 expm1 log2 log10 log1p cbrt reciprocal arcsin arccos arctan sinh cosh arcsinh "
          "arccosh arctanh deg2rad rad2deg degrees radians fabs positive float_power arctan2 "
          "hypot fmax fmin logaddexp logaddexp2 copysign mod fmod sign floor ceil trunc "
          "rint").split()
FUNCTIONS = ("prod cumsum cumprod var std average einsum trace diag tile repeat flip sort "
             "tensordot kron triu tril pad roll diff expand_dims moveaxis swapaxes").split()
LINALG = "norm det slogdet inv solve".split()

RNG = np.random.default_rng(3)
MATRIX = RNG.uniform(0.2, 0.8, (3, 3)) + 2 * np.eye(3)  # well conditioned, positive entries


def _arguments(name: str) -> tuple[tuple, dict]:
    """Inputs inside the function's domain, and the keywords it needs."""
    unit = np.array([[0.3, -0.4, 0.5], [0.2, 0.6, -0.1], [-0.7, 0.15, 0.35]])
    if name in ("arccosh",):
        return (MATRIX + 1.0,), {}
    if name in ("log2", "log10", "log1p", "float_power"):
        return (MATRIX,) * (2 if name == "float_power" else 1), {}
    if name in ("arcsin", "arccos", "arctanh"):
        return (unit,), {}
    if name in ("arctan2", "hypot", "fmax", "fmin", "logaddexp", "logaddexp2", "copysign",
                "mod", "fmod"):
        return (unit, MATRIX), {}
    if name == "einsum":
        return ("ij,jk->ik", MATRIX, MATRIX), {}
    if name in ("tensordot", "kron", "solve"):
        return (MATRIX, unit), {"axes": 1} if name == "tensordot" else {}
    extra = {"tile": (2,), "repeat": (2,), "pad": (1,), "expand_dims": (0,),
             "moveaxis": (0, 1), "swapaxes": (0, 1), "roll": (1,)}.get(name, ())
    return (MATRIX, *extra), {}


def _lookup(module: object, name: str):
    return getattr(module, name)


def _call(fn, name: str):
    args, kwargs = _arguments(name)
    tensors = [Tensor(a, requires_grad=True) if isinstance(a, np.ndarray) else a for a in args]
    out = fn(*tensors, **kwargs)
    if name == "slogdet":
        out = out[1]
    return out, tensors, args, kwargs


@pytest.mark.parametrize("name", UFUNCS + FUNCTIONS + [f"linalg.{n}" for n in LINALG])
def test_each_contract_name_differentiates_as_np_and_as_tg(name):
    short = name.removeprefix("linalg.")
    numpy_fn = _lookup(np.linalg if name.startswith("linalg.") else np, short)
    tg_fn = _lookup(tg.linalg if name.startswith("linalg.") else tg, short)
    for fn in (numpy_fn, tg_fn):
        out, tensors, args, kwargs = _call(fn, short)
        assert isinstance(out, Tensor) and out.requires_grad, f"{name}: not recorded"
        expected = numpy_fn(*args, **kwargs)
        expected = expected[1] if short == "slogdet" else expected
        np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-14, err_msg=name)
        (out * np.linspace(0.5, 1.5, out.size).reshape(out.shape)).sum().backward()
        for t in tensors:
            if isinstance(t, Tensor):
                assert t.grad is not None and t.grad.shape == t.shape, name
                assert np.all(np.isfinite(t.grad.data)), name


def test_the_course_expressions_run_on_tensors():
    a3 = Tensor(RNG.uniform(0, 1, (2, 5)), requires_grad=True)
    y, x = RNG.uniform(0, 1, (2, 5)), np.linspace(0, 1, 5)
    cost = np.linalg.norm(a3 - y) ** 2 / x.size
    cost.backward()
    np.testing.assert_allclose(a3.grad.data, 2 * (a3.data - y) / x.size, rtol=1e-12)
    z = Tensor(np.linspace(-3, 3, 7), requires_grad=True)
    slope = np.cosh(z / 2) ** (-2) / 4
    s = 1 / (1 + np.exp(-z.data))
    np.testing.assert_allclose(slope.data, s * (1 - s), rtol=1e-12)
    slope.sum().backward()
    np.testing.assert_allclose(z.grad.data, s * (1 - s) * (1 - 2 * s), rtol=1e-10, atol=1e-15)


def test_a_function_outside_the_list_still_refuses_a_tracked_tensor():
    with pytest.raises(TypeError, match=r"np\.median is not differentiable"):
        np.median(Tensor([1.0, 2.0], requires_grad=True))



@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "trunc", "rint", "mod", "fmod", "fmax",
                                  "fmin", "copysign", "hypot", "arctan2"])
def test_integer_numbers_give_a_float_tensor(name):
    # as Tensor(2) and the one-input ufuncs: never an int64 Tensor (which no gradient can enter,
    # and which would turn float32 into float64 further on)
    fn = getattr(tg, name)
    args = (7, np.int64(3)) if name in UFUNCS[21:31] else (True,) if name == "sign" else (2,)
    out = fn(*args)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, getattr(np, name)(*map(float, args)))

@pytest.mark.parametrize("call", [
    lambda t: t * np.median(t),  # outside the list
    lambda t: np.exp(t, where=np.array([True, False, True])),  # a listed ufunc with a keyword
    lambda t: np.add.reduce(t),  # a ufunc method
], ids=["median", "exp-where", "add-reduce"])
def test_a_tangent_is_never_dropped_silently(call):
    # In forward mode a Tensor carries a tangent without requiring grad: refused as well, never
    # a zero (or missing) tangent.
    x, v = np.array([0.3, 0.5, 0.7]), np.ones(3)
    with pytest.raises(TypeError, match=r"np\.(median|exp|add)"):
        tg.jvp(call, (x,), (v,))
    with pytest.raises(TypeError, match=r"np\.(median|exp|add)"):
        tg.jacfwd(call)(x)
    with fwAD.dual_level(), pytest.raises(TypeError, match=r"np\.(median|exp|add)"):
        call(fwAD.make_dual(Tensor(x), Tensor(v)))


DOCS_PAGE = README.parent / "docs" / "tensor.md"


def _coverage_table(path: Path) -> tuple[set[str], int]:
    text = path.read_text(encoding="utf-8")
    table = text[text.index("<!-- coverage table -->"):]
    table = table[:table.index("\n#", 3)] if "\n#" in table[3:] else table
    names = set(re.findall(r"`(np\.[\w.]+)`", table))
    count = int(re.search(r"(\d+) NumPy functions and ufuncs differentiate", table)[1])
    return names, count


@pytest.mark.parametrize("path", [README, DOCS_PAGE], ids=["README", "docs"])
def test_the_coverage_tables_are_what_the_code_routes(path):
    names, count = _coverage_table(path)
    routed = set(differentiable_numpy_names())
    assert names == routed, (f"{path.name} lacks {sorted(routed - names)}, lists unrouted "
                             f"{sorted(names - routed)}")
    assert count == len(routed)


def test_every_contract_name_is_in_the_routed_list():
    routed = set(differentiable_numpy_names())
    wanted = {f"np.{n}" for n in UFUNCS + FUNCTIONS} | {f"np.linalg.{n}" for n in LINALG}
    aliases = {"np.mod": "np.remainder", "np.fabs": "np.fabs"}
    missing = {aliases.get(n, n) for n in wanted} - routed
    assert not missing

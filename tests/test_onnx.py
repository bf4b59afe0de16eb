"""tg.onnx.export: the models it writes pass onnx's full check and, run by ONNX Runtime on new
inputs, give what tinygrad_mv gives (every gradcheck case, transforms, a Module, the course's
applications, the CLI); what it cannot export is refused with a clear error and no file."""
from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import cli, datasets
from tinygrad_mv.apps import curve as curve_app
from tinygrad_mv.apps import gaussian as gaussian_app
from tinygrad_mv.commands.gradcheck import op_cases, ops_exercised, ops_in_graph

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from tinygrad_mv.onnx.operators import EMITTERS  # noqa: E402  (imports onnx)

ExportError = tg.onnx.ExportError


# --- helpers -------------------------------------------------------------------------------------
def load_checked(path: Path):
    """The model at ``path``, after onnx's full check (types and shapes inferred)."""
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    return model


def session(path: Path):
    load_checked(path)  # every model a test reads is checked first
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_onnx(path: Path, *arrays: np.ndarray) -> list[np.ndarray]:
    sess = session(path)
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), arrays)})


def flatten(result) -> list[np.ndarray]:
    """A result's arrays in the order export writes its outputs."""
    if isinstance(result, tg.Tensor):
        return [result.data]
    return [a for item in result for a in flatten(item)]


def tinygrad_outputs(f, arrays) -> list[np.ndarray]:
    return flatten(f(*[tg.Tensor(a) for a in arrays]))


def assert_outputs(got, want, rtol: float, dtype=np.float64) -> None:
    """Same count, shapes, dtype; values to ``rtol`` (plus an atol a tenth of it, relative to
    the output's scale, for entries near 0)."""
    assert len(got) == len(want), f"{len(got)} outputs, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == dtype, f"output {i} has dtype {g.dtype}, expected {np.dtype(dtype)}"
        assert g.shape == w.shape, f"output {i} has shape {g.shape}, expected {w.shape}"
        scale = max(1.0, float(np.max(np.abs(w), initial=0.0)))
        np.testing.assert_allclose(g, w, rtol=rtol, atol=0.1 * rtol * scale,
                                   err_msg=f"output {i}")


def seeded(text: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(text.encode()))


def perturbed(arrays, rng: np.random.Generator, dtype=np.float64) -> list[np.ndarray]:
    """New inputs 1% away (multiplicatively), so they stay in each operation's domain."""
    return [np.asarray(a * (1 + 0.01 * rng.uniform(-1.0, 1.0, np.shape(a))), dtype=dtype)
            for a in arrays]


def weighted_value_and_grad(fn, example, weight):
    """value and gradient of sum(fn * weight) with respect to every input."""
    return tg.value_and_grad(lambda *xs: (fn(*xs) * weight).sum(),
                             argnums=tuple(range(len(example))))


def random_weight(fn, example, rng, dtype=np.float64) -> np.ndarray:
    shape = fn(*[tg.Tensor(a) for a in example]).shape
    return np.asarray(rng.standard_normal(shape), dtype=dtype)


def assert_unsupported(call, path: Path, names) -> str:
    """``call`` raises ExportError naming one of ``names`` and this file, and writes nothing."""
    with pytest.raises(ExportError) as info:
        call()
    message = str(info.value)
    assert any(f"'{n}'" in message for n in names), message
    assert "test_onnx.py" in message, f"no line of the user's code in: {message}"
    assert not path.exists()
    return message


# --- 1. every gradcheck case ---------------------------------------------------------------------
CASES = {case.label: case for case in op_cases()}

# sort reads its order from the data (an argsort): refused as a NumPy call, not an operation.
DATA_DEPENDENT = {"sort (axis)": "argsort"}


def sweep_params() -> list:
    return [pytest.param(label, id=label) for label in CASES]


def expect_refusal(label: str, call, path: Path, missing: set[str]) -> None:
    with pytest.raises(ExportError) as info:
        call()
    message = str(info.value)
    if label in DATA_DEPENDENT:
        assert DATA_DEPENDENT[label] in message and "recorded value" in message, message
    else:
        assert any(f"'{op}'" in message for op in missing), (missing, message)
    assert "test_onnx.py" in message, f"no line of the user's code in: {message}"
    assert not path.exists()


@pytest.mark.parametrize("label", sweep_params())
def test_op_case_forward_matches_on_new_inputs(label, tmp_path):
    case = CASES[label]
    path = tmp_path / "f.onnx"
    # the forward alone: a case whose missing op is only in its backward still exports here
    forward = ops_in_graph(case.fn(*[tg.Tensor(a, requires_grad=True) for a in case.inputs]))
    missing = forward - set(EMITTERS)
    if missing or label in DATA_DEPENDENT:
        expect_refusal(label, lambda: tg.onnx.export(case.fn, case.inputs, path), path, missing)
        return
    assert tg.onnx.export(case.fn, case.inputs, path) == path
    new = perturbed(case.inputs, seeded(label))
    assert_outputs(run_onnx(path, *new), tinygrad_outputs(case.fn, new), rtol=1e-12)


@pytest.mark.parametrize("label", sweep_params())
def test_op_case_value_and_grad_matches_on_new_inputs(label, tmp_path):
    case = CASES[label]
    path = tmp_path / "vg.onnx"
    weight = random_weight(case.fn, case.inputs, seeded(label + " weight"))
    f = weighted_value_and_grad(case.fn, case.inputs, weight)
    missing = ops_exercised(case) - set(EMITTERS)
    if missing or label in DATA_DEPENDENT:
        expect_refusal(label, lambda: tg.onnx.export(f, case.inputs, path), path, missing)
        return
    tg.onnx.export(f, case.inputs, path)
    new = perturbed(case.inputs, seeded(label))
    got = run_onnx(path, *new)
    assert len(got) == 1 + len(case.inputs)  # the value, then one gradient per input
    assert_outputs(got, tinygrad_outputs(f, new), rtol=1e-12)


def test_sweep_covers_most_cases():
    # guards the sweep against turning into refusals only (an EMITTERS entry lost, ...)
    exportable = [c for c in CASES.values() if not ops_exercised(c) - set(EMITTERS)]
    assert len(exportable) >= 95, len(exportable)
    assert len(CASES) == len(op_cases())  # labels are unique: each case has its own test


FLOAT32_LABELS = [
    "add (broadcast)", "div", "pow (number exponent)", "exp", "log", "tanh", "sigmoid",
    "log_sigmoid", "clip", "where", "sum (axis)", "mean (keepdims)", "max (axis)", "logsumexp",
    "softmax", "log_softmax", "matmul (batched)", "linear", "getitem (slice)",
    "getitem (repeated indices)", "scatter_add", "concatenate", "log1p", "hypot", "logaddexp",
    "var (ddof)", "cumsum (axis)", "pad (reflect)", "einsum (ellipsis, broadcast)",
    "linalg.norm (2, axis)",
]


@pytest.mark.parametrize("label", FLOAT32_LABELS)
def test_op_case_float32_stays_float32(label, tmp_path):
    case = CASES[label]
    assert not ops_exercised(case) - set(EMITTERS)  # the subset must be exportable
    example = [np.asarray(a, dtype=np.float32) for a in case.inputs]
    weight = random_weight(case.fn, example, seeded(label + " weight"), np.float32)
    f = weighted_value_and_grad(case.fn, example, weight)
    new = perturbed(case.inputs, seeded(label), np.float32)
    for name, function in (("f", case.fn), ("vg", f)):
        path = tmp_path / f"{name}.onnx"
        tg.onnx.export(function, example, path)
        sess = session(path)
        assert {i.type for i in sess.get_inputs()} == {"tensor(float)"}
        want = tinygrad_outputs(function, new)
        assert all(w.dtype == np.float32 for w in want)  # the reference stays float32 too
        assert_outputs(run_onnx(path, *new), want, rtol=1e-6, dtype=np.float32)


# --- 2. the course network as a Module -----------------------------------------------------------
def course_network(dtype=np.float64) -> tg.nn.Sequential:
    rng = np.random.default_rng(3)
    return tg.nn.Sequential(
        tg.nn.Linear(1, 6, rng=rng, dtype=dtype), tg.nn.Sigmoid(),
        tg.nn.Linear(6, 7, rng=rng, dtype=dtype), tg.nn.Sigmoid(),
        tg.nn.Linear(7, 2, rng=rng, dtype=dtype), tg.nn.Sigmoid())


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_module_parameters_become_named_initializers(dtype, rtol, tmp_path):
    net = course_network(dtype)
    path = tmp_path / "net.onnx"
    tg.onnx.export(net, (np.linspace(0, 1, 10, dtype=dtype)[:, None],), path)
    model = load_checked(path)
    initializers = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    state = net.state_dict()
    assert sorted(initializers) == sorted(state)
    for name, value in state.items():
        stored = initializers[name]
        assert stored.dtype == dtype
        np.testing.assert_array_equal(stored, np.asarray(getattr(value, "data", value)))
    # the parameters are constants of the graph, not inputs to feed
    assert [i.name for i in model.graph.input] == ["input_0"]
    assert [o.name for o in model.graph.output] == ["output_0"]
    t = np.random.default_rng(4).uniform(-2.0, 3.0, (10, 1)).astype(dtype)
    assert_outputs(run_onnx(path, t), [net(tg.Tensor(t)).data], rtol=rtol, dtype=dtype)


# --- 3. the Gaussian chi-squared -----------------------------------------------------------------
def test_gaussian_chi_squared_value_and_grad(tmp_path):
    centres, density, _ = gaussian_app.histogram(datasets.heights())

    def chi2(mu, sigma):
        return gaussian_app.chi_squared(gaussian_app.gaussian_pdf, centres, density, mu, sigma)

    f = tg.value_and_grad(chi2, argnums=(0, 1))
    path = tmp_path / "chi2.onnx"
    tg.onnx.export(f, (np.array(gaussian_app.MU0), np.array(gaussian_app.SIGMA0)), path)
    for mu, sigma in [(155.0, 6.0), (163.5, 7.25), (171.0, 12.0), (148.0, 3.5)]:
        point = (np.array(mu), np.array(sigma))
        got = run_onnx(path, *point)
        assert_outputs(got, tinygrad_outputs(f, point), rtol=1e-12)
        # by hand: chi2 = sum (y - f)^2 with f the normal density at the bin centres
        z = (centres - mu) / sigma
        pdf = np.exp(-0.5 * z * z) / (sigma * np.sqrt(2 * np.pi))
        residual = density - pdf
        terms = [residual ** 2, -2 * residual * pdf * z / sigma,
                 -2 * residual * pdf * (z * z - 1) / sigma]
        for g, term in zip(got, terms):
            # sums in another order: rounding relative to the terms' size, not the total's
            np.testing.assert_allclose(g, np.sum(term), rtol=1e-10,
                                       atol=1e-13 * np.sum(np.abs(term)))


# --- 4. broadcasting, axes, indexing, transforms -------------------------------------------------
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])
SHAPED = {
    "broadcast (3,1) with (4,)": (lambda a, b: a * b + a / (1 + b * b), [(3, 1), (4,)]),
    "broadcast (2,1,3) with (4,1)": (lambda a, b: tg.tanh(a - b) * b, [(2, 1, 3), (4, 1)]),
    "broadcast () with (2,3)": (lambda a, b: a ** 2 * b - a, [(), (2, 3)]),
    "sum over a tuple of axes": (lambda a: (a * a).sum(axis=(0, 2)), [(3, 4, 5)]),
    "sum over a negative axis, keepdims": (lambda a: a.sum(axis=-1, keepdims=True) * a,
                                           [(3, 4, 5)]),
    "mean over negative axes, keepdims": (lambda a: a.mean(axis=(-1, 0), keepdims=True) ** 2,
                                          [(3, 4, 5)]),
    "max over a negative axis": (lambda a: a.max(axis=-2) * 2, [(3, 4, 5)]),
    "min over a tuple, keepdims": (lambda a: a.min(axis=(0, 1), keepdims=True) - a, [(3, 4, 5)]),
    "logsumexp over a tuple, keepdims": (lambda a: tg.logsumexp(a, axis=(0, -1), keepdims=True),
                                         [(3, 4, 5)]),
    "int index": (lambda a: a[1] ** 2, [(3, 4, 5)]),
    "negative ints": (lambda a: a[-1, -2] ** 2, [(3, 4, 5)]),
    "slices with steps": (lambda a: a[::2, 1::2] ** 2, [(3, 4, 5)]),
    "negative steps": (lambda a: a[::-1, 3:0:-2, ::-3] ** 2, [(3, 4, 5)]),
    "None and Ellipsis": (lambda a: a[None, ..., 1, None] ** 2, [(3, 4, 5)]),
    "Ellipsis then an int": (lambda a: a[..., -2] ** 2, [(3, 4, 5)]),
    "integer array with repeats": (lambda a: a[[0, 0, 2, 1]] ** 2, [(3, 4, 5)]),
    "2-D integer array and a slice": (lambda a: a[np.array([[0, 2], [2, 2]]), 1:3] ** 2,
                                      [(3, 4, 5)]),
    "two integer arrays with repeats": (lambda a: a[:, [3, 3, 0], [1, 1, 4]] ** 2, [(3, 4, 5)]),
    "a fixed boolean mask": (lambda a: a[MASK] ** 2, [(3, 4, 5)]),
    "an int and a fixed mask": (lambda a: a[1, MASK[0]] ** 2, [(3, 4, 5)]),
    # masks computed from the data in the graph: new inputs of other signs must follow them
    "relu, abs, where on signs": (lambda a: tg.relu(a) * tg.abs(a) + tg.where(a > 0, a, 0.5 * a),
                                  [(3, 4)]),
}


@pytest.mark.parametrize("label", list(SHAPED))
def test_shapes_axes_and_indexing_on_any_inputs(label, tmp_path):
    fn, shapes = SHAPED[label]
    rng = seeded(label)
    example = [rng.standard_normal(s) for s in shapes]
    new = [rng.standard_normal(s) for s in shapes]  # new values, signs and order: any inputs
    weight = random_weight(fn, example, rng)
    for name, f in (("f", fn), ("vg", weighted_value_and_grad(fn, example, weight))):
        path = tmp_path / f"{name}.onnx"
        tg.onnx.export(f, example, path)
        assert_outputs(run_onnx(path, *new), tinygrad_outputs(f, new), rtol=1e-12)


def scalar_function(v):
    return tg.sin(v).sum() * (v * v).sum() + tg.exp(v[0] * v[1]) + tg.log_softmax(v, axis=0)[2]


def test_hessian_is_exported(tmp_path):
    rng = np.random.default_rng(5)
    h = tg.hessian(scalar_function)
    path = tmp_path / "h.onnx"
    tg.onnx.export(h, (rng.standard_normal(4),), path)
    new = rng.standard_normal(4)
    (got,) = run_onnx(path, new)
    assert got.shape == (4, 4)
    np.testing.assert_allclose(got, got.T, rtol=1e-12, atol=1e-13)
    assert_outputs([got], tinygrad_outputs(h, [new]), rtol=1e-12)


def test_jvp_and_jacfwd_are_exported_as_forward_rules(tmp_path, monkeypatch):
    """While exporting, tg.jvp's forward rules run as operations the exporter records (no
    reverse pass); jacfwd is one jvp per column there."""
    from tinygrad_mv import functional

    def no_reverse(*args, **kwargs):
        raise AssertionError("jvp fell back on two reverse passes")
    monkeypatch.setattr(functional, "jvp_by_reverse", no_reverse)
    rng = np.random.default_rng(8)
    jvp = lambda x, v: tg.jvp(scalar_function, (x,), (v,))  # noqa: E731
    path = tmp_path / "jvp.onnx"
    tg.onnx.export(jvp, (rng.standard_normal(4), rng.standard_normal(4)), path)
    new = [rng.standard_normal(4), rng.standard_normal(4)]
    got = run_onnx(path, *new)
    assert_outputs(got, tinygrad_outputs(jvp, new), rtol=1e-12)
    # the tangent is the gradient's dot product with v
    np.testing.assert_allclose(got[1], tg.grad(scalar_function)(new[0]).data @ new[1],
                               rtol=1e-12)
    jac = tg.jacfwd(lambda x: tg.tanh(x * x[::-1]))
    path = tmp_path / "jacfwd.onnx"
    tg.onnx.export(jac, (rng.standard_normal(3),), path)
    x = rng.standard_normal(3)
    (got,) = run_onnx(path, x)
    np.testing.assert_allclose(got, tg.jacrev(lambda x: tg.tanh(x * x[::-1]))(x).data,
                               rtol=1e-12, atol=1e-14)


def test_grad_of_grad_is_exported(tmp_path):
    path = tmp_path / "gg.onnx"
    gg = tg.grad(lambda v: (tg.grad(scalar_function)(v) ** 2).sum())
    rng = np.random.default_rng(6)
    tg.onnx.export(gg, (rng.standard_normal(4),), path)
    new = rng.standard_normal(4)
    assert_outputs(run_onnx(path, new), tinygrad_outputs(gg, [new]), rtol=1e-12)
    # a scalar second derivative checked against its formula too
    d2 = tg.grad(tg.grad(lambda s: s ** 3 * tg.sin(s)))
    tg.onnx.export(d2, (np.array(0.7),), path)
    s = 0.9
    (got,) = run_onnx(path, np.array(s))
    want = 6 * s * np.sin(s) + 6 * s * s * np.cos(s) - s ** 3 * np.sin(s)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_value_and_grad_with_some_argnums(tmp_path):
    path = tmp_path / "vg.onnx"
    f = tg.value_and_grad(lambda a, b, c: (a * b / c).sum(), argnums=(2, 0))
    example = [np.full(3, 2.0), np.arange(1.0, 4.0), np.full(3, 4.0)]
    tg.onnx.export(f, example, path)
    new = [np.array([1.0, -2.0, 0.5]), np.array([3.0, 1.0, 2.0]), np.array([2.0, 5.0, -1.0])]
    got = run_onnx(path, *new)
    assert len(got) == 3  # value, then d/dc and d/da in the argnums' order
    np.testing.assert_allclose(got[1], -new[0] * new[1] / new[2] ** 2, rtol=1e-12)
    np.testing.assert_allclose(got[2], new[1] / new[2], rtol=1e-12)


# --- 5. names ------------------------------------------------------------------------------------
def test_default_names_and_returned_path(tmp_path):
    path = tmp_path / "m.onnx"
    result = tg.onnx.export(lambda a, b: (a * b, a - b), (np.ones(2), np.ones(2)), str(path))
    assert Path(result) == path and path.is_file()
    sess = session(path)
    assert [i.name for i in sess.get_inputs()] == ["input_0", "input_1"]
    assert [o.name for o in sess.get_outputs()] == ["output_0", "output_1"]


def test_custom_names_in_model_and_session(tmp_path):
    path = tmp_path / "m.onnx"
    tg.onnx.export(lambda a, b: (a * b, a - b), (np.ones(2), np.ones(2)), path,
                   input_names=["x", "y"], output_names=["product", "difference"])
    model = load_checked(path)
    assert [i.name for i in model.graph.input] == ["x", "y"]
    assert [o.name for o in model.graph.output] == ["product", "difference"]
    sess = session(path)
    x, y = np.array([1.5, -2.0]), np.array([3.0, 0.5])
    out = sess.run(["difference", "product"], {"y": y, "x": x})  # by name, in any order
    np.testing.assert_array_equal(out[0], x - y)
    np.testing.assert_array_equal(out[1], x * y)


@pytest.mark.parametrize("names", [
    dict(input_names=["x"]), dict(input_names=["x", "y", "z"]), dict(input_names=["x", "x"]),
    dict(input_names=["x", ""]), dict(input_names=["x", 3]), dict(output_names=[]),
    dict(output_names=["u", "v"]),
], ids=["too few inputs", "too many inputs", "duplicate inputs", "empty name",
        "not a string", "no outputs", "too many outputs"])
def test_bad_names_raise_value_error(names, tmp_path):
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="names"):
        tg.onnx.export(lambda a, b: a * b, (np.ones(2), np.ones(2)), path, **names)
    assert not path.exists()


def test_output_named_as_an_input_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="names"):
        tg.onnx.export(lambda a: a * 2, (np.ones(2),), tmp_path / "m.onnx", input_names=["x"],
                       output_names=["x"])


OFFSET = np.array([10.0, 20.0, 30.0])


def add_offset(a, b):
    return a * b + OFFSET


def test_input_named_like_a_generated_value(tmp_path):
    example = (np.ones((2, 3)), np.ones(3))
    plain = tg.onnx.export(add_offset, example, tmp_path / "plain.onnx")
    (constant,) = [i.name for i in load_checked(plain).graph.initializer]  # OFFSET's name
    path = tmp_path / "named.onnx"
    try:
        tg.onnx.export(add_offset, example, path, input_names=["a", constant])
    except ValueError:
        return  # refusing the clash is fine too
    new = (np.arange(6.0).reshape(2, 3), np.array([2.0, -1.0, 0.5]))
    assert_outputs(run_onnx(path, *new), [add_offset(*new)], rtol=1e-12)


def test_input_named_like_a_parameter(tmp_path):
    layer = tg.nn.Linear(3, 2, rng=0)
    path = tmp_path / "layer.onnx"
    try:
        tg.onnx.export(layer, (np.ones((2, 3)),), path, input_names=["weight"])
    except ValueError:
        return
    x = np.arange(6.0).reshape(2, 3)
    assert_outputs(run_onnx(path, x), [layer(tg.Tensor(x)).data], rtol=1e-12)



class ParametersNamedLikeValues(tg.nn.Module):
    """Parameters whose names are those the export gives the values it makes (mul_2, ...)."""

    def __init__(self) -> None:
        super().__init__()
        for i in range(1, 12):
            for hint in ("mul", "add", "const"):
                setattr(self, f"{hint}_{i}", tg.nn.Parameter(np.full(3, float(i))))

    def forward(self, x):
        for i in range(1, 12):
            x = x * 2.0 + getattr(self, f"mul_{i}") * getattr(self, f"const_{i}")
            x = x + getattr(self, f"add_{i}")
        return x


def test_parameters_named_like_generated_values(tmp_path):
    model = ParametersNamedLikeValues()
    path = tg.onnx.export(model, (np.ones(3),), tmp_path / "m.onnx")
    names = {i.name for i in load_checked(path).graph.initializer}
    assert set(model.state_dict()) <= names
    x = np.array([0.5, -1.0, 2.0])
    assert_outputs(run_onnx(path, x), [model(tg.Tensor(x)).data], rtol=1e-12)

def test_names_given_as_one_string_are_refused(tmp_path):
    path = tmp_path / "m.onnx"
    with pytest.raises((TypeError, ValueError)):
        tg.onnx.export(lambda a, b: a * b, (np.ones(2), np.ones(2)), path, input_names="xy")
    assert not path.exists()



def test_names_given_by_an_iterator_are_read_once(tmp_path):
    """output_names read twice (reserved, then checked): an iterator was empty the second
    time, and the export refused the names it was given."""
    path = tg.onnx.export(lambda a: a * 2, (np.ones(2),), tmp_path / "m.onnx",
                          input_names=iter(["x"]), output_names=iter(["y"]))
    sess = session(path)
    assert [i.name for i in sess.get_inputs()] == ["x"]
    assert [o.name for o in sess.get_outputs()] == ["y"]


@pytest.mark.parametrize("key", ["input_names", "output_names"])
def test_names_that_are_no_sequence_are_refused_naming_the_argument(key, tmp_path):
    with pytest.raises(TypeError, match=f"onnx.export: {key} must be a sequence"):
        tg.onnx.export(lambda a: a * 2, (np.ones(2),), tmp_path / "m.onnx", **{key: 5})
    assert list(tmp_path.iterdir()) == []

# --- 6. what cannot be exported, bad input, atomic writes -----------------------------------------
def uses_inverse(a):
    return np.linalg.inv(a) * 2.0  # the line the message must name


def uses_arcsin(a):
    return tg.arcsin(a * 0.1) + a


@pytest.mark.parametrize("fn, op", [(uses_inverse, "inv"), (uses_arcsin, "arcsin")])
def test_unsupported_operation_names_it_and_the_line(fn, op, tmp_path):
    assert op not in EMITTERS, f"{op} is exportable now: pick an operation EMITTERS lacks"
    path = tmp_path / "m.onnx"
    message = assert_unsupported(lambda: tg.onnx.export(fn, (np.eye(3) * 2,), path), path, [op])
    assert f"test_onnx.py:{fn.__code__.co_firstlineno + 1}" in message


def test_sort_is_refused_naming_its_argsort(tmp_path):
    path = tmp_path / "m.onnx"
    assert "sort" not in EMITTERS
    # the order is read from the data by an argsort before sort is recorded
    with pytest.raises(ExportError) as info:
        tg.onnx.export(lambda a: tg.sort(a, axis=0), (np.eye(2),), path)
    message = str(info.value)
    assert "argsort" in message and "recorded value" in message, message
    assert "test_onnx.py" in message
    assert not path.exists()


def test_refused_numpy_call_is_named_plainly(tmp_path):
    with pytest.raises(ExportError) as info:
        tg.onnx.export(lambda a: tg.sort(a, axis=0), (np.eye(2),), tmp_path / "m.onnx")
    message = str(info.value)
    assert "np.argsort on a recorded value" in message
    assert "functools" not in message and " at 0x" not in message


def test_index_computed_from_the_data_is_refused(tmp_path):
    path = tmp_path / "m.onnx"
    message = assert_unsupported(
        lambda: tg.onnx.export(lambda a: a[a > 0] * 2, (np.array([1.0, -1.0, 2.0]),), path),
        path, ["getitem"])
    assert "index is computed from the inputs" in message


def test_backward_inside_f_points_to_tg_grad(tmp_path):
    def f(a):
        y = (a * a).sum()
        y.backward()
        return a.grad

    path = tmp_path / "m.onnx"
    with pytest.raises(ExportError, match=r"tg\.grad"):
        tg.onnx.export(f, (np.ones(2),), path)
    assert not path.exists()


def item_read(a):
    return a * a.sum().item()  # the line the message must name


def in_place(a):
    h = a * 1.0
    h *= a  # the line the message must name
    return h


@pytest.mark.parametrize("fn, offset", [(item_read, 1), (in_place, 2)],
                         ids=["item()", "in-place *="])
def test_refused_reads_and_writes_name_the_line(fn, offset, tmp_path):
    with pytest.raises(ExportError) as info:
        tg.onnx.export(fn, (np.ones(2),), tmp_path / "m.onnx")
    message = str(info.value)
    assert f"test_onnx.py:{fn.__code__.co_firstlineno + offset}" in message, message
    assert "tg.jit" not in message, message


def test_asarray_inside_f_is_refused_or_followed(tmp_path):
    def f(a):
        return a * np.asarray(a).sum()

    path = tmp_path / "m.onnx"
    try:
        tg.onnx.export(f, (np.ones(3),), path)
    except ExportError:
        return  # refusing it is fine too
    new = np.array([1.0, 2.0, 4.0])
    assert_outputs(run_onnx(path, new), [new * new.sum()], rtol=1e-12)


def test_integer_inputs_become_float64(tmp_path):
    path = tmp_path / "m.onnx"
    tg.onnx.export(lambda a: a * 0.5, (np.array([1, 2, 3]),), path)
    sess = session(path)
    assert sess.get_inputs()[0].type == "tensor(double)"
    np.testing.assert_array_equal(run_onnx(path, np.array([1.5, 3.0, -1.0]))[0],
                                  [0.75, 1.5, -0.5])


def test_array_and_tensor_examples_keep_their_dtype(tmp_path):
    path = tmp_path / "m.onnx"
    # one array alone (no tuple), a float32 Tensor, a Python number: all accepted
    tg.onnx.export(lambda a: a * 2, np.ones(2), path)
    assert session(path).get_inputs()[0].type == "tensor(double)"
    tg.onnx.export(lambda a: a * 2, (tg.Tensor(np.ones(2), dtype=np.float32),), path)
    assert session(path).get_inputs()[0].type == "tensor(float)"
    tg.onnx.export(lambda a: a * a, (2.5,), path)
    assert run_onnx(path, np.array(3.0))[0] == 9.0


def bad_calls():
    """{kind: (call(path), error)} for every kind of bad argument."""
    two = (np.ones(2), np.ones(2))
    return {
        "unsupported op": (lambda p: tg.onnx.export(uses_inverse, (np.eye(2),), p), ExportError),
        "returns a number": (lambda p: tg.onnx.export(lambda a: 3.0, two[:1], p), TypeError),
        "returns a string": (lambda p: tg.onnx.export(lambda a: "a", two[:1], p), TypeError),
        "returns None": (lambda p: tg.onnx.export(lambda a: None, two[:1], p), TypeError),
        "returns a Tensor and a number": (lambda p: tg.onnx.export(lambda a: (a, 1.0), two[:1],
                                                                   p), TypeError),
        "inputs a string": (lambda p: tg.onnx.export(lambda a: a, "abc", p), TypeError),
        "inputs a dict": (lambda p: tg.onnx.export(lambda a: a, {"a": np.ones(2)}, p),
                          TypeError),
        "input a string": (lambda p: tg.onnx.export(lambda a: a, ("abc",), p), TypeError),
        "input a list": (lambda p: tg.onnx.export(lambda a: a, ([1.0, 2.0],), p), TypeError),
        "input a bool": (lambda p: tg.onnx.export(lambda a: a, (True,), p), TypeError),
        "input complex": (lambda p: tg.onnx.export(lambda a: a, (np.ones(2) * 1j,), p),
                          TypeError),
        "input object": (lambda p: tg.onnx.export(lambda a: a, (np.array([1.0, None]),), p),
                         TypeError),
        "input bool array": (lambda p: tg.onnx.export(lambda a: a, (np.ones(2, bool),), p),
                             TypeError),
        "input float16": (lambda p: tg.onnx.export(lambda a: a, (np.ones(2, np.float16),), p),
                          TypeError),
        "f not callable": (lambda p: tg.onnx.export(np.ones(2), two[:1], p), TypeError),
        "opset 9": (lambda p: tg.onnx.export(lambda a: a, two[:1], p, opset=9), ValueError),
        "opset 17": (lambda p: tg.onnx.export(lambda a: a, two[:1], p, opset=17), ValueError),
        "opset too new": (lambda p: tg.onnx.export(lambda a: a, two[:1], p,
                                                   opset=onnx.defs.onnx_opset_version() + 1),
                          ValueError),
        "duplicate names": (lambda p: tg.onnx.export(lambda a, b: a, two, p,
                                                     input_names=["x", "x"]), ValueError),
        "f raises": (lambda p: tg.onnx.export(lambda a: a.reshape(5), two[:1], p), ValueError),
    }


BAD_CALLS = bad_calls()


@pytest.mark.parametrize("kind", list(BAD_CALLS))
def test_errors_leave_no_file_and_keep_an_old_one(kind, tmp_path):
    call, error = BAD_CALLS[kind]
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "m.onnx"
    with pytest.raises(error):
        call(path)
    assert list(folder.iterdir()) == []  # no model, no temporary file
    old = b"an earlier model"
    path.write_bytes(old)
    with pytest.raises(error):
        call(path)
    assert path.read_bytes() == old
    assert list(folder.iterdir()) == [path]
    # the recording ended: the next export works
    tg.onnx.export(lambda a: a * 3, (np.ones(2),), path)
    np.testing.assert_array_equal(run_onnx(path, np.array([1.0, 2.0]))[0], [3.0, 6.0])


def test_missing_folder_raises_file_not_found(tmp_path):
    path = tmp_path / "missing" / "m.onnx"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tg.onnx.export(lambda a: a, (np.ones(2),), path)
    assert not path.parent.exists()


def test_a_file_in_place_of_the_folder_is_named_as_no_folder(tmp_path):
    """It said "the folder .../notes.txt does not exist" of a file that does."""
    (tmp_path / "notes.txt").write_text("notes")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        tg.onnx.export(lambda a: a, (np.ones(2),), tmp_path / "notes.txt" / "m.onnx")
    assert (tmp_path / "notes.txt").read_text() == "notes"


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    from tinygrad_mv.onnx import graph

    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "m.onnx"
    path.write_bytes(b"an earlier model")

    def broken_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(graph.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        tg.onnx.export(lambda a: a * 2, (np.ones(2),), path)
    assert path.read_bytes() == b"an earlier model"
    assert list(folder.iterdir()) == [path]  # the temporary file is gone



def test_a_folder_it_may_not_write_is_named_by_the_path_given(tmp_path, monkeypatch):
    """The error named the temporary file (.m.onnx.1a2b3c4d.tmp), not the path, nor the call.
    (os.open is made to refuse: permissions do not bind root.)"""
    from tinygrad_mv import files

    def refused(name, *args, **kwargs):
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(files.os, "open", refused)
    path = tmp_path / "m.onnx"
    with pytest.raises(PermissionError) as info:
        tg.onnx.export(lambda a: a * 2, (np.ones(2),), path)
    message = str(info.value)
    assert "onnx.export" in message and repr(str(path)) in message, message
    assert ".tmp" not in message, message
    assert list(tmp_path.iterdir()) == []

@pytest.mark.parametrize("opset", [18, onnx.defs.onnx_opset_version()])
def test_supported_opsets_are_written_and_run(opset, tmp_path):
    path = tmp_path / "m.onnx"
    f = tg.value_and_grad(lambda a: (tg.softmax(a, axis=0) * a).sum() + tg.logsumexp(a, axis=0))
    tg.onnx.export(f, (np.arange(4.0),), path, opset=opset)
    assert [o.version for o in load_checked(path).opset_import if o.domain == ""] == [opset]
    new = np.array([0.5, -1.0, 2.0, 0.0])
    assert_outputs(run_onnx(path, new), tinygrad_outputs(f, [new]), rtol=1e-12)


def test_non_integer_opset_is_refused(tmp_path):
    with pytest.raises((TypeError, ValueError)):
        tg.onnx.export(lambda a: a, (np.ones(2),), tmp_path / "m.onnx", opset=18.7)


@pytest.mark.parametrize("combine", ["and", "or"])
def test_mask_arithmetic_is_exported(combine, tmp_path):
    def f(a, b):
        mask = (a > 0) * (b > 0) if combine == "and" else (a > 0) + (b > 0)
        return tg.where(mask, a, b)

    path = tmp_path / "m.onnx"
    tg.onnx.export(f, (np.array([1.0, -1.0, 2.0]), np.array([1.0, 1.0, -1.0])), path)
    new = (np.array([-1.0, 2.0, 3.0, ]), np.array([1.0, 1.0, -2.0]))
    assert_outputs(run_onnx(path, *new), tinygrad_outputs(f, new), rtol=1e-12)


# --- 7. the onnx extra ---------------------------------------------------------------------------
def test_missing_onnx_raises_import_error_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    path = tmp_path / "m.onnx"
    with pytest.raises(ImportError, match=r"tinygrad_mv\[onnx\]"):
        tg.onnx.export(lambda a: a, (np.ones(2),), path)
    assert not path.exists()


def test_importing_tinygrad_mv_does_not_import_onnx():
    code = ("import sys, tinygrad_mv as tg; tg.onnx.ExportError; "
            "print('onnx' in sys.modules, 'onnxruntime' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr


def test_cli_without_onnx_prints_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)
    path = tmp_path / "m.onnx"
    code = cli.main(["export", "--model", "gaussian", "--out", str(path)])
    assert code == 2
    assert 'pip install "tinygrad_mv[onnx]"' in capsys.readouterr().err
    assert not path.exists()


# --- 8. the command line -------------------------------------------------------------------------
def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


EXPRESSIONS = {
    "sum(exp(x)*w)": ("x=[1,2,3],w=[0.5,0.2,0.1]",
                      lambda x, w: (tg.exp(x) * w).sum(), ["x", "w"]),
    "sum(tanh(x*w) + log(square(x) + 1)) * mean(sigmoid(w))": (
        "x=[0.5,-1,2],w=[1,2,-0.5]",
        lambda x, w: (tg.tanh(x * w) + tg.log(tg.square(x) + 1)).sum() * tg.sigmoid(w).mean(),
        ["x", "w"]),
    "x*x*sin(x)": ("x=0.5", lambda x: x * x * tg.sin(x), ["x"]),
}


@pytest.mark.parametrize("text", list(EXPRESSIONS))
def test_cli_expression_with_grad(text, tmp_path, capsys):
    at, fn, names = EXPRESSIONS[text]
    path = tmp_path / "f.onnx"
    code, out, err = run_cli(capsys, "export", "--model", text, "--at", at, "--out", str(path),
                             "--grad")
    assert code == 0, err
    assert f"wrote {path}" in out
    sess = session(path)
    assert [i.name for i in sess.get_inputs()] == names
    assert [o.name for o in sess.get_outputs()] == ["value"] + [f"grad_{n}" for n in names]
    rng = seeded(text)
    new = [rng.standard_normal(tuple(i.shape)) for i in sess.get_inputs()]
    want = tinygrad_outputs(tg.value_and_grad(fn, argnums=tuple(range(len(names)))), new)
    assert_outputs(run_onnx(path, *new), want, rtol=1e-12)


def test_cli_expression_value_only(tmp_path, capsys):
    path = tmp_path / "f.onnx"
    code, _, err = run_cli(capsys, "export", "--model", "sum(exp(x)*w)", "--at",
                           "x=[1,2,3],w=[0.5,0.2,0.1]", "--out", str(path))
    assert code == 0, err
    x, w = np.array([0.1, -0.2, 0.3]), np.array([2.0, 1.0, 0.5])
    assert_outputs(run_onnx(path, x, w), [np.asarray(np.sum(np.exp(x) * w))], rtol=1e-12)


def test_cli_gaussian(tmp_path, capsys):
    centres, density, _ = gaussian_app.histogram(datasets.heights())

    def chi2(mu, sigma):
        return gaussian_app.chi_squared(gaussian_app.gaussian_pdf, centres, density, mu, sigma)

    path = tmp_path / "chi2.onnx"
    code, _, err = run_cli(capsys, "export", "--model", "gaussian", "--grad", "--out", str(path))
    assert code == 0, err
    sess = session(path)
    assert [i.name for i in sess.get_inputs()] == ["mu", "sigma"]
    assert [o.name for o in sess.get_outputs()] == ["value", "grad_mu", "grad_sigma"]
    f = tg.value_and_grad(chi2, argnums=(0, 1))
    for point in [(158.0, 6.5), (170.0, 9.0)]:
        arrays = [np.array(v) for v in point]
        assert_outputs(run_onnx(path, *arrays), tinygrad_outputs(f, arrays), rtol=1e-12)
    code, _, err = run_cli(capsys, "export", "--model", "gaussian", "--at", "mu=160,sigma=7",
                           "--out", str(path))
    assert code == 0, err
    arrays = [np.array(162.0), np.array(8.0)]
    assert_outputs(run_onnx(path, *arrays), tinygrad_outputs(chi2, arrays), rtol=1e-12)


def test_cli_curve_network(tmp_path, capsys):
    path = tmp_path / "curve.onnx"
    code, _, err = run_cli(capsys, "export", "--model", "curve", "--steps", "5", "--out",
                           str(path))
    assert code == 0, err
    model = load_checked(path)
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    net = curve_app.make_network()
    assert sorted(weights) == sorted(net.state_dict())
    assert [i.name for i in model.graph.input] == ["t"]
    net.load_state_dict(weights)  # the trained weights, in tinygrad_mv
    t = np.random.default_rng(8).uniform(0.0, 1.0, (100, 1))
    assert_outputs(run_onnx(path, t), [net(tg.Tensor(t)).data], rtol=1e-12)


def test_cli_curve_gradient(tmp_path, capsys):
    path = tmp_path / "cost.onnx"
    code, _, err = run_cli(capsys, "export", "--model", "curve", "--grad", "--steps", "5",
                           "--out", str(path))
    assert code == 0, err
    net = curve_app.make_network()
    names = list(net.state_dict())
    sess = session(path)
    assert [i.name for i in sess.get_inputs()] == ["t", *names]
    assert [o.name for o in sess.get_outputs()] == ["value"] + [f"grad_{n}" for n in names]
    rng = np.random.default_rng(9)
    t = np.sort(rng.uniform(0.0, 1.0, (100, 1)), axis=0)
    params = {n: rng.standard_normal(np.shape(v)) for n, v in net.state_dict().items()}
    got = run_onnx(path, t, *params.values())
    # the course's cost of the network with these weights, differentiated by tinygrad_mv
    net.load_state_dict(params)
    _, xy = datasets.curve("heart")
    cost = curve_app.cost(net, t, xy)
    cost.backward()
    grads = dict(net.named_parameters())
    want = [cost.data] + [grads[n].grad.data for n in names]
    assert_outputs(got, want, rtol=1e-12)


@pytest.mark.parametrize("argv", [
    ["--model", "nosuchfn(x)", "--at", "x=1"],
    ["--model", "sum(x*y)", "--at", "x=1"],
    ["--model", "sum(x)"],
    ["--model", "curve", "--at", "x=1"],
    ["--model", "curve", "--steps", "-1"],
    ["--model", "gaussian", "--at", "nu=1"],
    ["--model", "x", "--at", "x=1", "--opset", "9"],
    ["--model", "2*pi", "--grad"],
], ids=["unknown function", "unknown name", "no --at", "--at with curve", "negative steps",
        "gaussian --at nu", "opset 9", "--grad without inputs"])
def test_cli_errors_return_2_and_write_nothing(argv, tmp_path, capsys):
    path = tmp_path / "m.onnx"
    code, _, err = run_cli(capsys, "export", *argv, "--out", str(path))
    assert code == 2
    assert err.startswith("tinygrad-mv export: error: ") and len(err.strip()) > 30, err
    assert not path.exists()


def test_cli_grad_of_an_expression_without_inputs_says_so(tmp_path, capsys):
    code, _, err = run_cli(capsys, "export", "--model", "2*pi", "--grad", "--out",
                           str(tmp_path / "m.onnx"))
    assert code == 2 and "--grad: '2*pi' has no inputs to differentiate" in err


def test_cli_missing_folder_returns_2(tmp_path, capsys):
    path = tmp_path / "missing" / "m.onnx"
    code, _, err = run_cli(capsys, "export", "--model", "x", "--at", "x=1", "--out", str(path))
    assert code == 2 and "does not exist" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the folder should be: not "does not exist"
    code, _, err = run_cli(capsys, "export", "--model", "x", "--at", "x=1", "--out",
                           str(blocker / "m.onnx"))
    assert code == 2 and f"{str(blocker)!r} is not a folder" in err


# --- edge values and dtypes the runtime treats otherwise -----------------------------------------
def test_sigmoid_keeps_full_precision_for_negative_inputs(tmp_path):
    """ONNX Runtime's own float64 Sigmoid is off by 1e-3 at -30: the export composes it."""
    x = np.array([-700.0, -40.0, -30.0, -15.0, -5.0, -1e-9, 0.0, 1e-9, 5.0, 40.0, 700.0])
    path = tmp_path / "sigmoid.onnx"
    tg.onnx.export(tg.sigmoid, (x,), path)
    (got,) = run_onnx(path, x)
    want = tg.sigmoid(x).data
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
    by_hand = np.exp(-np.logaddexp(0.0, -x))
    np.testing.assert_allclose(got, by_hand, rtol=1e-14, atol=0)


def test_a_float32_value_compared_with_a_number_compares_in_float32(tmp_path):
    """NumPy compares float32 with 0.1 in float32 (0.1f == float32(0.1)): so does the model,
    in masks of where, clip's and maximum's gradients alike."""
    a = np.array([0.1, 0.3, 0.7], np.float32)
    cases = [lambda t: tg.where(t > 0.1, t, 0.0), lambda t: (t == 0.1) * t,
             tg.grad(lambda t: t.clip(0.1, 0.3).sum()),
             tg.grad(lambda t: tg.maximum(t, 0.1).sum())]
    for i, f in enumerate(cases):
        path = tmp_path / f"compare{i}.onnx"
        tg.onnx.export(f, (a,), path)
        np.testing.assert_array_equal(run_onnx(path, a)[0], f(tg.Tensor(a)).data)


def test_maximum_and_minimum_reductions_are_nan_where_a_value_is(tmp_path):
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, np.nan], [7.0, 8.0, 9.0]])
    cases = [lambda t: t.max(), lambda t: t.min(axis=1), lambda t: t.max(axis=0, keepdims=True),
             lambda t: tg.linalg.norm(t, ord=np.inf, axis=1)]
    for i, f in enumerate(cases):
        path = tmp_path / f"reduce{i}.onnx"
        tg.onnx.export(f, (x,), path)
        np.testing.assert_array_equal(run_onnx(path, x)[0], f(tg.Tensor(x)).data)


def test_what_the_runtime_refused_to_run_now_runs(tmp_path):
    cases = [
        (lambda t: np.pad(t, 1, constant_values=np.nan), np.array([1.0, 2.0])),
        (lambda t: np.pad(t, (0, 2), constant_values=np.inf), np.array([1.0, 2.0])),
        (lambda t: t.clip(np.array([0.0, 2.0, 4.0]), 5.0), np.array([1.0, 1.0, 9.0])),
        (lambda t: t.clip(None, np.array([[0.5], [2.0]])), np.array([1.0, 3.0])),
        (lambda t: t.reshape(3, 0), np.zeros((0, 3))),
    ]
    for i, (f, x) in enumerate(cases):
        path = tmp_path / f"runs{i}.onnx"
        tg.onnx.export(f, (x,), path)
        (got,) = run_onnx(path, x)
        want = f(tg.Tensor(x)).data
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_a_function_returning_no_tensor_is_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "empty.onnx"
    with pytest.raises(tg.onnx.ExportError, match="returned no Tensor"):
        tg.onnx.export(lambda t: (), (np.ones(2),), path)
    assert not path.exists()


@pytest.mark.parametrize("f", [lambda t: t[np.argmax(t)], lambda t: t * 2.0 if np.any(t > 3) else t,
                               lambda t: t * np.count_nonzero(t > 1),
                               lambda t: t * np.select([t > 1.5], [1.0], 0.0),
                               lambda t: t * len(np.where(t > 1.5)[0])],
                         ids=["argmax-index", "any-branch", "count-factor", "select-in-a-list",
                              "where-positions"])
def test_a_value_read_by_numpy_is_refused_not_frozen(f, tmp_path):
    """np.argmax(t) would be a constant of the model: run on other inputs it would pick the
    recording's position (0.0 instead of 9.0 on [9, 0, 1])."""
    path = tmp_path / "frozen.onnx"
    with pytest.raises(tg.onnx.ExportError, match=r"reads a Tensor's values while recording"):
        tg.onnx.export(f, (np.array([1.0, 5.0, 2.0]),), path)
    assert not path.exists()
    with pytest.raises(tg.JitError, match=r"reads a Tensor's values while recording"):
        tg.jit(f)(np.array([1.0, 5.0, 2.0]))
    np.testing.assert_array_equal(f(tg.Tensor(np.array([9.0, 0.0, 1.0]))).data,
                                  f(np.array([9.0, 0.0, 1.0])))  # eagerly it is NumPy's


def test_shapes_read_by_numpy_may_be_recorded(tmp_path):
    path = tmp_path / "shape.onnx"
    f = lambda t: t.reshape(np.shape(t)[0] * np.ndim(t), 1)  # noqa: E731
    tg.onnx.export(f, (np.ones(3),), path)
    np.testing.assert_array_equal(run_onnx(path, np.arange(3.0))[0], np.arange(3.0)[:, None])


@pytest.mark.parametrize("name, arrays", [
    ("expm1", (np.array([-750.0, -30.0, -1e-8, 0.0, 1e-8, 1.0, 30.0, 705.0, 710.0, 750.0]),)),
    ("sinh", (np.array([-750.0, -710.0, -705.0, -30.0, -1e-8, 0.0, 1.0, 30.0, 705.0, 710.0]),)),
    ("cosh", (np.array([-710.0, -705.0, -21.0, -1.0, 0.0, 1e-8, 19.0, 705.0, 710.0, 750.0]),)),
    ("log1p", (np.array([np.inf, 1e300, 1e-20, -0.5, 0.0]),)),
    ("hypot", (np.array([1e300, 3.0, 0.0, np.inf, -1e-300, np.nan, -np.inf, np.nan]),
               np.array([2.0, 4.0, 0.0, 1.0, 1e-300, np.inf, np.nan, 1.0]))),
    ("logsumexp", (np.array([[np.inf, 1.0], [-np.inf, -np.inf], [1.0, 2.0], [-np.inf, 3.0]]),)),
])
def test_functions_near_the_ends_of_the_float_range_match_eager(name, arrays, tmp_path):
    """Written with the functions ONNX has, they overflowed (expm1(705), cosh(710),
    hypot(1e300, 2)) or made NaN (log1p(inf), inf - inf in logsumexp, hypot(inf, nan)) where
    NumPy does not."""
    f = getattr(tg, name)
    if name == "logsumexp":
        f = lambda t: tg.logsumexp(t, axis=1)  # noqa: E731
    path = tmp_path / f"{name}.onnx"
    with np.errstate(all="ignore"):
        tg.onnx.export(f, arrays, path)
        want = f(*[tg.Tensor(a) for a in arrays]).data
    (got,) = run_onnx(path, *arrays)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_float32_gradient_masks_follow_new_inputs(tmp_path):
    """Beside float32 values a bool mask (relu's x > 0, clip's bounds) is made float32 by the
    product: that conversion was a constant of the model, the recording's mask frozen."""
    a = np.array([1.0, -1.0, 0.2, -0.2], np.float32)
    new = -a
    cases = [lambda t: t.relu().sum(), lambda t: t.clip(-0.5, 0.5).sum(),
             lambda t: np.linalg.norm(t, np.inf)]
    for i, f in enumerate(cases):
        path = tmp_path / f"mask{i}.onnx"
        tg.onnx.export(tg.grad(f), (a,), path)
        want = tg.grad(f)(new).data
        assert want.dtype == np.float32
        np.testing.assert_array_equal(run_onnx(path, new)[0], want)


def test_empty_intermediate_values_run_on_new_inputs(tmp_path):
    """An empty slice's gradient broadcast a number to a shape with a 0: ONNX Runtime's Expand
    made one element per 0 there, and the scatter after it failed when run."""
    f = tg.value_and_grad(lambda a: (a[:, :0].sum(axis=1) * 1.5).sum() + (a * a).sum())
    path = tmp_path / "empty.onnx"
    tg.onnx.export(f, (np.ones((2, 3, 4)),), path)
    new = np.arange(24.0).reshape(2, 3, 4)
    assert_outputs(run_onnx(path, new), tinygrad_outputs(f, [new]), rtol=1e-12)


@pytest.mark.parametrize("f", [
    lambda t: tg.where((t > 0) & (t < 1), t, 0.0), lambda t: tg.where((t > 1) | (t < -1), t, 0.0),
    lambda t: tg.where((t > 0) ^ (t < 1), t, 0.0), lambda t: tg.where(~(t > 0), t, 0.0),
    lambda t: tg.where(np.isfinite(t), t, 0.0), lambda t: tg.where(np.isinf(t), 0.0, t),
    lambda t: tg.where(np.logical_and(t, t > -1), 1.0, t),
    lambda t: tg.where(np.logical_not(t > 0), t, 0.0),
    lambda t: tg.where(((t * 10).astype(np.int64) & 3) > 1, t, 0.0),
], ids=["and", "or", "xor", "invert", "isfinite", "isinf", "logical_and", "logical_not",
        "integer-and"])
def test_masks_combined_by_logic_follow_new_inputs(f, tmp_path):
    """&, |, ^ and ~ of comparisons (the Tensor API's masks), np.isfinite, np.logical_and, ...
    were refused as having no ONNX counterpart."""
    x = np.array([0.5, -2.0, 1.5, 0.0, np.inf, -0.25, np.nan])
    path = tmp_path / "logic.onnx"
    with np.errstate(invalid="ignore"):
        tg.onnx.export(f, (x,), path)
        for new in (x, np.array([-0.5, 2.0, 0.25, -np.inf, 0.0, np.nan, 3.0])):
            np.testing.assert_array_equal(run_onnx(path, new)[0], f(tg.Tensor(new)).data)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_bce_and_cross_entropy_losses_export_with_their_gradients(dtype, rtol, tmp_path):
    """The contract's losses BCELoss and CrossEntropyLoss (each one fused primitive) were
    refused as having no ONNX counterpart."""
    classes = np.array([0, 2, 1, 2])
    cases = [
        tg.value_and_grad(lambda a, t: tg.nn.BCELoss()(a.sigmoid(), t), argnums=(0, 1)),
        tg.value_and_grad(lambda a, t: tg.nn.BCELoss(reduction="sum")(a.sigmoid(), t)),
        tg.value_and_grad(lambda a, t: tg.nn.CrossEntropyLoss()(a * 30, classes) * t.sum()),
        lambda a, t: tg.nn.CrossEntropyLoss(reduction="none")(a, classes) * t[:, 0],
    ]
    rng = np.random.default_rng(7)
    example = (np.ones((4, 3), dtype), np.full((4, 3), 0.5, dtype))
    new = (rng.standard_normal((4, 3)).astype(dtype), rng.uniform(0, 1, (4, 3)).astype(dtype))
    for i, f in enumerate(cases):
        path = tmp_path / f"loss{i}.onnx"
        tg.onnx.export(f, example, path)
        assert_outputs(run_onnx(path, *new), tinygrad_outputs(f, new), rtol=rtol, dtype=dtype)

"""The rewrites tg.jit makes to a recorded program (tracing/optimizer.py): common subexpressions
merged, rules expanded, products with one dropped, buffers reused. A replay stays bitwise equal
to the eager run, never merges across an in-place write, never writes into a view, an input or
an array an earlier call returned."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv.tracing import optimizer
from tinygrad_mv.tracing.recorder import _add_in_place

from functions import rosenbrock


def net(W1, b1, W2, b2, x):
    a1 = (W1 @ x + b1).sigmoid()
    return ((W2 @ a1 + b2).sigmoid() ** 2).sum()


def chi2(mu, sig, x):
    f = tg.exp(-((x - mu) ** 2) / (2 * sig ** 2)) / (2.5 * sig)
    return ((x / 200.0 - f) ** 2).sum()


def reused(x, y):
    # x is read by several operations: its gradient is accumulated (in place) from them
    return (x * tg.exp(x) + tg.sin(x) * x - x / y + (x * y) ** 2).sum()


def program_of(jitted):
    (program,) = jitted.programs.values()
    return program


def leaves(result):
    if isinstance(result, (tuple, list)):
        return [leaf for r in result for leaf in leaves(r)]
    return [np.asarray(result.data)]


def compiled_source(f, args):
    """(tg.jit(f) called once on args, the source of the function its recording compiled to)."""
    from tinygrad_mv.tracing import program
    source = []
    real_compile = compile

    def compile_spy(text, *rest, **kwargs):
        source.append(text)
        return real_compile(text, *rest, **kwargs)

    program.compile = compile_spy
    try:
        jitted = tg.jit(f)
        jitted(*args)
    finally:
        del program.compile
    (text,) = source
    return jitted, text


def assert_bitwise(jitted, eager, make_args, calls=3):
    jitted(*make_args(0))
    for seed in range(1, calls + 1):
        args = make_args(seed)
        got, want = leaves(jitted(*args)), leaves(eager(*args))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            assert np.array_equal(g, w, equal_nan=True)


# --- common subexpressions ----------------------------------------------------------------------
def test_a_repeated_slice_and_function_is_computed_once():
    jitted = tg.jit(lambda x: tg.exp(x[:-1]) + tg.exp(x[:-1]))
    x = np.linspace(0.0, 1.0, 7)
    np.testing.assert_array_equal(jitted(x).data, 2 * np.exp(x[:-1]))
    assert len(program_of(jitted).steps) == 3  # slice, exp, add


def test_jvp_of_rosenbrock_slices_each_array_once():
    jitted = tg.jit(lambda x, v: tg.jvp(rosenbrock, (x,), (v,)))
    rng = np.random.default_rng(0)
    jitted(rng.standard_normal(50), rng.standard_normal(50))
    steps = program_of(jitted).steps
    slices = [(fn.keywords["index"], ins) for fn, ins, _ in steps
              if isinstance(fn, functools.partial) and "index" in fn.keywords]
    assert len(slices) == 4  # t[1:], t[:-1] of values and of tangents, once each
    assert len(steps) <= 24  # 26 without the merge


def test_different_slices_and_parameters_stay_apart():
    jitted = tg.jit(lambda x: x[1:] * x[:-1] + x[slice(0, 4)] * x[slice(0, True)].sum())
    x = np.arange(1.0, 6.0)
    want = x[1:] * x[:-1] + x[0:4] * x[0:1].sum()
    np.testing.assert_array_equal(jitted(x).data, want)
    np.testing.assert_array_equal(jitted(x + 1).data, (x + 1)[1:] * (x + 1)[:-1]
                                  + (x + 1)[0:4] * (x + 1)[0:1].sum())
    assert optimizer._fn_key(functools.partial(abs, i=1)) != optimizer._fn_key(
        functools.partial(abs, i=True))
    assert optimizer._fn_key(functools.partial(abs, i=0.0)) != optimizer._fn_key(
        functools.partial(abs, i=-0.0))
    assert optimizer._fn_key(functools.partial(abs, i=np.zeros(2))) is optimizer._NO


def test_no_merge_across_an_in_place_write():
    x, c = np.arange(3.0), np.ones(3)
    first = np.negative(x)
    values = [x, c, first, first, np.negative(x)]
    # slot 2 is written in place (into slot 3) after slot 4 repeats it: 4 keeps its own array
    program = [(np.negative, (0,), 2), (np.negative, (0,), 4), (_add_in_place, (2, 1), 3)]
    kept, remap = optimizer.merge_common(program, values)
    assert remap == {} and len(kept) == 3
    _add_in_place(first, c)
    # a write into the input in between: the later step reads other values
    values = [x, c, np.negative(x), x, np.negative(x)]
    program = [(np.negative, (0,), 2), (_add_in_place, (0, 1), 3), (np.negative, (0,), 4)]
    kept, remap = optimizer.merge_common(program, values)
    assert remap == {} and len(kept) == 3


def test_steps_that_are_not_functions_of_their_inputs_stay_apart():
    x = np.arange(3.0)
    values = [x, x + 1, x + 2]  # same function and inputs, different results: a random draw
    program = [(np.positive, (0,), 1), (np.positive, (0,), 2)]
    assert optimizer.merge_common(program, values)[1] == {}
    values = [x, x + 1, x + 1]
    assert optimizer.merge_common(program, values)[1] == {2: 1}


# --- products with one and rule expansion -------------------------------------------------------
def test_the_gradient_of_a_product_is_the_other_factor():
    jitted = tg.jit(tg.grad(lambda a, b: (a * b + a).sum(), argnums=(0, 1)))
    a, b = np.random.default_rng(4).standard_normal((2, 3, 3))
    ga, gb = jitted(a, b)
    np.testing.assert_array_equal(ga.data, b + 1)
    np.testing.assert_array_equal(gb.data, a)
    assert gb.data is not a  # an argument handed back is copied
    assert len(program_of(jitted).steps) == 1  # 1 + b; (ones * b, ones * a dropped)


def test_a_product_with_ones_written_in_place_later_is_kept():
    x, ones, c = np.arange(3.0), np.ones(3), np.full(3, 2.0)
    product = np.multiply(ones, x) + 0.0
    values = [x, ones, c, product, product]
    program = [(np.multiply, (1, 0), 3), (_add_in_place, (3, 2), 4)]
    kept, remap = optimizer.drop_unit_products(program, values, {1: ones, 2: c})
    assert remap == {} and len(kept) == 2  # else the write would go into the argument x


# --- buffer reuse -------------------------------------------------------------------------------
def test_buffers_are_reused_and_results_of_earlier_calls_survive():
    jitted = tg.jit(tg.grad(rosenbrock))
    x1 = np.random.default_rng(1).uniform(-1.5, 1.5, 1000)
    first = jitted(x1).data
    kept = first.copy()
    assert program_of(jitted).buffers  # some step writes into a dying temporary
    second = jitted(x1 * 0.5).data
    np.testing.assert_array_equal(first, kept)
    assert not np.shares_memory(first, second)
    assert np.array_equal(second, tg.grad(rosenbrock)(x1 * 0.5).data)


def test_no_buffer_is_an_input_a_view_or_viewed():
    x = np.arange(6.0)
    fresh = np.exp(x)
    view = fresh.reshape(2, 3)
    values = [x, fresh, view, np.negative(fresh), np.negative(x)]
    program = [(np.exp, (0,), 1), (np.reshape, (1,), 2), (np.negative, (1,), 3),
               (np.negative, (0,), 4)]
    # slot 1 dies at step 2 but slot 2 views it; slot 0 is an argument
    assert optimizer.plan_buffers(program, values, {0, 2, 3, 4}) == {}
    # a view of another recorded value (a step merged with an equal one, slot 5) still views its
    # input in the replay
    values.append(np.exp(x))
    values[2] = values[5].reshape(2, 3)
    assert optimizer.plan_buffers(program, values, {0, 2, 3, 4}) == {}
    values[2] = fresh.copy().reshape(2, 3)  # a view of any array: a view in the replay
    assert optimizer.plan_buffers(program, values, {0, 2, 3, 4}) == {}
    values[2] = fresh.reshape(2, 3).copy()  # a step that made a new array: no view
    assert optimizer.plan_buffers(program, values, {0, 2, 3, 4}) == {2: 1}
    assert optimizer.plan_buffers(program, values, {0, 1, 2, 3, 4}) == {}
    square = np.exp(x).reshape(2, 3)
    for other in (square.astype(np.float32), np.asfortranarray(square)):  # dtype, strides
        values = [x, other, view.copy(), np.negative(square), x]
        assert optimizer.plan_buffers(program, values, {0, 2, 3, 4}) == {}


def test_arguments_are_never_written():
    jitted = tg.jit(lambda x, y: tg.exp(-(x * y)) * 2.0 + x)
    x, y = np.linspace(0, 1, 100), np.linspace(1, 2, 100)
    x0, y0 = x.copy(), y.copy()
    for _ in range(3):
        jitted(x, y)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


# --- replays equal eager, bit for bit -----------------------------------------------------------
def _net_args(dtype):
    def make(seed):
        rng = np.random.default_rng(seed)
        shapes = [(6, 1), (6, 1), (2, 6), (2, 1), (1, 40)]
        return [rng.standard_normal(s).astype(dtype) for s in shapes]
    return make


CASES = {
    "rosen grad": (tg.grad(rosenbrock), lambda s: [np.random.default_rng(s).uniform(-2, 2, 300)]),
    "rosen jvp": (lambda x, v: tg.jvp(rosenbrock, (x,), (v,)),
                  lambda s: list(np.random.default_rng(s).standard_normal((2, 300)))),
    "net value and grad": (tg.value_and_grad(net, argnums=(0, 1, 2, 3)), _net_args(np.float64)),
    "net float32": (tg.grad(net, argnums=(0, 1, 2, 3)), _net_args(np.float32)),
    "chi2 value and grad": (tg.value_and_grad(chi2, argnums=(0, 1)),
                            lambda s: [np.array(160.0 + s), np.array(6.0 + s / 3),
                                       np.linspace(140.0, 200.0, 30)]),
    "accumulated gradient": (tg.grad(reused, argnums=(0, 1)),
                             lambda s: [np.random.default_rng(s).standard_normal((4, 5)),
                                        np.random.default_rng(s + 9).uniform(1, 2, 5)]),
    "float32 accumulated": (tg.grad(reused, argnums=(0, 1)),
                            lambda s: [np.random.default_rng(s).standard_normal(8)
                                       .astype(np.float32),
                                       np.random.default_rng(s + 9).uniform(1, 2, 8)
                                       .astype(np.float32)]),
    "second derivative": (tg.grad(lambda x: tg.grad(lambda y: (y.sigmoid() ** 2).sum())(x).sum()),
                          lambda s: [np.random.default_rng(s).standard_normal(20)]),
    # sigmoid's clamp below overflow, and the underflow above
    "sigmoid far out": (tg.value_and_grad(lambda x: (x.sigmoid() * x).sum()),
                        lambda s: [np.array([-800.0, -709.5, -30.0, 0.0, 30.0, 800.0]) * (1 + s)]),
    "sigmoid float32": (tg.grad(lambda x: (x.sigmoid() ** 2).sum()),
                        lambda s: [np.linspace(-100, 100, 9, dtype=np.float32) * (1 + s)]),
    # matmul's rules at every rank pair (written as calls for matrices and stacks only)
    **{f"matmul {a.shape} @ {b.shape}": (
        tg.grad(lambda p, q: ((p @ q) ** 2).sum(), argnums=(0, 1)),
        lambda s, a=a, b=b: [a * (1 + s), b - s])
       for a, b in [(np.ones(3), np.ones(3)), (np.ones(3), np.ones((3, 2))),
                    (np.ones((2, 3)), np.ones(3)), (np.ones((2, 3)), np.ones((3, 4))),
                    (np.ones((5, 2, 3)), np.ones((3, 4))), (np.ones((2, 3)), np.ones((5, 3, 4)))]},
    # a chain of numbers: 0-d parameters, a quotient's rule, a square's, sums to a 0-d shape
    "numbers": (tg.value_and_grad(lambda a, b, x: ((x - a) ** 2 / b ** 2 + a / b).sum() / 7.0,
                                  argnums=(0, 1)),
                lambda s: [np.array(0.5 + s), np.array(1.5 - s / 7), np.linspace(-1, 1, 5)]),
    "broadcast over leading axes": (
        tg.grad(lambda a, b: ((a + b) * a).sum() / 3, argnums=(0, 1)),
        lambda s: [np.random.default_rng(s).standard_normal(3),
                   np.random.default_rng(s).standard_normal((4, 2, 3))]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_replays_equal_eager_bitwise(name):
    f, make_args = CASES[name]
    assert_bitwise(tg.jit(f), f, make_args)


def test_common_rules_replay_without_python_calls():
    """sigmoid (float64), matmul's rules, a quotient's rule and a sum to a 0-d parameter replay as
    their NumPy calls, not as the Python functions eager runs."""
    from tinygrad_mv.ops import elementwise, linalg
    f = tg.jit(tg.value_and_grad(net, argnums=(0, 1, 2, 3)))
    g = tg.jit(tg.value_and_grad(chi2, argnums=(0, 1)))
    f(*_net_args(np.float64)(0))
    g(np.array(160.0), np.array(6.0), np.linspace(140.0, 200.0, 30))
    functions = [fn.func if isinstance(fn, functools.partial) else fn
                 for jitted in (f, g) for fn, _, _ in program_of(jitted).steps]
    for rule in (elementwise._sigmoid, linalg._matmul_dx, linalg._matmul_dy,
                 elementwise.div.vjps[1], elementwise._pow_dbase):
        assert rule not in functions, rule
    assert optimizer._sigmoid64 in functions


def test_arithmetic_is_written_as_operators():
    """On NumPy scalars (a chain of 0-d values) an operator is the same IEEE operation as the
    ufunc, and ten times cheaper."""
    args = (np.array(160.0), np.array(6.0), np.linspace(140.0, 200.0, 30))
    g2, text = compiled_source(tg.value_and_grad(chi2, argnums=(0, 1)), args)
    assert " / " in text and " * " in text and " - " in text
    assert_bitwise(g2, tg.value_and_grad(chi2, argnums=(0, 1)),
                   lambda s: [np.array(160.0 + s), np.array(6.0 + s), args[2]])


@pytest.mark.parametrize("weights", [np.ones(3), np.zeros(3)])
def test_a_gradient_that_is_ones_only_at_the_recording_is_not_folded(weights):
    """x ** 2's rule is folded to 2 x only when its incoming gradient is the constant seed; a
    weight that happens to be ones (or zeros) at the recording stays an input of the replay."""
    jitted = tg.jit(tg.grad(lambda x, w: (w * x ** 2).sum()))
    x = np.array([1.0, 2.0, 3.0])
    jitted(x, weights)
    for w in (np.array([2.0, 3.0, 4.0]), np.array([-1.0, 0.5, 0.0])):
        np.testing.assert_array_equal(jitted(x, w).data, 2 * w * x)
    assert jitted.recordings == 1


def test_a_product_with_one_of_a_reversed_view_is_kept():
    """1.0 * flip(x) is a fresh C-ordered array; a matmul on the view itself rounds otherwise."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=7)

    def f(x):
        return (tg.flip(x, 0) * 1.0) @ tg.Tensor(w)
    jitted = tg.jit(f)
    jitted(rng.normal(size=(300, 7)))
    for _ in range(3):
        x = rng.normal(size=(300, 7)) * 10 ** rng.uniform(-3, 3, size=(300, 7))
        np.testing.assert_array_equal(jitted(x).data, f(tg.Tensor(x)).data)


def test_arguments_in_fortran_order_replay_as_eager():
    """out= buffers are planned for the recording's layout: an argument in another memory order
    is another signature, replayed without them (bitwise as eager)."""
    rng = np.random.default_rng(0)
    c = rng.uniform(0.5, 2.0, size=(3, 1000))

    def f(x):
        return tg.sum(tg.exp(x) * c, axis=-1)
    jitted = tg.jit(f)
    jitted(rng.normal(size=(3, 1000)))
    for make in (np.asfortranarray, np.ascontiguousarray):
        x = make(rng.normal(size=(3, 1000)) * 3)
        np.testing.assert_array_equal(jitted(x).data, f(tg.Tensor(x)).data)
    assert jitted.recordings == 2


def test_a_live_tensor_in_another_memory_order_records_again():
    rng = np.random.default_rng(1)
    weights = tg.Tensor(rng.uniform(0.5, 2.0, size=(3, 1000)))

    def f(x):
        return tg.sum(tg.exp(weights) * x, axis=-1)  # exp(weights): a buffer for the product
    jitted = tg.jit(f)
    x = rng.normal(size=(3, 1000)) * 3
    jitted(x)
    weights.data = np.asfortranarray(rng.uniform(-3.0, 3.0, size=(3, 1000)))
    np.testing.assert_array_equal(jitted(x).data, f(tg.Tensor(x)).data)
    assert jitted.recordings == 2


def test_sigmoid_of_a_fortran_ordered_argument_replays_bitwise():
    """The replayed sigmoid is C-ordered as eager's, whatever the argument's order: a later sum
    then adds in the same order."""
    rng = np.random.default_rng(0)

    def f(x):
        return tg.sigmoid(x).sum(axis=0)
    jitted = tg.jit(f)
    for _ in range(3):
        x = np.asfortranarray(rng.standard_normal((37, 29)))
        got, want = jitted(x).data, f(tg.Tensor(x)).data
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_arithmetic_on_two_python_numbers_stays_numpys():
    """A step on two Python numbers is NumPy's: a float64 result (Python's float would be weak
    beside float32, NEP 50) and inf for a division by zero (Python's raises)."""
    x32 = np.arange(3, dtype=np.float32)
    for f, x in ((lambda x: x + tg.mul(2.0, 3.0), x32),
                 (lambda x: x + tg.div(1.0, 0.0), np.arange(3.0))):
        with np.errstate(divide="ignore"):
            want = f(tg.Tensor(x)).data
            got = tg.jit(f)(x).data
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_the_recording_check_compares_dtypes():
    """A replay whose dtype differs from the eager run's is refused, as one whose values do."""
    from tinygrad_mv.tracing.jit import _same
    assert _same(np.ones(3), np.ones(3))
    assert not _same(np.ones(3), np.ones(3, dtype=np.float32))
    assert not _same(np.ones(3), np.ones((3, 1)))


# --- second derivatives: the replay sweeps tangents as eager does --------------------------------
SECOND_ORDER = {
    "sin times square": lambda x: (x.sin() * x ** 2).sum(),
    "rosenbrock": rosenbrock,
    "relu cubed": lambda x: (x.relu() ** 3).sum(),
    "abs times exp": lambda x: (abs(x) * x.exp()).sum(),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_hvp_and_hessian_replay_bitwise(name, dtype):
    """Under tg.jit, hvp and hessian are forward over reverse as eagerly (each forward rule a
    step), not reverse over reverse: the same calls, so the same bits, in float32 too (which
    rounds differently by the other order, which the recording check would refuse)."""
    f = SECOND_ORDER[name]

    def make(seed):
        rng = np.random.default_rng(seed)  # signs change between calls: masks are recomputed
        return [rng.uniform(-2, 2, 6).astype(dtype), rng.uniform(-1, 1, 6).astype(dtype)]
    assert_bitwise(tg.jit(lambda x, v: tg.hvp(f, (x,), (v,))),
                   lambda x, v: tg.hvp(f, (x,), (v,)), make)
    assert_bitwise(tg.jit(tg.hessian(f)), tg.hessian(f), lambda s: make(s)[:1])


# --- helpers written inline; the replay of one signature --------------------------------------
def pointwise_model(x, p):
    # p broadcast to (2, n), as least_squares_fit's "pointwise" Jacobian does: indexing, a
    # gradient added at each row (unique positions) and x ** 2's rule
    return tg.exp(-(x - p[0]) ** 2 / (2 * p[1] ** 2)) / p[1]


def _pointwise_vjp(x, p, u):
    out, back = tg.vjp(lambda q: pointwise_model(x, q), p)
    return out, back(u)[0]


def _pointwise_args(seed):
    x = np.linspace(140.0, 200.0, 30)
    p = np.empty((2, 30))
    p[...] = np.array([[160.0 + seed], [6.0 + 0.1 * seed]])
    return [x, p, np.ones(30)]


def test_indexing_and_its_gradient_replay_inline():
    """Indexing, a gradient added at unique positions and x ** 2's rule are written into the
    program: no helper's Python call (three for an IndexedGrad's round trip) per replay."""
    from tinygrad_mv.ops.shape import _index
    from tinygrad_mv.tracing.recorder import _add_at, _scatter_new
    jitted, text = compiled_source(_pointwise_vjp, _pointwise_args(0))
    functions = {fn.func if isinstance(fn, functools.partial) else fn
                 for fn, _, _ in program_of(jitted).steps}
    assert {_index, _scatter_new, _add_at, optimizer._twice_times} <= functions
    assert "] += " in text and "_zeros(" in text
    helpers = (_index, _scatter_new, _add_at, optimizer._twice_times)
    for value in program_of(jitted).run.__globals__.values():
        function = value.func if isinstance(value, functools.partial) else value
        assert not any(function is helper for helper in helpers), value
    assert_bitwise(jitted, _pointwise_vjp, _pointwise_args)


def test_a_gradient_at_repeated_positions_keeps_its_helper():
    # np.add.at adds repeated positions up; "+=" at an index would keep only one
    def f(x):
        return (x[np.array([0, 0, 2])] ** 2).sum()
    g = tg.grad(f)
    assert_bitwise(tg.jit(g), g, lambda s: [np.array([1.0 + s, 2.0, 3.0])])
    np.testing.assert_array_equal(tg.jit(g)(np.array([1.0, 2.0, 3.0])).data, [4.0, 0.0, 6.0])


def test_replay_runs_the_program_recorded_for_a_signature():
    jitted = tg.jit(_pointwise_vjp)
    args = _pointwise_args(0)
    assert jitted.replay(*args) is None  # nothing recorded yet
    jitted(*args)
    run = jitted.replay(*args)
    for seed in (1, 2):
        moved = _pointwise_args(seed)
        for got, want in zip(leaves(run(moved)), leaves(_pointwise_vjp(*moved))):
            assert np.array_equal(got, want)
    other = [args[0][:-1], args[1][:, :-1], args[2][:-1]]
    assert jitted.replay(*other) is None  # another signature: not recorded
    with tg.no_grad():
        assert jitted.replay(*args) is None  # recorded with grad on only
    with tg.detect_anomaly():
        assert jitted.replay(*args) is None  # runs eagerly
    static = tg.jit(lambda x, n: x * n)
    static(np.ones(3), 2)
    assert static.replay(np.ones(3), 2) is None  # a static argument: no replay of arrays alone


def test_a_replay_declines_when_a_tensor_it_reads_changed_shape():
    weights = tg.Tensor(np.ones(3))
    jitted = tg.jit(lambda x: x * weights)
    jitted(np.arange(3.0))
    run = jitted.replay(np.arange(3.0))
    np.testing.assert_array_equal(run([np.arange(3.0)]).data, np.arange(3.0))
    weights.data = np.ones(1)
    assert run([np.arange(3.0)]) is None
    np.testing.assert_array_equal(jitted(np.arange(3.0)).data, np.arange(3.0))  # records again


# --- negations carried aside (tracing/signs.py) ---------------------------------------------
def _random_program(rng: np.random.Generator, depth: int = 7):
    """A random function of two arrays made of the operations whose rules negate (-, unary -,
    /) and those a negation moves through (*, /, +), with a sum at the end."""
    binary = [lambda a, b: a - b, lambda a, b: a + b, lambda a, b: a * b,
              lambda a, b: a / (b * b + 1.0), lambda a, b: -a - b, lambda a, b: -(a * b)]
    unary = [lambda a: -a, lambda a: a.sin(), lambda a: (a * 0.5) ** 2, lambda a: a.tanh() - a]
    plan = [(rng.integers(len(binary)), rng.integers(len(unary)), rng.integers(3))
            for _ in range(depth)]

    def f(x, y):
        values = [x, y]
        for b, u, pick in plan:
            a = values[-1]
            other = values[-1 - min(pick, len(values) - 1)]
            values.append(unary[u](binary[b](a, other)))
        return (values[-1] * values[-2]).sum()
    return f


@pytest.mark.parametrize("seed", range(40))
def test_random_programs_with_negations_replay_bit_for_bit(seed):
    """Gradients of random programs through subtractions and negations, with integer-valued
    inputs so that terms cancel to zeros of either sign: the replay gives the eager bytes."""
    rng = np.random.default_rng(seed)
    f = _random_program(rng)
    vg = tg.value_and_grad(f, argnums=(0, 1))
    jitted = tg.jit(vg)

    def args(s):
        r = np.random.default_rng(1000 * seed + s)
        return [r.integers(-2, 3, 6).astype(float), r.integers(-2, 3, 6).astype(float)]
    jitted(*args(0))
    for s in range(1, 4):
        got, want = leaves(jitted(*args(s))), leaves(vg(*args(s)))
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            assert g.tobytes() == w.tobytes(), (g, w)


def test_negations_cancel_and_move_into_subtractions():
    """The chi-squared's gradient hands -g on five times over 30 values, and its forward negates
    (x - mu)^2: carried aside, they cancel, become subtractions or go into a divisor that is one
    number (2 sigma^2, 2.5 sigma); no negation of the 30 values is left."""
    g = tg.jit(tg.value_and_grad(chi2, argnums=(0, 1)))
    g(np.array(160.0), np.array(6.0), np.linspace(140.0, 200.0, 30))
    steps = program_of(g).steps
    made = {out: (fn, ins) for fn, ins, out in steps}
    negated = [ins[0] for fn, ins, _ in steps if fn is np.negative]
    assert len(negated) <= 3

    def reads_x(slot):  # whether the slot's value is computed from x (argument slot 2)
        return slot == 2 or slot in made and any(reads_x(i) for i in made[slot][1])
    assert not any(reads_x(slot) for slot in negated)  # numbers: 2 sigma^2, 2.5 sigma


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_integer_zero_factor_keeps_the_signs_of_zeros(dtype):
    """A Python int 0 is its own negation: (-x) * 0 and 0 / (-x) keep their negation (x * 0
    would flip every zero's sign), even when the recording cannot tell (all infinities, zeros)."""
    for f, recorded in ((lambda x: (-x) * 0, [np.inf, -np.inf]), (lambda x: 0 / (-x), [0.0, 0.0])):
        jitted = tg.jit(f)
        with np.errstate(all="ignore"):
            jitted(np.array(recorded, dtype))
        x = np.array([1.0, -2.0], dtype)
        got, want = jitted(x).data, f(tg.Tensor(x)).data
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (got, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_sums_gradient_reaches_a_matmul_rule_as_eagerly(dtype: type) -> None:
    """The recording keeps a sum's gradient (a broadcast of one number) as a broadcast: NumPy's
    matmul rounds differently on a filled array, and the replay must give the eager bits."""
    rng = np.random.default_rng(3)
    x, w = (rng.uniform(0.1, 0.9, (40, 50)).astype(dtype) for _ in range(2))
    grad = tg.grad(lambda a, b: tg.linear(a, b).sum(), argnums=1)
    jitted = tg.jit(grad)
    jitted(x, w)
    for scale in (1.1, 0.7, 3.0):
        got, want = jitted(x * dtype(scale), w).data, grad(x * dtype(scale), w).data
        assert got.dtype == want.dtype and np.array_equal(got, want)


@pytest.mark.parametrize("n", [2_000, 100_000])
@pytest.mark.parametrize("factor", [0.25, 0.0, 3.0])
def test_squares_of_huge_values_replay_as_eagerly(n: int, factor: float) -> None:
    """Where 2 x overflows, the rule of x ** 2 gives what g (2 x) gives, eagerly and replayed."""
    def f(t):
        return (t ** 2 * factor).sum()
    jitted = tg.jit(tg.grad(f))
    jitted(np.ones(n))
    x = np.ones(n)
    x[:4] = [1e308, -1e308, 9e307, 1.0]
    with np.errstate(all="ignore"):
        got, want = jitted(x).data, tg.grad(f)(x).data
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(got[:4], factor * (2 * x[:4]), equal_nan=True)


def test_element_gradients_of_a_vector_are_added_inline():
    """x[0]'s gradient is a number added into the vector's gradient at index 0: written into the
    program (only a 0-d running total, a NumPy scalar in a replay, takes the helper)."""
    from tinygrad_mv.tracing.recorder import _add_at

    def f(x):
        return x[0] * x[1] + x[2] * x[3] + x[1:].sum()
    g = tg.grad(f)
    jitted, text = compiled_source(g, [np.arange(1.0, 5.0)])
    assert "] += " in text
    for value in program_of(jitted).run.__globals__.values():
        function = value.func if isinstance(value, functools.partial) else value
        assert function is not _add_at, value
    assert_bitwise(jitted, g, lambda s: [np.arange(1.0, 5.0) * (1 + s)])


def test_a_view_of_a_merged_repeated_step_is_not_written_over():
    """exp(x) computed twice is one step of the replay; a slice taken of the second stays a view
    of it, so the first's last use may not write its result into that memory (the recording
    check would see the slice overwritten: a false JitError)."""
    def f(x):
        a = tg.exp(x)
        b = tg.exp(x)[1:]
        return a + x, b * 1.0

    def g(x):
        return (tg.exp(x) + x).sum() + (tg.exp(x)[1:] ** 2).sum()
    assert_bitwise(tg.jit(f), f, lambda s: [np.array([0.1, 0.2, 0.3]) + s])
    assert_bitwise(tg.jit(tg.value_and_grad(g)), tg.value_and_grad(g),
                   lambda s: [np.array([0.1, 0.2, 0.3]) - s])


def test_a_gradient_summed_over_broadcast_axes_leaves_its_input_a_buffer():
    """Eagerly a gradient summed to a shape is a reshaped view of the sum; the replay's reduce
    makes a new array, so the gradient it reads may still be written into at its last use."""
    def f(mu, x):
        return tg.exp(mu - x).sum()
    g = tg.grad(f, argnums=(0, 1))
    jitted = tg.jit(g)

    def args(s):
        return [np.zeros(5) + s, np.random.default_rng(s).standard_normal((4, 5))]
    assert_bitwise(jitted, g, args)
    assert len(program_of(jitted).buffers) == 2


def test_a_view_of_a_copy_that_stands_for_its_source_is_not_written_over():
    """A gradient's .grad copy and Tensor(a) are their source's slot in the replay: a view of
    one views the source, which the source's last use may not write into (else the returned
    view would show tg.maximum's result)."""
    def f(x):
        g = tg.grad(lambda t: (t ** 2).sum())(x)
        return g.reshape(2, 3), tg.maximum(g, 0.0)

    def h(x):
        a = x * 2
        return tg.Tensor(a).reshape(2, 3), tg.maximum(a, 0.0), tg.Tensor(a)[::2] * 3
    for fn in (f, h):
        assert_bitwise(tg.jit(fn), fn, lambda s: [np.linspace(0.1, 0.6, 6) * (1 - s)])

"""The Tensor section of the contract: construction, dtypes, attributes, conversion, creation
helpers, comparisons and NumPy interop."""
import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor


@pytest.mark.parametrize("data, dtype", [
    (3, np.float64), (2.5, np.float64), (True, np.float64), ([1, 2], np.float64),
    ([[1.0, 2.0]], np.float64), (np.arange(3), np.float64), (np.array([True, False]), np.float64),
    (np.ones(2, dtype=np.float32), np.float32), (np.ones(2, dtype=np.float64), np.float64),
    (np.ones(2, dtype=np.float16), np.float64),
    (np.ones(2, dtype=np.float64).astype(np.dtype(np.float64).newbyteorder()), np.float64),
    (np.ones(2, dtype=np.float32).astype(np.dtype(np.float32).newbyteorder()), np.float32),
])
def test_dtype_rules(data, dtype):
    t = Tensor(data)
    assert t.dtype == dtype and isinstance(t.data, np.ndarray) and t.data.dtype.isnative
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=dtype))


def test_forced_dtype_and_tensor_input():
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert Tensor([1.5], dtype=np.int32).dtype == np.int32
    src = Tensor([1.0, 2.0], requires_grad=True)
    copy = Tensor(src)
    assert copy.is_leaf and not copy.requires_grad and copy.data is not src.data
    np.testing.assert_array_equal(copy.data, src.data)


def test_constructor_copies_arrays():
    arr = np.zeros(3)
    t = Tensor(arr)
    arr[0] = 5.0
    assert t.data[0] == 0.0


@pytest.mark.parametrize("bad, words", [
    ("abc", "str"), (["a", "b"], "list"), (None, "NoneType"), ({"a": 1}, "dict"),
    ([[1.0, 2.0], [3.0]], "ragged"), (object(), "object"), (np.array([1 + 2j]), "complex"),
])
def test_non_numeric_data_is_refused(bad, words):
    with pytest.raises(TypeError, match=words):
        Tensor(bad)


def test_bad_dtype_argument():
    with pytest.raises(TypeError, match="dtype"):
        Tensor([1.0], dtype="not-a-dtype")
    with pytest.raises(TypeError, match="complex"):
        Tensor([1.0], dtype=np.complex128)


def test_attributes():
    t = Tensor([[1.0, 2.0, 3.0]], requires_grad=True, name="w")
    assert t.shape == (1, 3) and t.ndim == 2 and t.size == 3 and t.dtype == np.float64
    assert t.name == "w" and t.requires_grad and t.is_leaf and t.grad is None
    assert t.T.shape == (3, 1) and not t.T.is_leaf
    assert len(t) == 1
    assert [row.shape for row in t] == [(3,)]


def test_conversions():
    t = Tensor([[1.0, 2.0]], requires_grad=True)
    assert np.asarray(t) is t.data
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    n = t.numpy()
    n[0, 0] = 9.0
    assert t.data[0, 0] == 1.0
    assert Tensor([[4.5]]).item() == 4.5 and isinstance(Tensor(4.5).item(), float)
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        t.item()
    assert float(Tensor(2.0)) == 2.0
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


def test_repr_shows_data_shape_and_grad():
    r = repr(Tensor([1.0, 2.0], requires_grad=True))
    assert "1." in r and "shape=(2,)" in r and "requires_grad=True" in r
    r = repr(Tensor([1.0, 2.0], requires_grad=True) * 2)
    assert "grad_fn=mul" in r
    assert "requires_grad" not in repr(Tensor([1.0]))
    assert "float32" in repr(Tensor([1.0], dtype=np.float32))


def test_creation_helpers():
    assert tg.zeros((2, 3)).shape == (2, 3) and tg.zeros(4).data.sum() == 0
    assert tg.ones((2,)).data.tolist() == [1.0, 1.0]
    assert tg.full((2, 2), 7.0).data.tolist() == [[7.0, 7.0], [7.0, 7.0]]
    np.testing.assert_array_equal(tg.arange(0, 5, 2).data, [0.0, 2.0, 4.0])
    assert tg.arange(3).dtype == np.float64
    np.testing.assert_array_equal(tg.linspace(0, 1, 5).data, np.linspace(0, 1, 5))
    for make in (tg.zeros, tg.ones):
        t = make((2,), requires_grad=True)
        assert t.requires_grad and t.is_leaf
    assert tg.full((1,), 2.0, requires_grad=True).requires_grad
    assert tg.tensor([1.0, 2.0], requires_grad=True).requires_grad


def test_random_helpers_take_seed_or_generator():
    a = tg.randn(3, 2, rng=42)
    b = tg.randn(3, 2, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.data, np.random.default_rng(42).standard_normal((3, 2)))
    u = tg.rand(1000, rng=1, requires_grad=True)
    assert u.requires_grad and 0.0 <= u.data.min() and u.data.max() < 1.0
    with pytest.raises(TypeError, match="rng"):
        tg.randn(2, rng="seed")


@pytest.mark.parametrize("op, expected", [
    (lambda a, b: a < b, [True, False, False]), (lambda a, b: a <= b, [True, True, False]),
    (lambda a, b: a > b, [False, False, True]), (lambda a, b: a >= b, [False, True, True]),
    (lambda a, b: a == b, [False, True, False]), (lambda a, b: a != b, [True, False, True]),
])
def test_comparisons_give_bool_tensors_without_grad(op, expected):
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for b in (Tensor([2.0, 2.0, 2.0]), 2.0, np.array([2.0, 2.0, 2.0])):
        r = op(a, b)
        assert isinstance(r, Tensor) and r.dtype == bool and not r.requires_grad
        assert r.data.tolist() == expected


def test_tensors_are_hashable_by_identity():
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2


def test_ndarray_on_the_left_returns_tensor():
    t = Tensor([1.0, 2.0], requires_grad=True)
    for r in (np.ones(2) + t, np.ones(2) * t, np.ones(2) - t, np.ones(2) / t, np.ones(2) ** t,
              np.float64(2.0) * t, np.ones((2, 2)) @ t):
        assert isinstance(r, Tensor) and r.requires_grad
    (np.array([3.0, 4.0]) * t).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [3.0, 4.0])


@pytest.mark.parametrize("ufunc, derivative", [
    (np.exp, np.exp), (np.log, lambda x: 1 / x), (np.sin, np.cos),
    (np.sqrt, lambda x: 0.5 / np.sqrt(x)),
    (np.tanh, lambda x: 1 - np.tanh(x) ** 2), (np.square, lambda x: 2 * x),
    (np.negative, lambda x: -np.ones_like(x)), (np.absolute, np.sign),
])
def test_numpy_ufuncs_are_recorded(ufunc, derivative):
    x = Tensor([0.5, 1.5], requires_grad=True)
    y = ufunc(x)
    assert isinstance(y, Tensor) and y.requires_grad
    np.testing.assert_allclose(y.data, ufunc(x.data))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, derivative(x.data), rtol=1e-14)


def test_numpy_binary_ufuncs_are_recorded():
    x = Tensor([1.0, 3.0], requires_grad=True)
    y = np.maximum(np.add(np.ones(2), x), 2.5)
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0])


@pytest.mark.parametrize("ufunc, hint", [(np.spacing, "tg"), (np.conjugate, "x")])
def test_other_ufuncs_refuse_tensors_that_require_grad(ufunc, hint):
    x = Tensor([0.5], requires_grad=True)
    with pytest.raises(TypeError) as info:
        ufunc(x)
    assert ufunc.__name__ in str(info.value) and hint in str(info.value)
    r = ufunc(Tensor([0.5]))  # without grad there is no graph to drop
    np.testing.assert_allclose(np.asarray(r), ufunc(0.5))


_FLOAT_UFUNCS = sorted({u for u in vars(np).values() if isinstance(u, np.ufunc)
                        and any(t.startswith("d" * u.nin) for t in u.types)},
                       key=lambda u: u.__name__)


@pytest.mark.parametrize("ufunc", _FLOAT_UFUNCS, ids=lambda u: u.__name__)
def test_every_numpy_ufunc_is_recorded_or_names_the_tg_function_to_use(ufunc):
    from tinygrad_mv.ops.numpy_interop import _UFUNCS, _bool_valued
    x = Tensor([0.7, 1.3], requires_grad=True)
    args = [x, Tensor([0.4, 0.9], requires_grad=True)][:ufunc.nin]
    if ufunc in _UFUNCS or _bool_valued(ufunc):
        with np.errstate(invalid="ignore", divide="ignore"):  # arccosh(0.7) is NaN, as NumPy
            assert isinstance(ufunc(*args), Tensor)
        return
    with pytest.raises(TypeError, match=rf"np\.{ufunc.__name__}\b.*\btg\.\w"):
        ufunc(*args)


def test_the_suggested_replacements_compute_the_ufuncs():
    from tinygrad_mv.ops.numpy_interop import _SUGGESTIONS
    x = Tensor([0.7, -1.3, 2.2], requires_grad=True)
    y = Tensor([0.4, 0.9, -1.5], requires_grad=True)
    a, b = x, y  # noqa: F841 - names used by the logaddexp hint
    for name, hint in _SUGGESTIONS.items():
        code = hint.split("  # ")[0]
        code = code + "(x, y)" if code in ("tg.maximum", "tg.minimum") else code
        with np.errstate(invalid="ignore"):
            got = eval(code)
            want = getattr(np, name)(*[x.data, y.data][:getattr(np, name).nin])
        np.testing.assert_allclose(np.asarray(got), want, equal_nan=True, err_msg=name)
        if isinstance(got, Tensor) and name != "conjugate":
            assert got.requires_grad, f"the hint for np.{name} leaves the graph: {hint}"


def test_bool_valued_ufuncs_and_inspection_functions_work():
    x = Tensor([1.0, np.nan], requires_grad=True)
    assert np.isnan(x).data.tolist() == [False, True]
    assert np.isfinite(x).data.tolist() == [True, False]
    assert np.allclose(Tensor([1.0], requires_grad=True), [1.0])
    assert np.argmax(Tensor([1.0, 3.0], requires_grad=True)) == 1
    np.testing.assert_allclose(Tensor([1.0, 2.0], requires_grad=True), [1.0, 2.0])


def test_numpy_functions_dispatch_or_refuse():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    for r in (np.sum(x), np.mean(x, axis=0), np.reshape(x, (3, 2)), np.transpose(x),
              np.where(x.data > 2, x, 0.0), np.concatenate([x, x]), np.stack([x, x]),
              np.broadcast_to(x, (4, 2, 3)), np.max(x, axis=1), np.clip(x, 1, 4)):
        assert isinstance(r, Tensor) and r.requires_grad
    with pytest.raises(TypeError, match="median"):
        np.median(x)
    assert np.median(Tensor([1.0, 2.0])) == 1.5  # without grad: NumPy on the data


def test_float32_stays_float32():
    x = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    y = (tg.sigmoid(x * 2.0 + 1) @ x).sum() / 3 + tg.maximum(x, 0.2).mean() + tg.where(
        x > 0, x, 0.25).sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("lo, hi", [(np.float64(0.2), None), (None, np.array(0.5)),
                                    (0, np.float64(1.5)), (np.float16(0.1), 2)])
def test_float32_stays_float32_under_scalar_clip_bounds(lo, hi):
    x = Tensor(np.array([0.0, 1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.clip(lo, hi)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, np.clip(x.data, lo, hi).astype(np.float32))
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_float32_and_float64_gradient_keeps_leaf_dtype():
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    (x * np.array([1.0, 2.0])).sum().backward()  # float64 operand promotes the result
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0])


def test_python_numbers_accepted_as_operands():
    x = Tensor([-1.0, 1.0], requires_grad=True)
    y = tg.maximum(x, 0.2) + tg.minimum(0.5, x) + tg.where(x > 0, x, 0.25) + 2 ** x + 1 / x
    y.sum().backward()
    expected = np.array([0.0, 1.0]) + np.array([1.0, 0.0]) + np.array([0.0, 1.0]) + \
        np.log(2) * 2 ** x.data - 1 / x.data ** 2
    np.testing.assert_allclose(x.grad.data, expected)


def test_unsupported_operand_type():
    with pytest.raises(TypeError, match="str"):
        Tensor([1.0]) + "a"


def test_format_spec_formats_a_zero_d_tensor():
    loss = Tensor(3.14159, requires_grad=True) * 1.0
    assert f"{loss:.2f}" == "3.14" and f"{Tensor(2.5):>6}" == "   2.5"
    vector = Tensor([1.0, 2.0])
    assert f"{vector}" == str(vector)
    with pytest.raises(TypeError, match=r"'\.2f'.*\(2,\)"):
        f"{vector:.2f}"


def test_one_element_integer_tensor_is_an_index():
    three = Tensor(3, dtype=np.int64)
    assert list(range(three)) == [0, 1, 2]
    assert ["a", "b", "c", "d"][Tensor([2], dtype=np.int64)] == "c"
    assert np.arange(10.0)[three] == 3.0
    with pytest.raises(TypeError, match=r"float64.*int\(t\)"):
        range(Tensor(3.0))
    with pytest.raises(TypeError, match=r"\(2,\).*int64"):
        range(Tensor([1, 2], dtype=np.int64))


def test_comparing_with_what_is_not_a_number():
    t = Tensor([1.0, 2.0], requires_grad=True)
    assert (t == "a") is False and (t != "a") is True
    assert (t == None) is False and (t != None) is True  # noqa: E711
    assert t not in ["a", None] and t in [None, t]
    with pytest.raises(TypeError, match="'<' not supported.*'Tensor' and 'str'"):
        _ = t < "a"
    with pytest.raises(TypeError, match="'>=' not supported"):
        _ = t >= None
    # Numbers in lists and tuples still compare elementwise.
    assert (t == [1, 3]).data.tolist() == [True, False]
    assert (t < (2, 2.0)).data.tolist() == [True, False]


def test_creation_helpers_take_shape_as_a_keyword():
    for make in (tg.zeros, tg.ones, tg.rand, tg.randn):
        assert make(shape=(2, 3)).shape == (2, 3) and make(shape=[4]).shape == (4,)
        assert make(shape=5).shape == (5,) and make(shape=()).shape == ()
        with pytest.raises(TypeError, match=f"{make.__name__}: .*not both"):
            make(2, shape=(2,))
        with pytest.raises(TypeError, match="keyword argument 'size'"):
            make(size=3)
    np.testing.assert_array_equal(tg.randn(shape=(2,), rng=7).data, tg.randn(2, rng=7).data)
    assert tg.ones(shape=(2,), requires_grad=True).requires_grad


@pytest.mark.parametrize("call, expected", [
    (lambda: tg.arange(end=4), [0.0, 1.0, 2.0, 3.0]),
    (lambda: tg.arange(1, end=4), [1.0, 2.0, 3.0]),
    (lambda: tg.arange(start=1, stop=7, step=2), [1.0, 3.0, 5.0]),
    (lambda: tg.arange(5, step=2), [0.0, 2.0, 4.0]),
    (lambda: tg.arange(0, 1, step=0.25), [0.0, 0.25, 0.5, 0.75]),
    (lambda: tg.arange(5, end=3), []),
])
def test_arange_takes_its_bounds_as_keywords(call, expected):
    assert call().data.tolist() == expected


@pytest.mark.parametrize("call, words", [
    (lambda: tg.arange(end=3, stop=3), "end= or stop="),
    (lambda: tg.arange(1, 4, end=3), "end given both"),
    (lambda: tg.arange(1, 4, 1, step=2), "step given both"),
    (lambda: tg.arange(start=2), "end of the range is missing"),
    (lambda: tg.arange(num=3), "keyword argument 'num'"),
    (lambda: tg.arange(1, 2, 3, 4), "at most 3 bounds"),
])
def test_arange_keyword_mistakes_are_named(call, words):
    with pytest.raises(TypeError, match=words):
        call()


def test_a_0d_float64_tensor_promotes_float32_as_numpy_does():
    # the README's documented difference from PyTorch; Python numbers and float32 scalars stay weak
    x = tg.Tensor(np.arange(3.0, dtype=np.float32), requires_grad=True)
    scale = tg.tensor(2.0, requires_grad=True)
    y = x * scale
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32 and scale.grad.dtype == np.float64
    assert scale.grad.item() == 3.0 and x.grad.data.tolist() == [2.0, 2.0, 2.0]
    assert (x * 2.0).dtype == np.float32
    assert (x * tg.tensor(2.0, dtype=np.float32)).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint32, np.bool_])
def test_an_integer_or_bool_tensor_beside_float32_stays_float32_as_in_pytorch(dtype):
    # As an integer array does (NumPy alone would promote int64 and float32 to float64).
    x = tg.Tensor(np.array([0.5, -1.0, 2.0], dtype=np.float32), requires_grad=True)
    k = tg.Tensor([1, 0, 3], dtype=dtype)
    for y in (x * k, k * x, x + k, k - x, x @ k, tg.where(x > 0, k, x)):
        assert y.dtype == np.float32
    (x * k).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.data.tolist() == k.data.astype(float).tolist()
    assert (k + k).dtype == np.result_type(dtype, dtype)  # no float operand: NumPy's dtype
    assert (tg.Tensor([1.0, 2.0, 3.0]) * k).dtype == np.float64


def test_jit_replays_an_integer_tensor_made_float32_with_its_new_values():
    f = tg.jit(tg.grad(lambda x, k: (x * k).sum()))
    x = np.ones(3, dtype=np.float32)
    for values in ([1, 2, 3], [4, 5, 6]):
        g = f(x, tg.Tensor(values, dtype=np.int64))
        assert g.dtype == np.float32 and g.data.tolist() == values


def test_masks_combine_with_and_or_xor_not_as_in_pytorch():
    x = tg.Tensor([-1.0, 0.5, 2.0], requires_grad=True)
    both = (x > 0) & (x < 1)
    assert both.dtype == bool and not both.requires_grad
    assert both.data.tolist() == [False, True, False]
    assert ((x > 0) | (x < 0)).data.tolist() == [True, True, True]
    assert ((x > 0) ^ (x < 1)).data.tolist() == [True, False, True]
    assert (~(x > 0)).data.tolist() == [True, False, False]
    assert (np.array([True, False, True]) & (x > 0)).data.tolist() == [False, False, True]
    assert (True & (x > 0)).data.tolist() == [False, True, True]
    assert (tg.Tensor([3, 5], dtype=np.int64) & 1).data.tolist() == [1, 1]
    y = tg.where((x > 0) & ~(x > 1), x, 0.0)
    y.sum().backward()
    assert x.grad.data.tolist() == [0.0, 1.0, 0.0]
    f = tg.jit(lambda v: tg.where((v > 0) & ~(v > 1) | (v < -5), v, 0.0).sum())
    for values in ([-1.0, 0.5, 2.0], [-7.0, 0.9, 0.25]):
        assert f(tg.Tensor(values)).item() == sum(v for v in values if 0 < v <= 1 or v < -5)


@pytest.mark.parametrize("call", [lambda x: x & (x > 0), lambda x: (x > 0) | x, lambda x: ~x,
                                  lambda x: (x > 0) ^ np.ones(3)])
def test_and_or_xor_not_of_float_tensors_are_refused_naming_the_dtype(call):
    with pytest.raises(TypeError, match="bool or integer tensors.*float64"):
        call(tg.Tensor([-1.0, 0.5, 2.0]))

"""Checking reverse mode against finite differences: ``numerical_jacobian``, ``gradcheck`` and
``gradgradcheck``.

A wrong VJP rule gives a wrong derivative silently; these compare the Jacobian that reverse mode
computes with one computed from function values alone, entry by entry, and name the worst entry.

Why float64: a central difference has truncation error ~eps^2 |f'''| and rounding error
~u |f| / eps (u the unit roundoff). With eps = 1e-6 in float64 (u ~ 1e-16) both are ~1e-10; in
float32 (u ~ 6e-8) the rounding term is ~0.06, far above any useful tolerance.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from . import autograd, forward_mode, functional
from .tensor import Tensor

__all__ = ["numerical_jacobian", "gradcheck", "gradgradcheck", "GradcheckError",
           "JacobianComparison", "compare_jacobians", "compare_second_jacobians"]


class GradcheckError(RuntimeError):
    """Reverse mode and finite differences disagree. Attributes name the worst entry:
    ``input_index``, ``output_index``, ``index`` (position in that input), ``analytic``,
    ``numerical``, ``atol``, ``rtol``, and ``output`` (which output, when f returns a tuple;
    else None)."""

    def __init__(self, message: str, comparison: JacobianComparison | None = None) -> None:
        super().__init__(message)
        self.comparison = comparison
        worst = comparison.worst if comparison is not None else None
        self.input_index = worst.input_index if worst else None
        self.output_index = worst.output_index if worst else None
        self.output = worst.output if worst else None
        self.index = worst.index if worst else None
        self.analytic = worst.analytic if worst else None
        self.numerical = worst.numerical if worst else None
        self.atol = comparison.atol if comparison is not None else None
        self.rtol = comparison.rtol if comparison is not None else None


def _check_eps(eps: float, name: str) -> float:
    if not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"{name}: eps must be a positive finite number, got {eps!r}")
    return float(eps)


def _check_tolerance(value: float, what: str, name: str) -> float:
    # a negative or NaN tolerance would pass every entry (|error| / tolerance is never > 1)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: {what} must be a number, got {type(value).__name__}")
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name}: {what} must be a finite number >= 0, got {value!r}")
    return float(value)


def numerical_jacobian(f: Callable[[Any], Any], x: Any, eps: float = 1e-6,
                       method: str = "central") -> Tensor:
    """The Jacobian of ``f`` at ``x`` by finite differences, shape ``f(x).shape + x.shape``
    (float64).

    ``method="central"``: (f(x + eps e_k) - f(x - eps e_k)) / (2 eps), error O(eps^2), 2n
    evaluations; ``"forward"``: (f(x + eps e_k) - f(x)) / eps, error O(eps), n + 1 evaluations.
    ``f`` gets what ``x`` is: a Tensor (recording nothing) when x is a Tensor or a list or number,
    the ndarray itself when x is an ndarray, so a pure NumPy function is differenced at NumPy
    speed. f may return a Tensor, an array or a number. x keeps its dtype.
    """
    eps = _check_eps(eps, "numerical_jacobian")
    if method not in ("central", "forward"):
        raise ValueError(f"numerical_jacobian: method must be 'central' or 'forward', got "
                         f"{method!r}")
    as_tensor = not isinstance(x, np.ndarray)
    base = np.array(x._data if isinstance(x, Tensor) else x)
    if base.dtype.kind != "f":
        base = base.astype(np.float64)
    work = base.copy()
    flat = work.reshape(-1)  # a view: stepping flat[k] steps work

    def evaluate() -> np.ndarray:
        out = f(Tensor(work) if as_tensor else work)  # f must not modify its input
        return np.array(out._data if isinstance(out, Tensor) else out, dtype=np.float64)

    with autograd.no_grad():  # once, not per evaluation: the loop is the whole cost
        f0 = evaluate()
        jac = np.empty((f0.size, base.size))
        for k in range(base.size):
            original = flat[k]
            flat[k] = original + eps
            high = float(flat[k])  # the points actually used (x + eps rounds in x's dtype)
            up = evaluate()
            if up.shape != f0.shape:
                raise ValueError(f"numerical_jacobian: f returned shape {up.shape} at a nearby "
                                 f"point but {f0.shape} at x")
            if method == "central":
                flat[k] = original - eps
                low = float(flat[k])
                down = evaluate()
            else:
                low, down = float(original), f0
            flat[k] = original
            jac[:, k] = ((up - down) / (high - low)).reshape(-1)
    return Tensor(jac.reshape(f0.shape + base.shape))


@dataclass
class WorstEntry:
    """The Jacobian entry that misses its tolerance by the largest factor."""

    input_index: int
    output_index: tuple
    index: tuple
    analytic: float
    numerical: float
    output: int | None = None  # which output, when f returns a tuple of them


@dataclass
class JacobianComparison:
    """Result of comparing analytic and numerical Jacobians (see :func:`compare_jacobians`)."""

    passed: bool
    max_abs_error: float
    worst: WorstEntry | None
    atol: float
    rtol: float
    input_shapes: list
    output_shape: tuple  # a tuple of shapes when f returns a tuple of outputs
    mode: str = "rev"  # which Jacobian was the analytic one: "rev" or "fwd"

    def message(self, what: str) -> str:
        if self.worst is None:
            return f"{what}: passed"
        w = self.worst
        limit = self.atol + self.rtol * abs(w.numerical)
        analytic = "forward mode" if self.mode == "fwd" else "reverse mode"
        output = (f"{self.output_shape}" if w.output is None else
                  f"{w.output} (shape {self.output_shape[w.output]})")
        return (f"{what}: the Jacobian of output {output} with respect to input "
                f"{w.input_index} (shape {self.input_shapes[w.input_index]}) is wrong at output "
                f"index {w.output_index}, input index {w.index}: analytic ({analytic}) "
                f"{w.analytic!r} but numerical (central differences) {w.numerical!r}; "
                f"|difference| = {abs(w.analytic - w.numerical):.3g} > atol + rtol * |numerical| "
                f"= {limit:.3g} (atol={self.atol:g}, rtol={self.rtol:g})")


def _as_inputs(inputs: Any, name: str, stacklevel: int = 2) -> tuple[list[Tensor], list[int]]:
    """Inputs as Tensors, and which ones to check: those that require grad, or all of them when
    none does (plain arrays)."""
    if isinstance(inputs, Tensor) or not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in inputs]
    if not tensors:
        raise ValueError(f"{name}: no inputs given")
    checked = [i for i, t in enumerate(tensors) if t.requires_grad]
    if not checked:
        checked = [i for i, t in enumerate(tensors) if t.dtype.kind == "f"]
    for i in checked:
        if tensors[i].dtype != np.float64:
            warnings.warn(f"{name}: input {i} is {tensors[i].dtype}; finite differences need "
                          "float64 to be accurate (rounding error ~ unit roundoff / eps), so "
                          "this check may fail for a correct gradient. Pass float64 inputs "
                          "(Tensor(x, dtype=np.float64)).", UserWarning,
                          stacklevel=stacklevel + 1)
    return tensors, checked


def compare_jacobians(f: Callable[..., Tensor], inputs: Any, eps: float = 1e-6,
                      atol: float = 1e-5, rtol: float = 1e-3,
                      name: str = "gradcheck", stacklevel: int = 2,
                      mode: str = "rev") -> JacobianComparison:
    """The Jacobian of ``f`` at ``inputs`` by reverse mode (``mode="rev"``) or forward mode
    (``"fwd"``) against central differences, entry by entry: an entry passes when
    |analytic - numerical| <= atol + rtol * |numerical|."""
    if not callable(f):
        raise TypeError(f"{name}: f must be callable, got {type(f).__name__}")
    if mode not in ("rev", "fwd"):
        raise ValueError(f'{name}: mode must be "rev" or "fwd", got {mode!r}')
    eps = _check_eps(eps, name)
    atol = _check_tolerance(atol, "atol", name)
    rtol = _check_tolerance(rtol, "rtol", name)
    tensors, checked = _as_inputs(inputs, name, stacklevel + 1)
    datas = [t._data for t in tensors]
    if not checked:
        raise ValueError(f"{name}: no floating-point input to check")
    with autograd.no_grad():
        out = f(*[Tensor(d) for d in datas])
    # a tuple of outputs (as torch.autograd.gradcheck takes) is checked one output at a time
    several = isinstance(out, (tuple, list))
    outs = list(out) if several else [out]
    for o, item in enumerate(outs):
        if not isinstance(item, Tensor):
            got = (f"a {type(out).__name__} whose item {o} is a {type(item).__name__}"
                   if several else type(out).__name__)
            raise TypeError(f"{name}: the function must return a Tensor, got {got} (a tuple "
                            "of Tensors is checked output by output)")
    if several and not outs:
        raise ValueError(f"{name}: the function returned an empty tuple")
    worst, worst_ratio, max_err = None, 1.0, 0.0
    for o, item in enumerate(outs):
        def fo(*args: Any, o: int = o) -> Tensor:
            return f(*args)[o]
        entry, ratio, err = _compare_output(fo if several else f, item, tensors, checked, eps,
                                            atol, rtol, mode)
        max_err = max(max_err, err)
        if entry is not None and ratio > worst_ratio:
            worst, worst_ratio = entry, ratio
            if several:
                worst.output = o
    shapes = tuple(item.shape for item in outs) if several else out.shape
    return JacobianComparison(worst is None, max_err, worst, atol, rtol,
                              [t.shape for t in tensors], shapes, mode)


def _compare_output(f: Callable[..., Tensor], out: Tensor, tensors: list[Tensor],
                    checked: list[int], eps: float, atol: float, rtol: float,
                    mode: str) -> tuple[WorstEntry | None, float, float]:
    """One output's Jacobians against central differences: (its worst entry or None, by how
    many times that entry misses its tolerance, the largest |error|)."""
    datas = [t._data for t in tensors]
    jacobian = functional.jacobian if mode == "rev" else forward_mode.jacfwd
    analytic = jacobian(f, argnums=tuple(checked))(*datas)
    worst, worst_ratio, max_err = None, 1.0, 0.0
    for k, i in enumerate(checked):
        def partial(xi: Tensor, i: int = i) -> Tensor:
            args = [Tensor(d) for d in datas]
            args[i] = xi
            return f(*args)
        # outside f's domain (sqrt just below 0, ...) differences give NaN: reported below as
        # a failing entry, not as a NumPy warning
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            numerical = numerical_jacobian(partial, tensors[i], eps).data
        exact = np.asarray(analytic[k]._data, dtype=np.float64)
        shape = out.shape + tensors[i].shape
        numerical, exact = numerical.reshape(shape), exact.reshape(shape)
        err = np.abs(exact - numerical)
        with np.errstate(invalid="ignore", divide="ignore"):  # zero tolerances are allowed
            ratio = err / (atol + rtol * np.abs(numerical))
        ratio = np.where(err == 0, 0.0, ratio)
        ratio = np.where(np.isfinite(exact) & np.isfinite(numerical), ratio, np.inf)
        if err.size:
            max_err = max(max_err, float(np.nan_to_num(err, nan=np.inf).max()))
            pos = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            if ratio[pos] > worst_ratio:
                worst_ratio = float(ratio[pos])
                worst = WorstEntry(i, tuple(int(p) for p in pos[:out.ndim]),
                                   tuple(int(p) for p in pos[out.ndim:]),
                                   float(exact[pos]), float(numerical[pos]))
    return worst, worst_ratio, max_err


def gradcheck(f: Callable[..., Tensor], inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, mode: str = "rev") -> bool:
    """Compare the Jacobian of ``f`` at ``inputs`` (a Tensor or a tuple of them) with central
    differences: the reverse-mode one (``mode="rev"``), or the forward-mode one (``"fwd"``).

    Checked inputs: those with ``requires_grad=True``, or every floating input when none has it.
    ``f`` may return a tuple of Tensors (as PyTorch's gradcheck allows): each output is checked,
    and the error's ``output`` says which one failed. Returns True; on a mismatch raises
    :class:`GradcheckError` naming the worst entry (input, output and input index, analytic and
    numerical values, tolerances), or returns False when ``raise_exception=False``. float32
    inputs get a warning: finite differences need float64.
    """
    result = compare_jacobians(f, inputs, eps, atol, rtol, "gradcheck", stacklevel=3, mode=mode)
    if result.passed:
        return True
    if raise_exception:
        raise GradcheckError(result.message("gradcheck"), result)
    return False


def _cotangent(given: Any, shape: tuple, what: str) -> np.ndarray:
    cotangent = np.asarray(given._data if isinstance(given, Tensor) else given, dtype=np.float64)
    if cotangent.shape != shape:
        raise ValueError(f"gradgradcheck: {what} has shape {cotangent.shape} but the output "
                         f"has shape {shape}")
    return cotangent


def _first_derivative_function(f: Callable[..., Tensor], tensors: Sequence[Tensor],
                               checked: Sequence[int], grad_outputs: Any) -> Callable[..., Tensor]:
    """x -> (v^T J_f(x)) for the checked inputs, flattened and joined: its Jacobian holds every
    second derivative of <v, f>. v is ``grad_outputs``, or a fixed random vector. For f
    returning a tuple, v holds one cotangent per output (sum_o <v_o, f_o>)."""
    with autograd.no_grad():
        out = f(*[Tensor(t._data) for t in tensors])
    if isinstance(out, (tuple, list)):
        if not out or not all(isinstance(o, Tensor) for o in out):
            raise TypeError("gradgradcheck: the function must return a Tensor or a non-empty "
                            f"tuple of Tensors, got {type(out).__name__} of "
                            f"{[type(o).__name__ for o in out]}")
        shapes = [o.shape for o in out]
        if grad_outputs is None:
            flat = np.random.default_rng(0).standard_normal(sum(o.size for o in out))
        else:
            if not isinstance(grad_outputs, (tuple, list)) or len(grad_outputs) != len(out):
                raise ValueError(f"gradgradcheck: the function returns {len(out)} outputs, so "
                                 f"grad_outputs must be a tuple of {len(out)} cotangents")
            flat = np.concatenate([_cotangent(g, shape, f"grad_outputs[{o}]").reshape(-1)
                                   for o, (g, shape) in enumerate(zip(grad_outputs, shapes))])
        # one output, the outputs flattened and joined: <v, f> is the same sum
        cotangent = flat.astype(np.result_type(*[o.dtype for o in out]))

        def joined(*xs: Any) -> Tensor:
            from .ops import concatenate, reshape
            return concatenate([reshape(o, -1) for o in f(*xs)], axis=0)
        target = joined
    else:
        if not isinstance(out, Tensor):
            raise TypeError(f"gradgradcheck: the function must return a Tensor, got "
                            f"{type(out).__name__}")
        if grad_outputs is None:
            cotangent = np.random.default_rng(0).standard_normal(out.shape)
        else:
            cotangent = _cotangent(grad_outputs, out.shape, "grad_outputs")
        cotangent = cotangent.astype(out.dtype)
        target = f

    def first(*xs: Any) -> Tensor:
        from .ops import concatenate, reshape
        _, vjp_fn = functional.vjp(target, *xs)
        pulled = vjp_fn(cotangent)
        return concatenate([reshape(pulled[i], -1) for i in checked], axis=0)
    return first


def compare_second_jacobians(f: Callable[..., Tensor], inputs: Any, grad_outputs: Any = None,
                             eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                             stacklevel: int = 2) -> JacobianComparison:
    """:func:`compare_jacobians` applied to x -> v^T J_f(x) (the first-order backward pass,
    recorded with ``create_graph``): checks every second derivative of <v, f>."""
    if not callable(f):
        raise TypeError(f"gradgradcheck: f must be callable, got {type(f).__name__}")
    tensors, checked = _as_inputs(inputs, "gradgradcheck", stacklevel + 1)
    if not checked:
        raise ValueError("gradgradcheck: no floating-point input to check")
    first = _first_derivative_function(f, tensors, checked, grad_outputs)
    with warnings.catch_warnings():  # warned once already
        warnings.simplefilter("ignore", UserWarning)
        marked = [Tensor(t._data, requires_grad=i in checked) for i, t in enumerate(tensors)]
        return compare_jacobians(first, marked, eps, atol, rtol, "gradgradcheck")


def gradgradcheck(f: Callable[..., Tensor], inputs: Any, grad_outputs: Any = None,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True) -> bool:
    """:func:`gradcheck` for second derivatives: checks the reverse-mode derivative of
    x -> v^T J_f(x) (the first-order backward pass, recorded with ``create_graph``) against
    central differences of it. ``v`` is ``grad_outputs`` or a fixed random cotangent (seed 0);
    for an ``f`` that returns a tuple of Tensors, ``grad_outputs`` is a tuple too, one
    cotangent per output. The error's "output index" is then a position in the checked
    inputs' gradients, flattened and joined in order."""
    result = compare_second_jacobians(f, inputs, grad_outputs, eps, atol, rtol, stacklevel=3)
    if result.passed:
        return True
    if raise_exception:
        raise GradcheckError(result.message("gradgradcheck (second derivatives)"), result)
    return False

"""``tg.jit``: record a function once per input shape, then replay its NumPy calls.

Eager tinygrad_mv spends a few microseconds of Python per operation building Tensors and Nodes
and walking the tape. That is most of the cost at small and medium sizes (a 1,000-element
Rosenbrock gradient does ~20 µs of NumPy work and ~100 µs of bookkeeping). ``jit(f)`` runs ``f``
once with the tape's tracer switched on. Every primitive's forward function, every VJP rule the
reverse pass calls, and every array the reverse pass adds or reshapes is appended to a flat
program of NumPy calls. Later calls with inputs of the same shapes and dtypes run that program
directly: the same NumPy calls on the same kinds of arrays, so the results are the same, without
the Tensors, Nodes, heap and checks.

What is recorded is what the tape sees, as in ``jax.jit``. Python control flow and values read
outside tinygrad_mv operations are frozen at their first-call values. Two guards catch this:
  - ``item()``, ``float()``, ``bool()``, ``tolist()`` and ``numpy()`` raise :class:`JitError` while
    recording;
  - on the first call the program is checked against an eager run of ``f`` on slightly perturbed
    inputs. A result that differs means ``f`` reads values the tape cannot see (``.data``, NumPy
    on the data), and :class:`JitError` says so.
Tensors that ``f`` reads but does not receive as arguments (model parameters, data held by a
closure) are read again at every call, so updating ``p.data`` is seen. A change of their shape
or dtype records again.

Supported inside ``f``: every tinygrad_mv operation, ``tg.grad``, ``value_and_grad``, ``vjp``,
``jacobian``, ``hessian``, ``hvp``, ``jvp`` and ``tg.autograd.grad``, also through piecewise
operations (their rules build masks by comparing operands, which the recording keeps as steps).
Not supported (raises :class:`JitError` while recording): ``backward()`` into ``.grad``, hooks,
``retain_grad`` and in-place writes. Under ``detect_anomaly``, and when an argument requires grad
while recording is on, ``f`` runs eagerly. Results are Tensors without a graph: ``jit`` goes
outermost (``jit(grad(f))``).

Modules:

- ``recorder``: the tracer that turns what the tape does into numbered slots and steps, and the
  recorded first-order reverse pass.
- ``program``: arguments and results, keeping the steps the results need, and compiling them to
  a straight-line Python function.
- ``jit``: ``jit`` itself: one program per input signature, the check on perturbed inputs.
"""
from ..autograd import JitError
from .jit import jit

__all__ = ["jit", "JitError"]

"""``tg.onnx.export``: run a function once on example inputs with the tape's hooks writing ONNX
nodes, then check the model and write it atomically."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .. import autograd
from ..autograd import JitError
from ..tensor import Tensor
from .recorder import ExportError, Recorder

DEFAULT_OPSET = 18  # reductions take their axes as an input from opset 18


def _load_onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise ImportError('tg.onnx.export needs the onnx and onnxruntime packages: '
                          'pip install "tinygrad_mv[onnx]"') from exc
    return onnx


def _example_arrays(example_inputs: Any) -> list[np.ndarray]:
    if isinstance(example_inputs, (Tensor, np.ndarray)):
        example_inputs = (example_inputs,)
    if not isinstance(example_inputs, (tuple, list)):
        raise TypeError("onnx.export: example_inputs must be a tuple of arrays or Tensors, got "
                        f"{type(example_inputs).__name__}")
    arrays = []
    for i, value in enumerate(example_inputs):
        if not isinstance(value, (Tensor, np.ndarray, np.generic, float, int)) or isinstance(
                value, bool):
            raise TypeError(f"onnx.export: example input {i} is a {type(value).__name__}; give "
                            "arrays or Tensors")
        array = np.array(value._data if isinstance(value, Tensor) else value)
        if array.dtype.kind in "iu":
            array = array.astype(np.float64)
        if array.dtype not in (np.float64, np.float32):
            raise TypeError(f"onnx.export: example input {i} has dtype {array.dtype}; inputs "
                            "are float64 or float32 arrays")
        arrays.append(array)
    return arrays


def _name_list(given: Any, what: str) -> list[str] | None:
    """The names given, read once (an iterator is used up by a first reading)."""
    if given is None:
        return None
    if isinstance(given, str):
        raise TypeError(f"onnx.export: {what} must be a sequence of names, got the string "
                        f"{given!r}")
    try:
        return list(given)
    except TypeError:
        raise TypeError(f"onnx.export: {what} must be a sequence of names, got "
                        f"{type(given).__name__}") from None


def _names(given: list[str] | None, count: int, prefix: str, what: str) -> list[str]:
    if given is None:
        return [f"{prefix}_{i}" for i in range(count)]
    if len(given) != count or len(set(given)) != count or not all(
            isinstance(n, str) and n for n in given):
        raise ValueError(f"onnx.export: {what} must be {count} distinct non-empty names, got "
                         f"{given!r}")
    return given


def _flatten(result: Any, name: str) -> list[Tensor]:
    """The Tensors of a result in order (a Tensor, or tuples and lists of them)."""
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [t for item in result for t in _flatten(item, name)]
    raise TypeError(f"onnx.export({name}): the function returned {type(result).__name__}; it "
                    "must return Tensors (or tuples and lists of them)")


def _parameter_names(f: Any) -> dict[int, str]:
    """A Module's parameters by the id of their arrays: initializers named as in state_dict."""
    named = getattr(f, "named_parameters", None)
    if named is None:
        return {}
    return {id(p._data): name for name, p in named()}


def _user_frame(exc: BaseException) -> str:
    """``file:line`` of the innermost frame of ``exc`` outside tinygrad_mv."""
    package = Path(__file__).resolve().parents[1]
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame if tb is not None else None
    while frame is not None:
        if package not in Path(frame.f_code.co_filename).resolve().parents:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


@contextlib.contextmanager
def _recording(recorder: Recorder) -> Iterator[None]:
    if autograd._tracer is not None:
        raise ExportError("onnx.export: another recording (tg.jit or an export) is running")
    autograd._tracer = recorder
    try:
        yield
    finally:
        autograd._tracer = None


def export(f: Callable[..., Any], example_inputs: Any, path: str | os.PathLike, *,
           input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
           opset: int | None = None) -> Path:
    """Record ``f`` (a function of Tensors, a transform such as ``tg.grad(f)``, or a
    ``tg.nn.Module``) on ``example_inputs`` and write it as an ONNX model to ``path``."""
    onnx = _load_onnx()
    from . import calls, graph, operators

    if not callable(f):
        raise TypeError(f"onnx.export: f must be a function or a tg.nn.Module, got "
                        f"{type(f).__name__}")
    if opset is None:
        opset = DEFAULT_OPSET
    elif isinstance(opset, (bool, np.bool_)) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"onnx.export: opset must be an int, got {opset!r}")
    if not DEFAULT_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"onnx.export: opset {opset} is not supported; give {DEFAULT_OPSET} to "
                         f"{onnx.defs.onnx_opset_version()}")
    arrays = _example_arrays(example_inputs)
    output_names = _name_list(output_names, "output_names")
    inputs = _names(_name_list(input_names, "input_names"), len(arrays), "input", "input_names")
    if not os.fspath(path):
        raise ValueError("onnx.export: the path is empty")
    target = Path(path)
    if target.is_dir():  # (checked before recording, as the folder below)
        raise IsADirectoryError(f"onnx.export: cannot write {os.fspath(path)!r}: it is a folder")
    if target.parent.exists() and not target.parent.is_dir():  # a file, as open() says
        raise NotADirectoryError(f"onnx.export: cannot write {os.fspath(path)!r}: "
                                 f"{str(target.parent)!r} is not a folder")
    if not target.parent.is_dir():
        if target.parent.exists():  # (a file where the folder should be)
            raise NotADirectoryError(f"onnx.export: cannot write {os.fspath(path)!r}: "
                                     f"{os.fspath(target.parent)!r} is not a folder")
        raise FileNotFoundError(f"onnx.export: the folder {target.parent} does not exist")
    name = getattr(f, "__name__", type(f).__name__)
    parameters = _parameter_names(f)
    clash = set(inputs) & set(parameters.values())
    if clash:
        raise ValueError(f"onnx.export: input names {sorted(clash)} are the names of the "
                         "model's parameters")
    # (a parameter may be called as a generated value is: a Module's attribute mul_2)
    builder = graph.GraphBuilder(reserved=[*inputs, *(output_names or ()),
                                           *parameters.values()])
    recorder = Recorder(name, builder, operators.EMITTERS, calls.calls(), parameters)
    # Inputs that require grad: a transform inside f then records its derivatives as
    # operations (create_graph), which become nodes like the rest.
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    for tensor, input_name in zip(tensors, inputs):
        recorder.input(tensor._data, input_name)
    try:
        with _recording(recorder), autograd.enable_grad():
            result = f(*tensors)
    except JitError as exc:  # a read the recording cannot follow (item(), .numpy(), ...)
        why = str(exc).replace("jit(", "onnx.export(", 1).replace(
            ", or call the function without tg.jit", "")
        raise ExportError(f"{why} (at {_user_frame(exc)})") from None
    results = _flatten(result, name)
    if not results:
        raise ExportError(f"onnx.export({name}): f returned no Tensor ({result!r}); a model "
                          "needs at least one output")
    outputs = _names(output_names, len(results), "output", "output_names")
    clash = set(outputs) & (set(inputs) | set(parameters.values()))
    if clash:
        raise ValueError(f"onnx.export: output names {sorted(clash)} are already the names of "
                         "inputs or parameters")
    builder.reserved.update(outputs)
    for tensor, output_name in zip(results, outputs):
        source = recorder.value(tensor._data)
        builder.nodes.append(graph.helper.make_node("Identity", [source], [output_name]))
    model = builder.model(list(zip(inputs, arrays)),
                          [(n, t._data) for n, t in zip(outputs, results)], opset, name)
    onnx.checker.check_model(model, full_check=True)
    return graph.write_atomically(model, target)

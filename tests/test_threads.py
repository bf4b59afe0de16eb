"""Grad modes are per thread (and per asyncio task): concurrent training and inference do not
interfere. Barriers force the two threads to be inside their blocks at the same time."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

ROUNDS = 50
TIMEOUT = 20


def run_threads(*targets: Callable[[], None]) -> None:
    """Run the targets concurrently; re-raise the first error any of them hit."""
    errors: list[BaseException] = []

    def guard(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001  (reported in the main thread)
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guard(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread hung (barrier never reached?)"
    if errors:
        raise errors[0]


def test_training_and_no_grad_inference_concurrently() -> None:
    rng = np.random.default_rng(0)
    xs, ys = rng.normal(size=(32, 3)), rng.normal(size=32)
    w = Tensor(np.zeros(3), requires_grad=True)
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    seen: dict[str, list] = {"train": [], "infer": []}

    def train() -> None:
        for _ in range(ROUNDS):
            barrier.wait()  # the other thread is inside no_grad now
            loss = ((tg.Tensor(xs) @ w - ys) ** 2).mean()
            seen["train"].append((loss.requires_grad, loss.grad_fn is not None,
                                  tg.is_grad_enabled()))
            loss.backward()
            with tg.no_grad():
                w.data -= 0.1 * w.grad.data
            w.grad = None
            barrier.wait()

    def infer() -> None:
        with tg.no_grad():
            for _ in range(ROUNDS):
                barrier.wait()
                pred = tg.Tensor(xs) @ w  # w requires grad, but nothing is recorded here
                seen["infer"].append((pred.requires_grad, pred.grad_fn is not None,
                                      tg.is_grad_enabled()))
                barrier.wait()

    run_threads(train, infer)
    assert seen["train"] == [(True, True, True)] * ROUNDS
    assert seen["infer"] == [(False, False, False)] * ROUNDS
    # The training converged to the least-squares solution regardless of the other thread.
    w_best = np.linalg.lstsq(xs, ys, rcond=None)[0]
    np.testing.assert_allclose(w.data, w_best, atol=1e-3)


def test_a_shared_no_grad_instance_used_by_two_threads() -> None:
    # One no_grad object (e.g. a module-level constant) entered by two threads, interleaved the
    # hard way: A enters, B enters, A leaves while B is still inside, then B leaves.
    shared = tg.no_grad()
    steps = [threading.Barrier(2, timeout=TIMEOUT) for _ in range(4)]
    x = Tensor([1.0], requires_grad=True)
    seen: dict[str, list] = {"A": [], "B": []}

    def thread_a() -> None:
        for _ in range(ROUNDS):
            with shared:
                steps[0].wait()
                steps[1].wait()
                seen["A"].append((x * 2).requires_grad)
            steps[2].wait()
            seen["A"].append((x * 2).requires_grad)  # A is out, B still inside
            steps[3].wait()

    def thread_b() -> None:
        for _ in range(ROUNDS):
            steps[0].wait()
            with shared:
                steps[1].wait()
                steps[2].wait()
                seen["B"].append((x * 2).requires_grad)
            steps[3].wait()
            seen["B"].append((x * 2).requires_grad)

    run_threads(thread_a, thread_b)
    assert seen["A"] == [False, True] * ROUNDS
    assert seen["B"] == [False, True] * ROUNDS


def test_detect_anomaly_is_per_thread() -> None:
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    outcome: dict[str, Any] = {}

    def checked() -> None:
        with tg.detect_anomaly():
            barrier.wait()
            try:
                with np.errstate(invalid="ignore"):
                    tg.log(Tensor([-1.0], requires_grad=True))
                outcome["checked"] = "no error"
            except FloatingPointError as exc:
                outcome["checked"] = str(exc)
            barrier.wait()

    def unchecked() -> None:
        barrier.wait()
        with np.errstate(invalid="ignore"):
            y = tg.log(Tensor([-1.0], requires_grad=True))
        outcome["unchecked"] = (tg.autograd.is_anomaly_enabled(), bool(np.isnan(y.data[0])))
        barrier.wait()

    run_threads(checked, unchecked)
    assert "'log'" in outcome["checked"]
    assert outcome["unchecked"] == (False, True)


def test_new_threads_start_with_recording_on() -> None:
    # A thread started from inside no_grad does not inherit it (as in PyTorch).
    seen = []
    with tg.no_grad():
        run_threads(lambda: seen.append((Tensor([1.0], requires_grad=True) * 2).requires_grad))
        seen.append((Tensor([1.0], requires_grad=True) * 2).requires_grad)
    assert seen == [True, False]


def test_concurrent_backward_with_and_without_create_graph() -> None:
    # backward switches recording on for create_graph inside the engine: per thread only.
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    results: dict[str, list] = {"first": [], "second": []}

    def first_order() -> None:
        for k in range(ROUNDS):
            x = Tensor(float(k), requires_grad=True)
            barrier.wait()
            (g,) = tg.autograd.grad(x ** 3, x)
            results["first"].append((g.item(), g.requires_grad))

    def second_order() -> None:
        for k in range(ROUNDS):
            x = Tensor(float(k), requires_grad=True)
            barrier.wait()
            (g,) = tg.autograd.grad(x ** 3, x, create_graph=True)
            (h,) = tg.autograd.grad(g, x)
            results["second"].append((g.item(), g.requires_grad, h.item()))

    run_threads(first_order, second_order)
    assert results["first"] == [(3.0 * k * k, False) for k in range(ROUNDS)]
    assert results["second"] == [(3.0 * k * k, True, 6.0 * k) for k in range(ROUNDS)]


def test_no_grad_is_per_asyncio_task() -> None:
    x = Tensor([1.0], requires_grad=True)

    async def inference(started: asyncio.Event, done: asyncio.Event) -> bool:
        with tg.no_grad():
            started.set()
            await done.wait()
            return (x * 2).requires_grad

    async def training(started: asyncio.Event, done: asyncio.Event) -> bool:
        await started.wait()  # the other task is inside no_grad
        recorded = (x * 2).requires_grad
        done.set()
        return recorded

    async def main() -> list:
        started, done = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(inference(started, done), training(started, done))

    assert asyncio.run(main()) == [False, True]


@pytest.mark.parametrize("mode", [tg.no_grad, lambda: tg.set_grad_enabled(False)])
def test_decorated_function_used_from_two_threads(mode: Callable[[], Any]) -> None:
    @mode()
    def predict(t: Tensor) -> Tensor:
        return t * 2

    barrier = threading.Barrier(2, timeout=TIMEOUT)
    x = Tensor([1.0], requires_grad=True)
    seen: list[tuple[bool, bool]] = []

    def run() -> None:
        for _ in range(ROUNDS):
            barrier.wait()
            seen.append((predict(x).requires_grad, (x * 2).requires_grad))

    run_threads(run, run)
    assert seen == [(False, True)] * (2 * ROUNDS)

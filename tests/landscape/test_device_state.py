"""State that is the process's, not the tensors': the TF32 switches several Evaluators
share, the layout of the directions set_point adds, the order CUDA numbers GPUs in."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import torch

from lstui.landscape.directions import create_random_direction
from lstui.landscape.evaluator import EvalData, Evaluator, _GlobalFlags
from tests.landscape.nets import conv_bn


def _tf32() -> tuple[bool, bool]:
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


def test_a_strict_evaluation_keeps_tf32_off_while_a_tf32_one_waits_for_it() -> None:
    """Thread A evaluates in strict fp32; thread B asks for TF32 meanwhile. It used to get
    it at once, turning TF32 on under A's evaluation (a 1e-3 error against 1e-6)."""
    before = _tf32()
    a_inside, a_may_leave, b_inside = threading.Event(), threading.Event(), threading.Event()
    seen_by_a: list[tuple[bool, bool]] = []

    def a() -> None:
        with _GlobalFlags.use(tf32=False):
            a_inside.set()
            a_may_leave.wait(10)
            seen_by_a.append(_tf32())

    def b() -> None:
        with _GlobalFlags.use(tf32=True):
            b_inside.set()
            assert _tf32() == (True, True)

    ta = threading.Thread(target=a)
    ta.start()
    assert a_inside.wait(10)
    tb = threading.Thread(target=b)
    tb.start()
    time.sleep(0.2)
    assert not b_inside.is_set(), "B waits while A evaluates strictly"
    a_may_leave.set()
    ta.join(10)
    tb.join(10)
    assert b_inside.is_set() and seen_by_a == [(False, False)]
    assert _tf32() == before, "the last to leave puts the flags back"


def test_the_same_setting_shares_and_a_thread_nests_only_its_own() -> None:
    before = _tf32()
    other_inside = threading.Event()

    def other() -> None:
        with _GlobalFlags.use(tf32=True):
            other_inside.set()

    with _GlobalFlags.use(tf32=True):
        t = threading.Thread(target=other)
        t.start()
        assert other_inside.wait(10), "the same setting does not wait"
        t.join(10)
        with _GlobalFlags.use(tf32=True):  # this thread's own setting, nested
            assert _tf32() == (True, True)
        with pytest.raises(RuntimeError, match="nested the other TF32 setting"), _GlobalFlags.use(tf32=False):
            pass  # (it would flip it under the other threads inside)
        assert _tf32() == (True, True)
    assert _tf32() == before


def test_directions_are_laid_out_as_the_tensors_they_move() -> None:
    """Channels-last weights and contiguous directions: CUDA's multi-tensor kernels of
    set_point need equal strides, else they fall back to one kernel per tensor."""
    model = conv_bn()
    direction = create_random_direction(model, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    data = EvalData(torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 3, (16,), generator=g))
    ev = Evaluator(model, [direction], train=data, channels_last=True)
    assert any(t.dim() == 4 for t in ev._targets)
    for target, d, origin in zip(ev._targets, ev._dirs[0], ev._origin, strict=True):
        assert d.stride() == target.stride() == origin.stride()
    centre = ev.evaluate(0.0).train_loss
    moved = ev.evaluate(0.5).train_loss
    assert centre != moved and ev.evaluate(0.0).train_loss == centre


def test_importing_lstui_numbers_gpus_in_pci_order() -> None:
    """`lstui run --device cuda:1` and a daemon's worker on cuda:1 mean the same card."""
    env = {k: v for k, v in os.environ.items() if k != "CUDA_DEVICE_ORDER"}
    code = "import lstui.scheduler.foreground, os; print(os.environ['CUDA_DEVICE_ORDER'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PCI_BUS_ID"


def test_a_thread_asking_for_the_other_setting_gets_its_turn() -> None:
    """Threads evaluating point after point with TF32 (entering and leaving at once) kept
    a strict one out for as long as they ran."""
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            with _GlobalFlags.use(tf32=True):
                time.sleep(0.002)

    threads = [threading.Thread(target=busy) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.05)
        started = time.perf_counter()
        with _GlobalFlags.use(tf32=False):
            waited = time.perf_counter() - started
            assert _tf32() == (False, False)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert waited < 1.0

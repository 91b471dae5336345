"""Where one surface point's time goes: the kernels of one point, by device time.

Builds the same model, directions and synthetic CIFAR-sized data as ``bench_surface.py``,
evaluates one warm-up point in each mode asked for, then profiles one point with
``torch.profiler`` and prints the kernels that took the most time (on CUDA, the GPU
kernels' time, without the operators that launched them, which would count it twice, or
the profiler's own overhead records; on the CPU, each operator's own CPU time), with their
share of the point. The last line is one JSON object.

    python benchmarks/profile_point.py --device cuda --images 50000 --modes bf16,bf16+f
    python benchmarks/profile_point.py --modes fp32 --top 10          # the CPU, 512 images
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._help import DefaultsHelp  # noqa: E402
from benchmarks.bench_surface import (  # noqa: E402
    CIFAR_MEAN,
    CIFAR_STD,
    Setup,
    common,
    make_evaluator,
    setup_options,
)
from lstui.landscape import triton_conv  # noqa: E402
from lstui.landscape.evaluator import EvalData, Evaluator  # noqa: E402
from lstui.landscape.fold import ConvBN  # noqa: E402

# records CUPTI adds to a CUDA profile that are no kernel (its overhead kinds)
PROFILER_OVERHEADS = {"Command Buffer Full", "Buffer Flush", "Activity Buffer Request", "Instrumentation",
                      "Resource", "Driver Compiler", "Lazy Function Loading",
                      "Runtime Triggered Module Loading", "UVM Activity Init", "Unknown"}


def profile_mode(mode: str, setup: Setup, top: int) -> dict[str, object]:
    device = torch.device(setup.device)
    model, dx, dy, images, labels = common(setup)
    data = EvalData(images, labels, 1 / 255, CIFAR_MEAN, CIFAR_STD)
    ev = make_evaluator(mode, model, dx, dy, data, device, setup.batch_size)
    ev.evaluate(0.1, -0.1)  # warm-up: cuDNN's choices, compilation
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    if cuda:
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    with profile(activities=activities) as prof:
        ev.evaluate(0.2, 0.3)
        if cuda:
            torch.cuda.synchronize(device)
    wall = time.perf_counter() - started
    events = prof.key_averages()
    if cuda:
        kernels = [(e.key, e.self_device_time_total, e.count) for e in events
                   if e.device_type == DeviceType.CUDA and e.key not in PROFILER_OVERHEADS
                   and e.self_device_time_total > 0]
    else:
        kernels = [(e.key, e.self_cpu_time_total, e.count) for e in events if e.self_cpu_time_total > 0]
    kernels.sort(key=lambda k: -k[1])
    total_us = sum(k[1] for k in kernels)
    print(f"\n{mode}: {wall:.4f} s wall (profiled), {total_us / 1e6:.4f} s of {'GPU' if cuda else 'CPU'} "
          f"time in {sum(k[2] for k in kernels)} calls, batch {ev.batch_size}")
    for name, us, count in kernels[:top]:
        print(f"  {100 * us / total_us:5.1f} %  {us / 1e3:9.2f} ms  {count:6d}×  {name[:90]}")
    result: dict[str, object] = {
        "wall_s": wall, "busy_s": total_us / 1e6, "batch_size": ev.batch_size,
        "top": [{"name": n[:200], "ms": us / 1e3, "count": c} for n, us, c in kernels[:top]]}
    if ev.triton_conv != "off":
        result["triton"] = triton_facts(ev)
        facts = result["triton"]
        print(f"  layers on Triton: {facts['layers_on_triton']}; tuned: {json.dumps(facts['configs'])}")
    return result


def triton_facts(ev: Evaluator) -> dict[str, object]:
    """Which layers run lstui's Triton kernel (per input shape) and the configuration its
    autotuner chose per layer shape."""
    layers = {name: {str(key[0]): use for key, use in m.triton_use.items()} | ({"failed": True} if m.triton_failed else {})
              for name, m in ev._forward_model.named_modules() if isinstance(m, ConvBN)}
    tuned = getattr(triton_conv._conv_kernel, "cache", {}) if triton_conv.available() else {}
    return {"layers_on_triton": ev.triton_layers, "layers": layers,
            "configs": {str(key): str(config) for key, config in tuned.items()}}


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=DefaultsHelp)
    setup_options(p)
    p.add_argument("--modes", default="fp32", help="comma list, as bench_surface.py's --modes")
    p.add_argument("--batch-size", type=int, default=None, help="lstui's batch (default: its own)")
    p.add_argument("--top", type=int, default=12, help="kernels listed per mode")
    p.add_argument("--seed", type=int, default=0, help="seed of the model's weights, the directions and the data")
    args = p.parse_args(argv)
    cuda = torch.device(args.device).type == "cuda"
    images = args.images or (10_000 if cuda else 512)
    setup = Setup(args.model, images, args.seed, args.device, None, args.batch_size, 128, "tensors", False)
    result: dict[str, object] = {"device": torch.cuda.get_device_name(args.device) if cuda else "cpu",
                                 "model": args.model, "images": images, "modes": {}}
    for mode in (m.strip() for m in args.modes.split(",") if m.strip()):
        result["modes"][mode] = profile_mode(mode, setup, args.top)  # type: ignore[index]
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

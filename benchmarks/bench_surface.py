"""Surface points per second: the reference's way against lstui's Evaluator, each in a process of its own.

The baseline does, for every point, what the reference code does: the weights
θ* + x·dx + y·dy are computed on the host and copied into the model
(``p.data.copy_(host_tensor)``), then a ``torch.utils.data.DataLoader`` (batch 128) feeds
the model batch by batch, each batch copied to the device, the loss summed with
``.item()`` per batch, in fp32 (TF32 off, as in lstui's strict mode; cuDNN autotuning
left at PyTorch's default, off). By default (``--baseline-data transforms``) the loader
reads the images the way torchvision's CIFAR10 class does for the reference — uint8 HWC
array → ``PIL.Image.fromarray`` → ``ToTensor()`` → ``Normalize(mean, std)`` per sample,
every point; ``--baseline-data tensors`` gives the baseline pre-normalised float tensors
instead (a stronger baseline than the reference ever was).

lstui's Evaluator is timed in every precision mode (and compiled, on CUDA) on the same
model, the same directions, the same synthetic CIFAR-sized data (uint8 3×32×32 images,
random labels) and the same points. Each contender runs in a process of its own (its
allocator, thread pools, caches and global switches are its own, as in an lstui worker or
a reference script): lstui's CPU contenders keep freed memory as lstui's CPU workers do,
the baseline runs with the C library's defaults as the reference's scripts do
(``--baseline-keeps-freed-memory`` gives it the same setting). The processes take turns
point by point (baseline, then each mode), so load from other processes falls on all of
them alike; each figure is the median over the timed points; warm-up points (and
compilation) are not timed, and the contenders warm up one at a time.

The last line printed is one JSON object (see ``benchmarks/README.md``).

    python benchmarks/bench_surface.py                       # ResNet-56 on the CPU, 512 images
    python benchmarks/bench_surface.py --model cnn --images 2000   # the small CNN
    python benchmarks/bench_surface.py --device cuda --images 50000
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._help import DefaultsHelp  # noqa: E402
from lstui.landscape.directions import create_random_direction  # noqa: E402
from lstui.landscape.evaluator import EvalData, Evaluator, compile_available  # noqa: E402
from lstui.models import build_model  # noqa: E402
from lstui.scheduler.allocator import keep_freed_memory  # noqa: E402

CIFAR_MEAN = tuple(v / 255.0 for v in (125.3, 123.0, 113.9))
CIFAR_STD = tuple(v / 255.0 for v in (63.0, 62.1, 66.7))
Point = tuple[float, float]
COMPILE_FLAGS = {"c": "default", "a": "max-autotune-no-cudagraphs", "g": "reduce-overhead"}


# -- the data and the model ---------------------------------------------------------------
def synthetic_cifar(n: int, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, classes, (n,), generator=g)
    return images, labels


def normalised_float(images: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def centre_model(name: str, seed: int, images: torch.Tensor) -> nn.Module:
    """The model at θ*: fresh weights, BatchNorm statistics from a few training batches."""
    torch.manual_seed(seed)
    model = build_model(name, input_shape=(3, 32, 32))
    model.train()
    with torch.no_grad():
        x = normalised_float(images[:256])
        for s in range(0, x.shape[0], 64):
            model(x[s : s + 64])
    return model.eval()


# -- the reference's way -------------------------------------------------------------------
class ReferenceStyleImages(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Images served as torchvision's CIFAR10 serves them: PIL, ToTensor, Normalize per sample."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        from torchvision import transforms

        self.data = images.permute(0, 2, 3, 1).contiguous().numpy()  # N×H×W×C uint8, as CIFAR10.data
        self.targets = [int(v) for v in labels]
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        from PIL import Image

        image = self.transform(Image.fromarray(self.data[index]))
        return image, torch.tensor(self.targets[index])


class ReferenceBaseline:
    """What the reference does at every point (``net_plotter.set_weights`` + ``eval_loss``)."""

    def __init__(
        self,
        model: nn.Module,
        dx: Sequence[torch.Tensor],
        dy: Sequence[torch.Tensor],
        inputs: torch.Tensor,
        labels: torch.Tensor,
        device: torch.device,
        batch_size: int = 128,
        workers: int = 0,
    ) -> None:
        self.net = model.to(device).eval()
        self.device = device
        self.centre = [p.detach().cpu().clone() for p in self.net.parameters()]
        self.dx = [d.cpu() for d in dx]
        self.dy = [d.cpu() for d in dy]
        dataset: Dataset[tuple[torch.Tensor, torch.Tensor]] = (
            TensorDataset(inputs, labels) if inputs.is_floating_point() else ReferenceStyleImages(inputs, labels)
        )
        # the reference's loaders take num_workers=threads (2 by default), started anew at
        # every pass over the data (no persistent workers)
        self.loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)

    def evaluate(self, x: float, y: float) -> float:
        if self.device.type != "cuda":
            return self._evaluate(x, y)
        # fp32 as in lstui's strict mode (PyTorch's default runs cuDNN convolutions in TF32)
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        try:
            return self._evaluate(x, y)
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved

    def _evaluate(self, x: float, y: float) -> float:
        with torch.no_grad():
            for p, w, u, v in zip(self.net.parameters(), self.centre, self.dx, self.dy):
                p.data.copy_(w + x * u + y * v)
        total, correct, total_n = 0.0, 0, 0
        with torch.no_grad():
            for inputs, targets in self.loader:
                inputs, targets = inputs.to(self.device), targets.to(self.device)
                outputs = self.net(inputs)
                total += F.cross_entropy(outputs, targets).item() * inputs.shape[0]
                correct += int((outputs.argmax(1) == targets).sum().item())
                total_n += inputs.shape[0]
        return total / total_n


# -- timing --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setup:
    """What every contender's process rebuilds identically (the same seed gives the same
    model, directions, data and points)."""

    model: str
    images: int
    seed: int
    device: str
    threads: int | None
    batch_size: int | None
    baseline_batch: int
    baseline_data: str
    baseline_keeps_freed_memory: bool
    baseline_workers: int = 0


@dataclass
class Contender:
    name: str
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)  # its process's CPU time
    faults: list[int] = field(default_factory=list)  # its process's minor page faults
    losses: list[float] = field(default_factory=list)
    warmup_s: float = 0.0
    memory_mb: float = 0.0
    reserved_mb: float = 0.0  # CUDA: the most the caching allocator held
    facts: dict[str, object] = field(default_factory=dict)
    conn: Any = None
    process: Any = None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def _minflt() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def common(setup: Setup) -> tuple[nn.Module, list[torch.Tensor], list[torch.Tensor], torch.Tensor, torch.Tensor]:
    images, labels = synthetic_cifar(setup.images, 10, setup.seed)
    model = centre_model(setup.model, setup.seed, images)
    g = torch.Generator().manual_seed(setup.seed + 123)
    dx = create_random_direction(model, g)
    dy = create_random_direction(model, g)
    return model, dx, dy, images, labels


def make_contender(
    name: str, setup: Setup, device: torch.device
) -> tuple[Callable[[float, float], float], Callable[[], dict[str, object]]]:
    """The contender's evaluate(x, y) → loss, and a function giving its facts."""
    model, dx, dy, images, labels = common(setup)
    if name == "baseline":
        base_inputs = normalised_float(images) if setup.baseline_data == "tensors" else images
        base = ReferenceBaseline(model, dx, dy, base_inputs, labels, device, setup.baseline_batch,
                                 setup.baseline_workers)
        return base.evaluate, lambda: {"batch_size": setup.baseline_batch, "data": setup.baseline_data}
    ev = make_evaluator(name, model, dx, dy, EvalData(images, labels, 1 / 255, CIFAR_MEAN, CIFAR_STD),
                        device, setup.batch_size)
    return (
        lambda x, y: float(ev.evaluate(x, y).train_loss or 0.0),
        lambda: {"batch_size": ev.batch_size, "storage": ev.storage["train"], "compiled": ev.compiled,
                 "channels_last": ev.channels_last, "folded_bn": ev.folded_bn,
                 "fused_relu": ev.fused_relu, "cuda_graphs": ev.cuda_graphs and not ev.compiled,
                 "triton_layers": ev.triton_layers},
    )


def make_evaluator(mode: str, model: nn.Module, dx: Sequence[torch.Tensor], dy: Sequence[torch.Tensor],
                   data: EvalData, device: torch.device, batch_size: int | None) -> Evaluator:
    precision, _, flags = mode.partition("+")
    return Evaluator(
        model,
        [dx, dy],
        train=data,
        device=device,
        batch_size=batch_size,
        precision=precision,
        compile="on" if set(flags) & set(COMPILE_FLAGS) else "off",
        compile_mode=next((COMPILE_FLAGS[f] for f in flags if f in COMPILE_FLAGS), "default"),
        fold_bn="n" not in flags,
        fuse_relu=True if "f" in flags else False if "u" in flags else None,
        cuda_graphs=True if "r" in flags else False if "u" in flags else None,
        triton_conv="on" if "t" in flags else "auto" if "s" in flags else "off",
    )


def contender_process(conn: Any, name: str, setup: Setup, warm_points: Sequence[Point]) -> None:
    """One contender in a process of its own: its allocator, thread pools, caches and
    global switches are its own, as in a worker or a reference script.

    CPU lstui contenders keep freed memory as lstui's CPU workers do
    (:func:`lstui.scheduler.allocator.keep_freed_memory`); the baseline runs with the C
    library's defaults, as the reference's scripts do, unless
    ``--baseline-keeps-freed-memory``.
    """
    try:
        _serve(conn, name, setup, warm_points)
    except (EOFError, BrokenPipeError):  # the parent is gone (another contender failed)
        pass


def _serve(conn: Any, name: str, setup: Setup, warm_points: Sequence[Point]) -> None:
    device = torch.device(setup.device)
    if setup.threads:
        torch.set_num_threads(setup.threads)
    if device.type == "cpu" and (name != "baseline" or setup.baseline_keeps_freed_memory):
        keep_freed_memory()
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    conn.recv()  # go: contenders warm up one at a time
    before = torch.cuda.memory_allocated(device) if device.type == "cuda" else _rss_bytes()
    started = time.perf_counter()
    evaluate, facts = make_contender(name, setup, device)
    for x, y in warm_points:
        evaluate(x, y)
    _sync(device)
    conn.send((time.perf_counter() - started, facts()))
    while (point := conn.recv()) is not None:
        _sync(device)
        t0, cpu0, f0 = time.perf_counter(), time.process_time(), _minflt()
        loss = evaluate(*point)
        _sync(device)
        conn.send((time.perf_counter() - t0, time.process_time() - cpu0, _minflt() - f0, loss))
    reserved = 0
    if device.type == "cuda":
        # the job's whole peak, its warm-up's (cuDNN's algorithm search, graph capture,
        # Triton's tuning) included: what it needs of the card; and what the allocator held
        peak = torch.cuda.max_memory_allocated(device) - before
        reserved = torch.cuda.max_memory_reserved(device)
    else:
        peak = _maxrss_bytes() - before  # the contender's growth of its process's peak
    conn.send((peak / 2**20, reserved / 2**20))


def start(names: Sequence[str], setup: Setup, warm_points: Sequence[Point]) -> list[Contender]:
    ctx = mp.get_context("spawn")  # CUDA cannot be forked into
    contenders = []
    for name in names:
        parent, child = ctx.Pipe()
        # a daemonic process may not start the loader's worker processes
        daemon = not (name == "baseline" and setup.baseline_workers > 0)
        process = ctx.Process(target=contender_process, args=(child, name, setup, list(warm_points)), daemon=daemon)
        process.start()
        child.close()  # the child's end lives in the child only: its exit ends our recv
        contenders.append(Contender(name, conn=parent, process=process))
    for c in contenders:
        c.conn.send("go")
        c.warmup_s, c.facts = _recv(c)
        print(f"ready: {c.name:8s} warm-up {c.warmup_s:7.2f} s  ({c.facts})", flush=True)
    return contenders


def _recv(c: Contender) -> Any:
    try:
        return c.conn.recv()
    except EOFError:
        c.process.join(timeout=10)
        raise SystemExit(f"bench_surface: the {c.name} contender's process ended (exit code "
                         f"{c.process.exitcode}); its error is above") from None


def time_interleaved(contenders: Sequence[Contender], points: Sequence[Point]) -> None:
    """Each point by each contender in turn, so load from other processes falls on all alike."""
    for x, y in points:
        for c in contenders:
            c.conn.send((x, y))
            wall, cpu, faults, loss = _recv(c)
            c.times.append(wall)
            c.cpu_times.append(cpu)
            c.faults.append(faults)
            c.losses.append(loss)
    for c in contenders:
        c.conn.send(None)
        c.memory_mb, c.reserved_mb = _recv(c)
        c.process.join(timeout=60)


def scaling(
    make: Callable[[torch.device], Evaluator], points: Sequence[Point], devices: Sequence[torch.device]
) -> dict[str, object]:
    """time(k devices) / time(1 device) for the same points, split round-robin, one thread each."""
    evaluators = [make(d) for d in devices]
    for ev in evaluators:
        ev.evaluate(*points[0])

    def run(evs: Sequence[Evaluator]) -> float:
        shares = [points[i :: len(evs)] for i in range(len(evs))]
        threads = [
            threading.Thread(target=lambda e=e, s=s: [e.evaluate(x, y) for x, y in s])
            for e, s in zip(evs, shares)
        ]
        for d in devices:
            torch.cuda.synchronize(d)
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for d in devices:
            torch.cuda.synchronize(d)
        return time.perf_counter() - started

    one = run(evaluators[:1])
    result: dict[str, object] = {"time_1": one}
    for k in sorted({2, len(devices)}):
        tk = run(evaluators[:k])
        result[f"time_{k}"] = tk
        result[f"time_{k}_over_time_1"] = tk / one
    return result


# -- the run -------------------------------------------------------------------------------
def setup_options(p: argparse.ArgumentParser) -> None:
    """The device, model and data flags this benchmark shares with ``profile_point.py``."""
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="the torch device (default: cuda where there is one, else cpu)")
    p.add_argument("--model", default="resnet56", help="built-in model")
    p.add_argument("--images", type=int, default=None,
                   help="synthetic CIFAR-sized images (default: 512 on the CPU, 10,000 on CUDA)")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=DefaultsHelp)
    setup_options(p)
    p.add_argument("--points", type=int, default=None, help="timed points per contender (default: 10)")
    p.add_argument("--warmup", type=int, default=1, help="untimed points per contender first, at least 1")
    p.add_argument("--batch-size", type=int, default=None, help="lstui's batch (default: its own)")
    p.add_argument("--baseline-batch", type=int, default=128, help="the reference loop's batch")
    p.add_argument("--baseline-data", choices=("transforms", "tensors"), default="transforms",
                   help="the baseline's loader: per-sample PIL/ToTensor/Normalize as the reference, or float tensors")
    p.add_argument(
        "--modes",
        default=None,
        help="comma list of precisions with flags after '+' (no flag: the Evaluator's defaults): "
        "'c' compiled, 'a' compiled with max-autotune, 'g' compiled with CUDA graphs, 'n' "
        "BatchNorm not folded, 'f' folded convolution, sum and ReLU as one call (cuDNN's fused "
        "kernel; the default on CUDA), 'r' the eager model replayed from CUDA graphs (the "
        "default on CUDA), 'u' neither of the last two, 't' tf32 and bf16 convolutions on "
        "lstui's Triton kernel, 's' each on the faster of that kernel and cuDNN (default: "
        "fp32,tf32,bf16; on CUDA also fp32+c,tf32+c,bf16+c)",
    )
    p.add_argument("--baseline-keeps-freed-memory", action="store_true",
                   help="the baseline's process keeps freed memory as lstui's CPU workers do (default: "
                   "the C library's defaults, as the reference's scripts run)")
    p.add_argument("--baseline-workers", type=int, default=0,
                   help="the baseline loader's worker processes, as the reference's --threads (2 there); "
                   "their CPU time is not in baseline_cpu_s_per_point (default: 0, loading in the "
                   "baseline's own process)")
    p.add_argument("--no-scaling", action="store_true", help="skip the multi-device scaling run")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the model's weights, the directions and the data")
    args = p.parse_args(argv)
    cuda = torch.device(args.device).type == "cuda"
    args.images = args.images if args.images is not None else (10_000 if cuda else 512)
    args.points = args.points if args.points is not None else 10
    if args.warmup < 1 or args.points < 1 or args.images < 1:
        p.error("--warmup, --points and --images must be at least 1")
    return args


MODE_FLAGS = set(COMPILE_FLAGS) | set("nfurts")
"""The letters after ``+`` in a mode: compile (c, a, g), BatchNorm not folded (n), ReLU
fused or not (f, u), CUDA graphs (r), Triton convolution (t, s)."""


def _check_modes_and_model(modes: Sequence[str], model_name: str) -> None:
    """Exit with one line (code 2) for a mode or a model that a contender would fail on."""
    from lstui.errors import LstuiError
    from lstui.landscape.options import PRECISIONS

    for mode in modes:
        precision, _, flags = mode.partition("+")
        unknown = sorted(set(flags) - MODE_FLAGS)
        if precision not in PRECISIONS or unknown:
            _usage_error(f"--modes: {mode!r} is not a mode; a precision ({', '.join(PRECISIONS)}) "
                         f"and flags after '+' of {''.join(sorted(MODE_FLAGS))}")
    try:
        with torch.device("meta"):
            build_model(model_name, input_shape=(3, 32, 32))
    except LstuiError as exc:
        _usage_error(f"--model: {exc}")


def _usage_error(message: str) -> None:
    print(f"bench_surface: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    model_name = args.model
    if args.modes:
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    else:
        modes = ["fp32", "tf32", "bf16"]
        if cuda and compile_available(device):
            modes += ["fp32+c", "tf32+c", "bf16+c"]
    if modes[0] != "fp32":
        modes.insert(0, "fp32")  # the reference for the error columns and the default mode
    _check_modes_and_model(modes, model_name)  # one line now, not a contender's traceback later

    total = args.warmup + args.points
    points = [(-1.0 + 2.0 * k / max(total - 1, 1), 0.5 - 1.0 * k / max(total - 1, 1)) for k in range(total)]
    warm_pts, timed_pts = points[: args.warmup], points[args.warmup :]
    setup = Setup(model_name, args.images, args.seed, str(device), args.threads, args.batch_size,
                  args.baseline_batch, args.baseline_data, args.baseline_keeps_freed_memory, args.baseline_workers)
    contenders = start(["baseline", *modes], setup, warm_pts)
    time_interleaved(contenders, timed_pts)

    baseline, fp32 = contenders[0], contenders[1]
    base_s = statistics.median(baseline.times)
    rows: dict[str, dict[str, object]] = {}
    print(f"\n{'contender':10s} {'s/point':>9s} {'min':>9s} {'ratio':>7s} {'max|Δloss|':>11s} {'relative':>9s} "
          f"{'memory MB':>10s}  warm-up s  faults/pt")
    for c in contenders:
        s = statistics.median(c.times)
        diff = max(abs(a - b) for a, b in zip(c.losses, fp32.losses))
        # relative, as the tests hold each precision to (TOLERANCE in lstui/landscape/evaluator.py)
        rel = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(c.losses, fp32.losses))
        print(f"{c.name:10s} {s:9.4f} {min(c.times):9.4f} {base_s / s:7.2f} {diff:11.3e} {rel:9.1e} {c.memory_mb:10.1f}  "
              f"{c.warmup_s:8.2f}  {statistics.median(c.faults):9.0f}")
        if c is not baseline:
            rows[c.name] = {"s_per_point": s, "min_s_per_point": min(c.times), "ratio": base_s / s,
                            "paired_ratio": statistics.median(b / t for b, t in zip(baseline.times, c.times)),
                            "cpu_s_per_point": statistics.median(c.cpu_times),
                            "page_faults_per_point": statistics.median(c.faults),
                            "max_abs_loss_diff": diff, "max_rel_loss_diff": rel,
                            "memory_mb": c.memory_mb, "reserved_mb": c.reserved_mb,
                            "warmup_s": c.warmup_s, **c.facts}

    result: dict[str, object] = {
        "baseline_s_per_point": base_s,
        "baseline_min_s_per_point": min(baseline.times),
        "lstui_s_per_point": rows["fp32"]["s_per_point"],
        "lstui_min_s_per_point": rows["fp32"]["min_s_per_point"],
        "ratio": base_s / float(rows["fp32"]["s_per_point"]),  # type: ignore[arg-type]
        # the median of baseline/lstui over each point's two adjacent calls: steadier when
        # other processes load the machine unevenly over the run
        "paired_ratio": statistics.median(b / f for b, f in zip(baseline.times, fp32.times)),
        # CPU time counts the work done, not the waiting for a busy machine (with
        # --threads 1 it is the steadiest figure; threads spinning at barriers add to it)
        "baseline_cpu_s_per_point": statistics.median(baseline.cpu_times),
        "lstui_cpu_s_per_point": rows["fp32"]["cpu_s_per_point"],
        "cpu_ratio": statistics.median(baseline.cpu_times) / float(rows["fp32"]["cpu_s_per_point"]),  # type: ignore[arg-type]
        "max_abs_loss_diff": max(abs(a - b) for a, b in zip(baseline.losses, fp32.losses)),
        "device": torch.cuda.get_device_name(device) if cuda else f"cpu ({torch.get_num_threads()} threads)",
        "model": model_name,
        "images": args.images,
        "timed_points": len(timed_pts),
        "baseline_memory_mb": baseline.memory_mb,
        "baseline_data": args.baseline_data,
        "baseline_page_faults_per_point": statistics.median(baseline.faults),
        "baseline_keeps_freed_memory": args.baseline_keeps_freed_memory,
        "baseline_workers": args.baseline_workers,
        "modes": rows,
    }
    n_dev = torch.cuda.device_count() if cuda else 0
    if n_dev > 1 and not args.no_scaling:
        devices = [torch.device("cuda", i) for i in range(n_dev)]
        model, dx, dy, images, labels = common(setup)
        data = EvalData(images, labels, 1 / 255, CIFAR_MEAN, CIFAR_STD)
        result["scaling"] = scaling(
            lambda d: make_evaluator("tf32", copy.deepcopy(model), dx, dy, data, d, args.batch_size), timed_pts * 2, devices
        )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

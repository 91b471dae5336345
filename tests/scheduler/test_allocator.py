"""A CPU worker keeps freed activations: no fresh pages, no page faults, for each batch."""

import subprocess
import sys
import textwrap

import pytest

from lstui.scheduler.allocator import glibc

# Points of a small ResNet on CIFAR-sized images, batches of 128 (8 MiB activations),
# as a CPU worker evaluates them; the minor page faults of the last points are printed.
PROGRAM = textwrap.dedent(
    """
    import resource, sys
    import torch
    from lstui.landscape.directions import create_random_direction
    from lstui.landscape.evaluator import EvalData, Evaluator
    from lstui.models import build_model
    from lstui.scheduler.allocator import keep_freed_memory
    if sys.argv[1] == "kept":
        assert keep_freed_memory()
    torch.manual_seed(0)
    model = build_model("resnet20", input_shape=(3, 32, 32), num_classes=10).eval()
    data = EvalData(torch.randint(0, 256, (256, 3, 32, 32), dtype=torch.uint8),
                    torch.randint(0, 10, (256,)), scale=1 / 255)
    direction = create_random_direction(model, torch.Generator().manual_seed(1))
    ev = Evaluator(model, [direction], test=data, batch_size=128, compile="off")
    for n in range(3):
        ev.evaluate(0.01 * n)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for n in range(10):  # enough points that a one-off (a thread's 8 MiB stack) is noise
        ev.evaluate(0.1 + 0.01 * n)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(glibc() is None, reason="glibc's malloc")
def test_a_cpu_worker_reuses_freed_activations_without_page_faults() -> None:
    default, kept = _faults("default"), _faults("kept")
    assert default > 10 * 1000, f"activations fault in anew at every point by default ({default})"
    assert kept < default / 20, f"kept: {kept} faults against {default}"

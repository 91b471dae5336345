#!/usr/bin/env bash
# One prepared GPU check (the speed issue), for a machine with one CUDA GPU and torch:
#   1. the tests marked `gpu`;
#   2. bench_surface on ResNet-56 with 50,000 CIFAR-sized images (each mode vs the
#      reference-style loop, |Δloss| against fp32, peak memory): eager modes, cuDNN's
#      convolutions against lstui's Triton kernel in tf32 and bf16; not by default:
#      compiled (the compiled modes);
#   3. profile (profile_point: the kernels of one point, where the time goes; with lstui's
#      Triton kernel, the layers running it and its tuned configurations); not by default:
#      sweep (bench_surface again at each batch size of SWEEP_BATCHES), wscap (tf32 and
#      bf16 at batch 16,384 with cuDNN's workspace capped), scaling (with two GPUs or more: one
#      21×21 surface through lstui's daemon on two GPUs, then on one);
#   4. a 51×51 ResNet-56 surface end to end with `lstui run` (start-up included), bf16,
#      `--triton-conv auto` (E2E_TRITON), with the card's memory in use sampled every second.
# Usage: OUT=/some/folder bash benchmarks/gpu_check.sh   (figures land in $OUT)
#   PHASES="tests bench profile e2e" (default; also: compiled, sweep, wscap, scaling) picks the parts; their
#   timeouts (TESTS_S, BENCH_S, PROFILE_S, E2E_S: 200 + 220 + 60 + 75 s) add up to 555 s,
#   which leaves the steps outside them (the card's facts, writing the CIFAR folder, reading
#   the surface) about 45 s: give the call timeout_s 600. The tests and the Triton modes compile up to eight kernel
#   configurations per layer shape and dtype (kept on disk for the phases after).
#   `compiled` (COMPILED_S 150) is bench_surface again with the compiled modes
#   (max-autotune compiles for minutes; H200: bf16 compiled 0.199 s a point against 0.15
#   eager), so that a compile running over its time loses only those figures.
set -u
PHASES=${PHASES:-tests bench profile e2e}
has() { case " $PHASES " in *" $1 "*) return 0 ;; esac; return 1; }
OUT=${OUT:-/tmp/lstui-gpu-check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
cifar_folder() {  # synthetic CIFAR-10 folder of 50,000 training images, for the lstui jobs
  # written aside and moved into place whole: a run killed while writing leaves no half folder
  [ -d /tmp/lstui-cifar ] && return 0
  rm -rf /tmp/lstui-cifar.part && $PY - <<'PY' && mv /tmp/lstui-cifar.part /tmp/lstui-cifar
from pathlib import Path
from tests.datasets.cifar_fixture import write_cifar10
print("synthetic CIFAR-10 folder:", write_cifar10(Path("/tmp/lstui-cifar.part"), n_per_batch=10000))
PY
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))" | tee -a "$OUT/gpu.txt"
has tests && timeout "${TESTS_S:-200}" $PY -m pytest -q -p no:cacheprovider -m gpu tests/landscape/test_precision.py \
  tests/landscape/test_fold.py tests/landscape/test_triton_conv.py tests/scheduler/test_device_fault.py 2>&1 \
  | tail -12 | tee "$OUT/gpu_tests.txt"
# modes: precision (the Evaluator's defaults: on CUDA convolution + sum + ReLU as one cuDNN call,
# the eager model replayed from CUDA graphs), then flags: u neither of those, c compiled, g compiled
# with CUDA graphs, a max-autotune, n BatchNorm not folded, t lstui's Triton convolution (tf32, bf16;
# its first batch of each shape compiles and tunes the kernels), s each layer on the faster of that
# and cuDNN; each contender is a process of its own
# (its CUDA context, cached memory and cuDNN choices; about 6 GB each at batch 8192 in fp32,
# 1.5 GB in bf16, all held together)
has bench && timeout "${BENCH_S:-220}" $PY benchmarks/bench_surface.py --device cuda --model resnet56 --images 50000 \
  --points "${POINTS:-3}" --baseline-data tensors \
  --modes "${MODES:-fp32,tf32,tf32+t,tf32+s,bf16,bf16+t,bf16+s}" 2>&1 | tee "$OUT/bench.txt"
has profile && timeout "${PROFILE_S:-60}" $PY benchmarks/profile_point.py --device cuda --images 50000 \
  --modes "${PROFILE_MODES:-bf16+t,tf32+t}" --top 10 2>&1 | grep -v "^USDT\|^ERROR:\|^STAGE:" | tee "$OUT/profile.txt"
has compiled && timeout "${COMPILED_S:-150}" $PY benchmarks/bench_surface.py --device cuda --model resnet56 \
  --images 50000 --points "${POINTS:-3}" --baseline-data tensors \
  --modes "${COMPILED_MODES:-fp32,bf16+a}" 2>&1 | tee "$OUT/compiled.txt"
if has sweep; then
  for b in ${SWEEP_BATCHES:-512 2048 16384}; do
    echo "== batch $b" | tee -a "$OUT/sweep.txt"
    timeout "${SWEEP_S:-60}" $PY benchmarks/bench_surface.py --device cuda --model resnet56 --images 50000 \
      --points "${SWEEP_POINTS:-2}" --baseline-data tensors --batch-size "$b" \
      --modes "${SWEEP_MODES:-fp32,tf32,bf16}" 2>&1 | grep -v "^{\|^ready" | tee -a "$OUT/sweep.txt"
  done
fi
# two GPUs or more (not by default; on such a machine run PHASES="scaling bench"): one surface
# through the real daemon on GPUs 0,1 and then on GPU 0 alone, the speed issue's two-device figure
if has scaling; then
  if [ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ]; then
    cifar_folder
    timeout "${SCALING_S:-300}" $PY benchmarks/bench_scheduler.py --two 0,1 --one 0 --job \
      "--model resnet56 --data cifar10:/tmp/lstui-cifar --precision bf16 --x -1:1:${SCALING_N:-21} --y -1:1:${SCALING_N:-21}" \
      2>&1 | tee "$OUT/scaling.txt"
  else
    echo "scaling: fewer than two GPUs here" | tee "$OUT/scaling.txt"
  fi
fi
# cuDNN's workspace capped (MiB; PyTorch's CUDNN_CONV_WSCAP_DBG): does tf32's memory (6.6 GB at
# batch 8192 against bf16's 1.5 GB, most of it beyond the activations) shrink, and at what speed,
# so that batch 16,384 (tf32 0.198 s a point, 11 GB) fits under 10 GB?
if has wscap; then
  for cap in ${WSCAP_MIB:-none 1024 256}; do
    echo "== cuDNN workspace cap $cap MiB, batch ${WSCAP_BATCH:-16384}" | tee -a "$OUT/wscap.txt"
    ( [ "$cap" = none ] || export CUDNN_CONV_WSCAP_DBG="$cap"
      timeout "${WSCAP_S:-60}" $PY benchmarks/bench_surface.py --device cuda --model resnet56 --images 50000 \
        --points 2 --baseline-data tensors --batch-size "${WSCAP_BATCH:-16384}" \
        --modes "${WSCAP_MODES:-tf32,bf16}" 2>&1 | grep -v "^{\|^ready" | tee -a "$OUT/wscap.txt" )
  done
fi
if has e2e; then
cifar_folder
nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader -l 1 > "$OUT/e2e_memory.csv" 2>/dev/null &
sampler=$!
rm -rf /tmp/lstui-s51  # a rerun on a warm machine computes it all again, not resumes it
start=$SECONDS
timeout "${E2E_S:-75}" $PY -m lstui.cli run surface --model resnet56 --data cifar10:/tmp/lstui-cifar \
  --x -1:1:51 --y -1:1:51 --precision "${PRECISION:-bf16}" --triton-conv "${E2E_TRITON:-auto}" --device cuda --out /tmp/lstui-s51 --no-figure 2>&1 \
  | tail -8 | tee "$OUT/e2e.txt"
echo "end to end: $((SECONDS - start)) s (whole lstui run process, start-up included)" | tee -a "$OUT/e2e.txt"
kill "$sampler" 2>/dev/null
echo "card memory in use, largest sample: $(sort -t, -k2 -n "$OUT/e2e_memory.csv" | tail -1)" | tee -a "$OUT/e2e.txt"
$PY - <<'PY' | tee -a "$OUT/e2e.txt"
from lstui.results import read_surface
s = read_surface("/tmp/lstui-s51/surface.h5")
done = int(s.computed().sum())
print(f"points computed: {done} of {s.computed().size}")
PY
fi

"""lstui: a loss-landscape lab for GPU servers (Li et al., NeurIPS 2018)."""

import os

# CUDA numbers GPUs fastest first unless told otherwise, NVML by PCI bus: in PCI order,
# `cuda:1` is the same card to `lstui run`, to the daemon's workers and to the GPU facts
# the TUI shows (set before torch starts CUDA; a value the person set is kept).
os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")

__version__ = "0.1.0"

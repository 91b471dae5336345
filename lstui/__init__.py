"""lstui: a loss-landscape lab for GPU servers (Li et al., NeurIPS 2018)."""

__version__ = "0.1.0"

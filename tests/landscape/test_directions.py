import copy

import pytest
import torch

from lstui.errors import BadInput
from lstui.landscape.directions import (
    create_random_direction,
    filter_normalize,
    model_tensors,
    normalize_direction,
    random_direction,
    target_direction,
)
from tests.landscape.nets import conv_bn, relu_mlp


def _dir_and_weights(model, dir_type="weights", seed=1):
    weights = [t.detach().clone() for t in model_tensors(model, dir_type)]
    d = random_direction(weights, torch.Generator().manual_seed(seed))
    return d, weights


def test_random_direction_is_seeded_standard_normal():
    model = conv_bn()
    d1, w = _dir_and_weights(model, seed=5)
    d2, _ = _dir_and_weights(model, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(d1, d2))
    assert [a.shape for a in d1] == [t.shape for t in w]
    assert all(a.dtype == torch.float32 for a in d1)
    # drawn tensor by tensor, in order, from one stream
    g = torch.Generator().manual_seed(5)
    first = torch.randn(tuple(w[0].shape), generator=g)
    assert torch.equal(first, d1[0])


def test_filter_norm_matches_each_weight_filter_norm():
    model = conv_bn()
    d, w = _dir_and_weights(model)
    out = normalize_direction(d, w, "filter", "biasbn")
    for dn, wn in zip(out, w):
        if dn.dim() <= 1:
            assert torch.count_nonzero(dn) == 0
            continue
        for i in range(dn.shape[0]):
            torch.testing.assert_close(dn[i].norm(), wn[i].norm(), rtol=1e-5, atol=1e-6)


def test_layer_weight_dfilter_dlayer_rules():
    model = relu_mlp()
    d, w = _dir_and_weights(model)
    for norm in ("layer", "weight", "dfilter", "dlayer", "none"):
        out = normalize_direction(d, w, norm, "biasbn")
        for dn, d0, wn in zip(out, d, w):
            if d0.dim() <= 1:
                continue
            if norm == "layer":
                expected = d0 * wn.norm() / d0.norm()
            elif norm == "weight":
                expected = d0 * wn
            elif norm == "dfilter":
                expected = torch.stack([r / (r.norm() + 1e-10) for r in d0])
            elif norm == "dlayer":
                expected = d0 / d0.norm()
            else:
                expected = d0
            torch.testing.assert_close(dn, expected)


def test_small_tensors_zero_under_biasbn_else_copy_of_weights():
    model = conv_bn()
    d, w = _dir_and_weights(model, "states")
    ignored = normalize_direction(d, w, "filter", "biasbn")
    kept = normalize_direction(d, w, "filter", "none")
    small = [n for n, t in enumerate(w) if t.dim() <= 1]
    assert small, "BatchNorm statistics and biases are 0/1-dim"
    for n in small:
        assert torch.count_nonzero(ignored[n]) == 0
        torch.testing.assert_close(kept[n], w[n].to(torch.float32))


def test_states_direction_includes_batchnorm_statistics():
    model = conv_bn()
    states = model_tensors(model, "states")
    params = model_tensors(model, "weights")
    assert len(states) == len(model.state_dict()) > len(params)


def test_target_direction_is_b_minus_a_and_unnormalised():
    a, b = relu_mlp(0), relu_mlp(1)
    wa, wb = model_tensors(a, "weights"), model_tensors(b, "weights")
    d = target_direction(wa, wb)
    for dn, x, y in zip(d, wa, wb):
        torch.testing.assert_close(dn, y - x)


def test_target_direction_rejects_other_architectures():
    with pytest.raises(BadInput):
        target_direction(model_tensors(relu_mlp(), "weights"), model_tensors(conv_bn(), "weights"))


def test_unknown_norm_is_bad_input():
    model = relu_mlp()
    with pytest.raises(BadInput, match="--norm 'bogus' is not known; choose one of filter"):
        create_random_direction(model, torch.Generator().manual_seed(0), norm="bogus")


def test_filter_direction_scales_with_the_layer():
    """Multiplying a layer by c multiplies its filter-normalised direction by c."""
    model = relu_mlp()
    scaled = copy.deepcopy(model)
    with torch.no_grad():
        scaled[0].weight.mul_(10.0)
    d1 = create_random_direction(model, torch.Generator().manual_seed(3))
    d2 = create_random_direction(scaled, torch.Generator().manual_seed(3))
    torch.testing.assert_close(d2[0], 10.0 * d1[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(d2[2], d1[2])


def test_a_states_direction_file_made_before_batchnorm_counted_its_batches_is_read(tmp_path):
    """A reference states direction file of PyTorch < 0.4.1 (no num_batches_tracked): "has
    12 tensors but the model has 14 for this direction type (check --dir-type and --model)"."""
    from lstui.results import write_directions
    from lstui.scheduler.compute import read_fitting_directions

    model = conv_bn()
    tensors = model_tensors(model, "states")
    counters = [n for n, t in enumerate(tensors) if not t.is_floating_point()]
    assert counters, "the model counts its batches"
    direction = create_random_direction(model, torch.Generator().manual_seed(3), dir_type="states")
    old = [d for n, d in enumerate(direction) if n not in counters]
    write_directions(tmp_path / "old.h5", old, None)
    (read,) = read_fitting_directions(tmp_path / "old.h5", tensors, 1)
    assert len(read) == len(tensors)
    for n, (got, want) in enumerate(zip(read, direction, strict=True)):
        assert torch.equal(got, torch.zeros_like(got) if n in counters else want.float()), n
    with pytest.raises(BadInput, match="tensors but the model has"):  # one more missing: refused
        write_directions(tmp_path / "short.h5", old[:-1], None)
        read_fitting_directions(tmp_path / "short.h5", tensors, 1)


def test_filter_normalize_gives_each_filter_its_weight_s_norm_and_zeroes_biases() -> None:
    """The paper's normalisation by its name: ‖d_i,j‖ = ‖θ_i,j‖ for every filter j of
    every layer i, 0/1-dim tensors (biases, BatchNorm) zero."""
    gen = torch.Generator().manual_seed(0)
    weights = [torch.randn(4, 3, 3, 3, generator=gen), torch.randn(4, generator=gen), torch.randn(10, 36, generator=gen)]
    direction = filter_normalize(random_direction(weights, gen), weights)
    for d, w in zip(direction, weights, strict=True):
        if w.dim() <= 1:
            assert torch.count_nonzero(d) == 0
            continue
        torch.testing.assert_close(d.flatten(1).norm(dim=1), w.flatten(1).norm(dim=1))

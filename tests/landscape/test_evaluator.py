import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lstui.errors import BadInput
from lstui.landscape.directions import create_random_direction, model_tensors
from lstui.landscape.evaluator import EvalData, Evaluator
from tests.landscape.nets import conv_bn, relu_mlp, toy_data


def _curve(model, seed, norm, xs):
    x, y = toy_data()
    d = create_random_direction(model, torch.Generator().manual_seed(seed), norm=norm)
    ev = Evaluator(model, [d], train=EvalData(x, y), batch_size=16)
    return np.array([ev.evaluate(float(a)).train_loss for a in xs])


def _rescaled(model, c=10.0):
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin[0].weight.mul_(c)
        twin[0].bias.mul_(c)
        twin[2].weight.div_(c)
    return twin


def test_filter_normalisation_is_scale_invariant():
    model = relu_mlp()
    twin = _rescaled(model)
    xs = np.linspace(-1, 1, 11)
    a = _curve(model, 7, "filter", xs)
    b = _curve(twin, 7, "filter", xs)
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_without_normalisation_the_rescaled_twin_differs():
    model = relu_mlp()
    twin = _rescaled(model)
    xs = np.linspace(-1, 1, 11)
    a = _curve(model, 7, "none", xs)
    b = _curve(twin, 7, "none", xs)
    assert np.max(np.abs(a - b) / np.abs(a)) > 1e-2


def _plain_loss(model, dx, dy, a, b, x, y, batch=10, loss="ce"):
    m = copy.deepcopy(model)
    with torch.no_grad():
        for p, u, v in zip(m.parameters(), dx, dy):
            p.add_(a * u + b * v)
    m.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(x), batch):
            out = m(x[s : s + batch])
            if loss == "ce":
                total += F.cross_entropy(out, y[s : s + batch]).item() * len(out)
            else:
                onehot = F.one_hot(y[s : s + batch], out.shape[1]).float()
                total += F.mse_loss(F.softmax(out, 1), onehot).item() * len(out)
            correct += (out.argmax(1) == y[s : s + batch]).sum().item()
    return total / len(x), 100.0 * correct / len(x)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_surface_values_equal_a_plain_computation(loss):
    model = relu_mlp()
    x, y = toy_data(50)
    g = torch.Generator().manual_seed(11)
    dx = create_random_direction(model, g)
    dy = create_random_direction(model, g)
    centre = copy.deepcopy(model)  # the Evaluator moves `model` in place
    ev = Evaluator(model, [dx, dy], train=EvalData(x, y), test=EvalData(x[:20], y[:20]), batch_size=7, loss=loss)
    for a, b in [(0.0, 0.0), (0.5, -0.25), (-1.0, 1.0), (0.3, 0.9)]:
        res = ev.evaluate(a, b)
        want_loss, want_acc = _plain_loss(centre, dx, dy, a, b, x, y, loss=loss)
        assert res.train_loss == pytest.approx(want_loss, rel=1e-5)
        assert res.train_acc == pytest.approx(want_acc)
        test_loss, test_acc = _plain_loss(centre, dx, dy, a, b, x[:20], y[:20], loss=loss)
        assert res.test_loss == pytest.approx(test_loss, rel=1e-5)
        assert res.test_acc == pytest.approx(test_acc)


def test_points_are_set_in_place_and_restore_returns_the_centre():
    model = relu_mlp()
    before = [t.clone() for t in model.parameters()]
    x, y = toy_data()
    d = create_random_direction(model, torch.Generator().manual_seed(1))
    ev = Evaluator(model, [d], train=EvalData(x, y))
    centre = ev.evaluate(0.0).train_loss
    ev.evaluate(0.7)
    assert not torch.equal(next(model.parameters()), before[0])
    assert ev.evaluate(0.0).train_loss == pytest.approx(centre, rel=1e-6)
    ev.restore()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), before))


def test_states_direction_moves_batchnorm_statistics_but_not_counters():
    model = conv_bn()
    model.train()
    with torch.no_grad():
        model(torch.randn(32, 1, 8, 8))
    model.eval()
    x = torch.randn(30, 1, 8, 8)
    y = torch.randint(0, 3, (30,))
    d = create_random_direction(model, torch.Generator().manual_seed(2), dir_type="states", ignore="none")
    ev = Evaluator(model, [d], dir_type="states", train=EvalData(x, y))
    mean0 = model[1].running_mean.clone()
    count0 = model[1].num_batches_tracked.clone()
    ev.set_point(0.5)
    torch.testing.assert_close(model[1].running_mean, 1.5 * mean0)
    assert torch.equal(model[1].num_batches_tracked, count0)


def test_bn_recompute_uses_training_statistics_at_each_point():
    model = conv_bn()
    x = torch.randn(40, 1, 8, 8) * 3 + 1
    y = torch.randint(0, 3, (40,))
    d = create_random_direction(model, torch.Generator().manual_seed(4))
    ev = Evaluator(model, [d], train=EvalData(x, y), bn="recompute", batch_size=40)
    ev.evaluate(0.5)
    # after recomputation on one full batch, running mean equals the batch mean of BN inputs
    feats = model[0](x)
    torch.testing.assert_close(model[1].running_mean, feats.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)


def test_bn_recompute_batches_are_the_job_s_not_the_device_s_nor_an_out_of_memory_s():
    """The statistics are averages over batches, which were the evaluation's: 719 on a
    CPU, 1437 on a GPU for the same job (the loss moved by 9e-4), and halved after an
    out-of-memory in the middle of a surface."""
    from lstui.landscape.evaluator import BN_RECOMPUTE_BATCH

    model = conv_bn()
    x = torch.randn(1500, 1, 8, 8) * 3 + 1
    y = torch.randint(0, 3, (1500,))
    d = create_random_direction(model, torch.Generator().manual_seed(4))
    ev = Evaluator(model, [d], train=EvalData(x, y), bn="recompute", fold_bn=False)
    assert ev.bn_batch == BN_RECOMPUTE_BATCH == 1024
    first = ev.evaluate(0.5)
    feats = model[0](x)  # 1500 samples at 1024: two balanced batches of 750
    halves = (feats[:750].mean(dim=(0, 2, 3)) + feats[750:].mean(dim=(0, 2, 3))) / 2
    torch.testing.assert_close(model[1].running_mean, halves, rtol=1e-4, atol=1e-5)
    ev.shrink_batch(64)  # as after an out-of-memory: the evaluation's batch only
    assert ev.batch_size == 32 and ev.bn_batch == 1024
    again = ev.evaluate(0.5)
    assert again.train_loss == pytest.approx(first.train_loss, rel=1e-6)
    torch.testing.assert_close(model[1].running_mean, halves, rtol=1e-4, atol=1e-5)
    # a batch size given is the job's: it sets both
    assert Evaluator(model, [d], train=EvalData(x, y), bn="recompute", batch_size=100).bn_batch == 100


def test_an_out_of_memory_in_the_bn_pass_fails_the_point_in_one_line_and_does_not_retry(monkeypatch):
    """The pass's own error named the out-of-memory, so the evaluation took it for one,
    halved its batch (which the pass does not use) and tried again, for ever."""
    model = conv_bn()
    x = torch.randn(300, 1, 8, 8)
    d = create_random_direction(model, torch.Generator().manual_seed(4))
    ev = Evaluator(model, [d], train=EvalData(x, torch.randint(0, 3, (300,))), bn="recompute", fold_bn=False)
    calls = []

    def no_memory(module, inputs):
        if module.training:
            calls.append(1)
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    model[1].register_forward_pre_hook(no_memory)
    with pytest.raises(BadInput, match="out of memory re-estimating BatchNorm statistics in batches of 1024; "
                                       "give a smaller --batch-size"):
        ev.evaluate(0.5)
    assert len(calls) == 1 and ev.batch_size == ev.bn_batch == 1024


def test_bn_recompute_of_a_batchnorm1d_model_takes_a_last_batch_of_one_sample_with_the_one_before():
    """7 samples at batch 3 run as 3, 3, 1: BatchNorm1d cannot train on one sample."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.BatchNorm1d(16),
                                torch.nn.ReLU(), torch.nn.Linear(16, 3))
    x = torch.randn(7, 1, 8, 8)
    d = create_random_direction(model, torch.Generator().manual_seed(4))
    ev = Evaluator(model, [d], train=EvalData(x, torch.randint(0, 3, (7,))), bn="recompute", batch_size=3)
    assert ev.evaluate(0.5).finite


def test_uint8_inputs_are_scaled_and_normalised_on_the_device():
    model = relu_mlp()
    raw = torch.randint(0, 256, (20, 6), dtype=torch.uint8)
    y = torch.randint(0, 3, (20,))
    mean, std = (0.5,), (0.25,)
    ev = Evaluator(model, [[torch.zeros_like(t) for t in model_tensors(model, "weights")]],
                   train=EvalData(raw, y, scale=1 / 255, mean=mean, std=std))
    direct = Evaluator(model, [[torch.zeros_like(t) for t in model_tensors(model, "weights")]],
                       train=EvalData((raw.float() / 255 - 0.5) / 0.25, y))
    assert ev.evaluate(0.0).train_loss == pytest.approx(direct.evaluate(0.0).train_loss, rel=1e-6)


def test_bad_options_are_bad_input():
    model = relu_mlp()
    x, y = toy_data()
    d = create_random_direction(model, torch.Generator().manual_seed(0))
    with pytest.raises(BadInput, match="--loss"):
        Evaluator(model, [d], train=EvalData(x, y), loss="hinge")
    with pytest.raises(BadInput, match="nothing to evaluate"):
        Evaluator(model, [d])
    with pytest.raises(BadInput, match="the x direction"):
        Evaluator(model, [d[:-1]], train=EvalData(x, y))


def test_float_inputs_are_normalised_without_writing_into_the_callers_tensor():
    model = relu_mlp()
    x, y = toy_data(20)
    before = x.clone()
    zero = [[torch.zeros_like(t) for t in model_tensors(model, "weights")]]
    ev = Evaluator(model, zero, train=EvalData(x, y, scale=2.0, mean=(0.1,), std=(0.5,)))
    direct = Evaluator(model, zero, train=EvalData((before * 2.0 - 0.1) / 0.5, y))
    assert ev.evaluate(0.0).train_loss == pytest.approx(direct.evaluate(0.0).train_loss, rel=1e-6)
    assert torch.equal(x, before)


def test_the_batch_size_does_not_change_the_values():
    model = relu_mlp()
    x, y = toy_data(50)
    d = create_random_direction(model, torch.Generator().manual_seed(3))
    values = [Evaluator(copy.deepcopy(model), [d], train=EvalData(x, y), batch_size=bs).evaluate(0.4)
              for bs in (1, 7, 50, 1000)]
    for v in values[1:]:
        assert v.train_loss == pytest.approx(values[0].train_loss, rel=1e-6)
        assert v.train_acc == values[0].train_acc


def test_bad_speed_options_are_bad_input():
    model = relu_mlp()
    x, y = toy_data()
    d = create_random_direction(model, torch.Generator().manual_seed(0))
    with pytest.raises(BadInput, match="--compile"):
        Evaluator(model, [d], train=EvalData(x, y), compile="always")
    with pytest.raises(BadInput, match="--batch-size"):
        Evaluator(model, [d], train=EvalData(x, y), batch_size=0)
    with pytest.raises(BadInput, match="storage"):
        Evaluator(model, [d], train=EvalData(x, y), storage="disk")


def test_a_mean_loss_whose_batch_sum_overflows_float32_is_finite():
    """Finite per-sample losses of about 1e37 were summed per batch in float32, which
    overflowed to inf: the point was stored as diverged."""
    x = torch.ones(64, 4)
    y = torch.zeros(64, dtype=torch.long)
    model = torch.nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.tensor([0.0, 1e37]))  # every sample: loss 1e37, finite
    zero = [torch.zeros_like(p) for p in model.parameters()]
    result = Evaluator(model, [zero], train=EvalData(x, y), batch_size=64).evaluate(0.0)
    assert result.train_loss == pytest.approx(1e37, rel=1e-6)
    assert result.train_acc == 0.0


def test_a_graphs_replay_is_checked_on_its_finite_outputs_and_its_diverged_ones_alike() -> None:
    """A CUDA graph captured at a diverged point (a grid's corner) failed its check, any
    NaN making ``allclose`` False, and graphs were off for the rest of the job."""
    from lstui.landscape.evaluator import replay_matches

    nan, inf = float("nan"), float("inf")
    eager = torch.tensor([[1.0, nan, 3.0], [inf, 5.0, -inf]])
    assert replay_matches(eager, eager.clone() * (1 + 1e-5)) is True  # close, NaN and ±inf where they are
    assert replay_matches(eager, torch.tensor([[1.0, 2.0, 3.0], [inf, 5.0, -inf]])) is False  # NaN lost
    assert replay_matches(eager, torch.tensor([[1.0, nan, 3.0], [-inf, 5.0, -inf]])) is False  # sign of inf
    assert replay_matches(eager, torch.tensor([[1.0, nan, 3.5], [inf, 5.0, -inf]])) is False  # a value off
    assert replay_matches(eager, eager[:1]) is False
    assert replay_matches(torch.full((2, 3), nan), torch.full((2, 3), nan)) is None  # nothing to check
    assert replay_matches(eager.to(torch.bfloat16), eager.to(torch.bfloat16)) is True


def test_a_tied_weight_is_moved_once_so_a_states_interpolation_ends_at_b():
    """An embedding and its output layer sharing one weight: listed twice in the state dict,
    it was moved twice, and a states interpolation's x = 1 was A + 2(B − A), not B
    (train loss 0.396 where B's is 0.098)."""
    from lstui.landscape.directions import target_direction

    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Linear(12, 3, bias=False)
            self.out = torch.nn.Linear(12, 3)
            self.out.weight = self.emb.weight

        def forward(self, x):
            return self.emb(x) + self.out(x)

    torch.manual_seed(0)
    a, b = Tied(), Tied()
    x, y = torch.randn(40, 12), torch.randint(0, 3, (40,))
    for dir_type in ("states", "weights"):
        d = target_direction(model_tensors(a, dir_type), model_tensors(b, dir_type))
        ev = Evaluator(copy.deepcopy(a), [d], dir_type=dir_type, train=EvalData(x, y))
        with torch.no_grad():
            want = F.cross_entropy(b(x), y).item()
        assert ev.evaluate(1.0).train_loss == pytest.approx(want, rel=1e-5), dir_type

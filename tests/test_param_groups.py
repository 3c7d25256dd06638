"""param_groups: which weights decay, which train when frozen, and each group's rate and momentum."""
import pytest
import torch
from torch import nn

from coursehelpers.param_groups import freeze_to, norm_param_ids, optimizer_groups, set_hparams, single_group


def three_groups():
    """Body (conv + batchnorm), middle (linear + layernorm), head (linear): three splitter groups."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 4), nn.LayerNorm(4),
                          nn.Linear(4, 1))
    groups = [list(model[:2].parameters()), list(model[3:5].parameters()), list(model[5].parameters())]
    return model, groups


def ids(params):
    return [id(p) for p in params]


def test_single_group_holds_every_parameter_in_order():
    model, _ = three_groups()
    assert [ids(g) for g in single_group(model)] == [ids(model.parameters())]


def test_norm_params_are_those_of_every_kind_of_norm_layer():
    model = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.LayerNorm(4), nn.GroupNorm(2, 4),
                          nn.InstanceNorm1d(4, affine=True), nn.Linear(4, 1))
    expected = {id(p) for m in model[1:5] for p in m.parameters()}
    assert norm_param_ids(model) == expected and len(expected) == 8


def test_each_splitter_group_gives_decayed_weights_then_undecayed_norms_and_biases():
    model, groups = three_groups()
    out = optimizer_groups(model, groups, wd=0.1)
    summary = [(g["layer_group"], g["weight_decay"], ids(g["params"])) for g in out]
    conv, bn, _, lin, ln, head = model
    assert summary == [
        (0, 0.1, ids([conv.weight])), (0, 0.0, ids([conv.bias, bn.weight, bn.bias])),
        (1, 0.1, ids([lin.weight])), (1, 0.0, ids([lin.bias, ln.weight, ln.bias])),
        (2, 0.1, ids([head.weight])), (2, 0.0, ids([head.bias]))]


def test_by_default_norms_and_biases_do_not_decay_and_wd_bn_bias_decays_everything():
    model, groups = three_groups()
    assert optimizer_groups(model, groups, 0.1) == optimizer_groups(model, groups, 0.1, wd_bn_bias=False)
    everything = optimizer_groups(model, groups, 0.1, wd_bn_bias=True)
    assert [(g["layer_group"], g["weight_decay"], ids(g["params"])) for g in everything] == \
        [(i, 0.1, ids(g)) for i, g in enumerate(groups)]


def test_a_group_with_nothing_to_decay_gives_one_optimizer_group():
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.BatchNorm1d(2))
    groups = [list(model[0].parameters()), list(model[1].parameters())]
    out = optimizer_groups(model, groups, 0.01)
    assert [(g["layer_group"], g["weight_decay"], len(g["params"])) for g in out] == [(0, 0.01, 1), (1, 0.0, 2)]


def trainable(model):
    return [p.requires_grad for p in model.parameters()]


@pytest.mark.parametrize("n, expected", [
    (0, [True] * 10),
    (1, [False, False, True, True, True, True, True, True, True, True]),  # body's norm layer keeps training
    (2, [False, False, True, True, False, False, True, True, True, True]),
    (-1, [False, False, True, True, False, False, True, True, True, True]),  # -1: the last group only
    (-2, [False, False, True, True, True, True, True, True, True, True]),
    (-3, [True] * 10),
    (3, [False, False, True, True, False, False, True, True, False, False])])  # past the last group: norms only
def test_freeze_to_trains_group_n_and_after_and_norm_layers(n, expected):
    model, groups = three_groups()
    freeze_to(model, groups, n)  # train_bn defaults to True
    assert trainable(model) == expected


def test_freeze_to_without_train_bn_freezes_norm_layers_too_and_unfreezing_undoes_it():
    model, groups = three_groups()
    freeze_to(model, groups, -1, train_bn=False)
    assert trainable(model) == [False] * 8 + [True, True]
    freeze_to(model, groups, 0, train_bn=False)
    assert trainable(model) == [True] * 10


def test_set_hparams_sets_each_groups_rate_and_adams_beta1():
    model, groups = three_groups()
    opt = torch.optim.AdamW(optimizer_groups(model, groups, 0.01), lr=1.0, betas=(0.9, 0.99))
    set_hparams(opt, [1e-3, 1e-2, 1e-1], 0.85)
    assert [(g["layer_group"], g["lr"], g["betas"]) for g in opt.param_groups] == \
        [(i, lr, (0.85, 0.99)) for i, lr in [(0, 1e-3), (0, 1e-3), (1, 1e-2), (1, 1e-2), (2, 1e-1), (2, 1e-1)]]
    set_hparams(opt, [1.0, 2.0, 3.0])  # no momentum given: beta1 stays
    assert [g["lr"] for g in opt.param_groups] == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    assert all(g["betas"] == (0.85, 0.99) for g in opt.param_groups)


def test_set_hparams_sets_sgds_momentum_and_a_plain_optimizers_rate():
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)  # no layer_group: group 0
    set_hparams(opt, [0.5], 0.8)
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["momentum"] == 0.8
    set_hparams(opt, [0.25])
    assert opt.param_groups[0]["lr"] == 0.25 and opt.param_groups[0]["momentum"] == 0.8
    assert "betas" not in opt.param_groups[0]
    rms = torch.optim.Adagrad(model.parameters(), lr=1.0)  # neither betas nor momentum: only the rate
    set_hparams(rms, [0.1], 0.7)
    assert rms.param_groups[0]["lr"] == 0.1 and "momentum" not in rms.param_groups[0]

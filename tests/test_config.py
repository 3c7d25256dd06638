"""config: the optimizer a Learner gets by default and the autocast dtype each precision means."""
import pytest
import torch
from torch import nn

from coursehelpers.config import TrainConfig, adamw, autocast_dtype

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_adamw_has_fastais_hyperparameters_and_every_parameter():
    model = nn.Linear(3, 2)
    opt = adamw(model.parameters(), lr=0.25)  # a generator, as Learner code often passes
    assert isinstance(opt, torch.optim.AdamW)
    group = opt.param_groups[0]
    assert group["lr"] == 0.25 and group["betas"] == (0.9, 0.99) and group["eps"] == 1e-5
    assert [id(p) for p in group["params"]] == [id(p) for p in model.parameters()]
    assert group["fused"] is True  # this PyTorch has a fused AdamW kernel for the CPU


def test_adamw_falls_back_to_the_plain_kernel_with_the_same_settings(monkeypatch):
    """An older PyTorch (no ``fused``): the same optimizer, from the same (possibly one-shot) parameters."""
    real = torch.optim.AdamW
    tried = []

    def no_fused(params, **kwargs):
        tried.append(kwargs.get("fused"))
        if "fused" in kwargs:
            raise TypeError("__init__() got an unexpected keyword argument 'fused'")
        return real(params, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", no_fused)
    model = nn.Linear(3, 2)
    opt = adamw(iter(list(model.parameters())), lr=0.5)  # an iterator: it can be read once only
    assert tried == [True, None]
    group = opt.param_groups[0]
    assert group["lr"] == 0.5 and group["betas"] == (0.9, 0.99) and group["eps"] == 1e-5
    assert not group["fused"]
    assert [id(p) for p in group["params"]] == [id(p) for p in model.parameters()]


@pytest.mark.parametrize("error", [RuntimeError, ValueError])
def test_adamw_falls_back_when_the_device_has_no_fused_kernel(monkeypatch, error):
    real = torch.optim.AdamW

    def refuse_fused(params, **kwargs):
        if kwargs.get("fused"):
            raise error("`fused=True` requires all the params to be floating point Tensors of supported devices")
        return real(params, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", refuse_fused)
    opt = adamw(nn.Linear(2, 1).parameters(), lr=0.1)
    assert not opt.param_groups[0]["fused"] and opt.param_groups[0]["betas"] == (0.9, 0.99)


def test_adamw_steps_like_torchs_adamw_with_those_settings():
    torch.manual_seed(0)
    a, b = nn.Linear(4, 1), nn.Linear(4, 1)
    b.load_state_dict(a.state_dict())
    x = torch.randn(8, 4)
    for model, opt in [(a, adamw(a.parameters(), lr=0.1)),
                       (b, torch.optim.AdamW(b.parameters(), lr=0.1, betas=(0.9, 0.99), eps=1e-5))]:
        for _ in range(3):
            model(x).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert torch.allclose(a.weight, b.weight, atol=1e-6) and not torch.equal(a.weight, nn.Linear(4, 1).weight)


@pytest.mark.parametrize("precision, dtype", [("fp32", None), ("bf16", torch.bfloat16), ("fp16", torch.float16)])
@pytest.mark.parametrize("device", [CPU, CUDA])  # only the device's type is read: no GPU needed
def test_an_explicit_precision_means_the_same_dtype_on_any_device(precision, dtype, device):
    assert autocast_dtype(precision, device) is dtype


def test_auto_precision_is_fp32_off_a_gpu():
    assert autocast_dtype("auto", CPU) is None
    assert autocast_dtype("auto", torch.device("mps")) is None


@pytest.mark.parametrize("bf16, dtype", [(True, torch.bfloat16), (False, torch.float16)])
def test_auto_precision_on_a_gpu_prefers_bf16_else_fp16(monkeypatch, bf16, dtype):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert autocast_dtype("auto", CUDA) is dtype


@pytest.mark.parametrize("precision", ["fp64", "AUTO", "bfloat16", ""])
def test_an_unknown_precision_is_refused_naming_the_choices(precision):
    with pytest.raises(ValueError) as e:
        autocast_dtype(precision, CPU)
    assert str(e.value) == f"precision={precision!r}: use 'auto', 'fp32', 'bf16' or 'fp16'."


def test_train_config_defaults_are_the_documented_ones():
    c = TrainConfig()
    assert (c.lr, c.wd, c.wd_bn_bias, c.train_bn, c.precision, c.grad_clip, c.progress, c.log) == \
        (1e-3, 0.01, False, True, "auto", None, False, True)
    assert c.opt_func is adamw

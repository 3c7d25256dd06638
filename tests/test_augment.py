"""Unit tests of coursehelpers.augment on small known inputs (CPU; CUDA too when present)."""
import math

import pytest
import torch
import torch.nn.functional as F

from coursehelpers import augment
from coursehelpers.augment import (
    BatchAugment, CenterResize, aug_transforms, crop_zoom_matrix, dihedral_matrix, resample, rotate_matrix,
    sampling_grid, warp_matrix,
)
from coursehelpers.vision import IMAGENET_STATS, ImagePrepare

ATOL = 1e-5  # float32 rounding in the sampling grid; an interpolation error would be ~1e-1


def asymmetric(b: int = 1, c: int = 3, h: int = 8, w: int = 8) -> torch.Tensor:
    """Images with no symmetry at all, so any flip or turn changes them."""
    return torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(0))


def only(**kwargs) -> BatchAugment:
    """An augmentation with every transform off except those in kwargs."""
    off = dict(do_flip=False, flip_vert=False, max_rotate=0.0, max_zoom=1.0, max_lighting=0.0, max_warp=0.0,
               generator=torch.Generator().manual_seed(1))
    return BatchAugment(**{**off, **kwargs})


def dihedral_reference(x: torch.Tensor) -> list[torch.Tensor]:
    return [torch.rot90(x, t, (-2, -1)) for t in range(4)] + [torch.rot90(x.flip(-1), t, (-2, -1)) for t in range(4)]


def test_flip_mirrors_exactly():
    x = asymmetric(4)
    out = only(do_flip=True, p_flip=1.0)(x)
    torch.testing.assert_close(out, x.flip(-1), atol=ATOL, rtol=0)


def test_flip_half_the_time():
    x = asymmetric(1).repeat(400, 1, 1, 1)
    out = only(do_flip=True)(x)
    flipped = ((out - x.flip(-1)).abs().amax((1, 2, 3)) < ATOL).float().mean().item()
    assert 0.4 < flipped < 0.6  # p_flip=0.5 over 400 draws: 0.5 +- 5 standard deviations


@pytest.mark.parametrize("kwargs", [
    dict(), dict(do_flip=True, p_flip=0.0), dict(max_rotate=0.0, p_affine=1.0), dict(max_zoom=1.0, p_affine=1.0),
    dict(max_warp=0.0, p_affine=1.0), dict(max_lighting=0.0, p_lighting=1.0), dict(flip_vert=True, p_flip=0.0),
])
def test_zero_strength_is_identity(kwargs):
    x = asymmetric(4)
    torch.testing.assert_close(only(**kwargs)(x), x, atol=ATOL, rtol=0)


def test_tiny_strength_is_near_identity():
    x = asymmetric(4, h=32, w=32)
    out = only(max_rotate=0.01, max_zoom=1.0001, max_warp=1e-4, max_lighting=1e-4, p_affine=1.0)(x)
    assert (out - x).abs().max() < 0.02


def test_matrices_at_zero_are_identity():
    zero, one = torch.zeros(3), torch.ones(3)
    matrices = (rotate_matrix(zero), crop_zoom_matrix(one, zero, zero), warp_matrix(zero, zero),
                dihedral_matrix(0 * one.long()))
    for m in matrices:
        torch.testing.assert_close(m, torch.eye(3).repeat(3, 1, 1))


def test_dihedral_gives_the_8_symmetries_exactly():
    x = asymmetric(1)
    outs = [resample(x, dihedral_matrix(torch.tensor([k])), (8, 8)) for k in range(8)]
    refs = dihedral_reference(x)
    match = [[j for j, ref in enumerate(refs) if (out - ref).abs().max() < ATOL] for out in outs]
    assert all(len(m) == 1 for m in match), "each k must be exactly one of torch's 8 symmetries"
    assert sorted(m[0] for m in match) == list(range(8)), "the 8 values of k must give 8 different symmetries"
    assert match[0] == [0] and match[4] == [4], "k=0 is the identity, k=4 the horizontal flip"


def test_flip_vert_draws_only_and_all_dihedral_symmetries():
    x = asymmetric(1)
    refs = dihedral_reference(x)
    out = only(flip_vert=True, p_flip=1.0)(x.repeat(200, 1, 1, 1))
    hits = torch.stack([(out - r).abs().amax((1, 2, 3)) < ATOL for r in refs])  # [8, 200]
    assert hits.any(0).all(), "every output must be one of the 8 symmetries"
    assert hits.any(1).all(), "each of the 8 symmetries must appear in 200 draws"


def test_rotate_90_matches_rot90():
    x = asymmetric(1)
    out = resample(x, rotate_matrix(torch.tensor([90.0])), (8, 8))
    assert min((out - r).abs().max() for r in dihedral_reference(x)[:4]) < ATOL


def test_zoom_2_is_the_central_crop():
    x = asymmetric(1)
    one, zero = torch.ones(1), torch.zeros(1)
    out = resample(x, crop_zoom_matrix(2 * one, zero, zero), (4, 4))
    torch.testing.assert_close(out, x[..., 2:6, 2:6], atol=ATOL, rtol=0)
    corner = resample(x, crop_zoom_matrix(2 * one, -one, -one), (4, 4))  # window pushed to the top-left
    torch.testing.assert_close(corner, x[..., :4, :4], atol=ATOL, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_device_kept(dtype):
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        x = torch.rand(5, 3, 40, 40, dtype=dtype, device=device)
        out = aug_transforms(size=24, generator=torch.Generator().manual_seed(0))(x)
        assert out.shape == (5, 3, 24, 24) and out.dtype == dtype and out.device.type == device
        assert 0 <= out.min() and out.max() <= 1


def test_uint8_batches_become_float():
    x = (asymmetric(2) * 255).to(torch.uint8)
    out = aug_transforms(size=8)(x)
    assert out.dtype == torch.float32 and out.max() <= 1


def test_same_seed_same_batch_other_seed_other_batch():
    x = asymmetric(8, h=32, w=32)
    make = lambda seed: aug_transforms(size=24, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    torch.testing.assert_close(make(3)(x), make(3)(x), atol=0, rtol=0)
    assert not torch.allclose(make(3)(x), make(4)(x))


def test_eval_mode_and_valid_transform_are_deterministic_centre_crops():
    x = asymmetric(2, h=8, w=12)
    aug = aug_transforms(size=8).eval()
    torch.testing.assert_close(aug(x), x[..., 2:10], atol=ATOL, rtol=0)
    torch.testing.assert_close(CenterResize(8)(x), x[..., 2:10], atol=ATOL, rtol=0)


def test_lighting_bounds():
    x = torch.full((500, 3, 2, 2), 0.5)
    out = only(max_lighting=0.2, p_lighting=1.0)(x)
    shift = out[:, 0, 0, 0] - 0.5  # mid-grey is unchanged by contrast: only brightness moves it
    assert shift.abs().max() <= 0.1 + 1e-6 and shift.std() > 0.03


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="max_zoom"):
        aug_transforms(max_zoom=0.5)


# ---------------------------------------------------------------- the faster CPU path gives the same batches
def reference_grid(mats: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """The previous sampling grid: every output pixel centre as a batched [h*w, 3] @ [3, 3] product."""
    h, w = out_hw
    ys, xs = (torch.arange(h) * 2 + 1) / h - 1, (torch.arange(w) * 2 + 1) / w - 1
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    mapped = torch.stack([xx, yy, torch.ones_like(xx)], -1).reshape(-1, 3) @ mats.transpose(1, 2)
    return (mapped[..., :2] / mapped[..., 2:]).reshape(len(mats), h, w, 2)


@pytest.mark.parametrize("chunk_bytes", [1, 3 * 46 * 46 * 4 * 4, augment.CPU_CHUNK_BYTES])  # 1, 4 or all 6 at once
def test_resample_a_few_images_at_a_time_matches_the_whole_batch_one(monkeypatch, chunk_bytes):
    monkeypatch.setattr(augment, "CPU_CHUNK_BYTES", chunk_bytes)
    x = (asymmetric(6, h=46, w=46) * 255).to(torch.uint8)
    mats = aug_transforms(size=22, generator=torch.Generator().manual_seed(0)).matrices(6, (46, 46), (22, 22))
    assert (mats[:, 2, :2] != 0).any() and (mats[:, 0, 1] != 0).any()  # warps and rotations are in the draw
    torch.testing.assert_close(sampling_grid(mats, (22, 22)), reference_grid(mats, (22, 22)), atol=1e-6, rtol=0)
    out = resample(x, mats, (22, 22))
    assert out.dtype == torch.float32 and out.shape == (6, 3, 22, 22)
    # the previous way: the whole batch to floats in [0, 1] first, one grid_sample
    whole = F.grid_sample(x.float() / 255, reference_grid(mats, (22, 22)), padding_mode="reflection",
                          align_corners=False)
    torch.testing.assert_close(out, whole, atol=ATOL, rtol=0)
    torch.testing.assert_close(resample(x.float() / 255, mats, (22, 22)), out, atol=ATOL, rtol=0)


def test_uint8_and_float_batches_augment_alike():
    x = (asymmetric(5, h=30, w=30) * 255).to(torch.uint8)
    make = lambda: aug_transforms(size=16, generator=torch.Generator().manual_seed(2))  # noqa: E731
    torch.testing.assert_close(make()(x), make()(x.float() / 255), atol=ATOL, rtol=0)


def test_fused_lighting_is_the_written_formula():
    x = asymmetric(300, h=4, w=4)
    aug = only(max_lighting=0.4, p_lighting=0.75)
    out = aug.lighting(x.clone())
    g = torch.Generator().manual_seed(1)  # the same draws as `only`'s generator, in the same order
    on = (torch.rand(300, generator=g) < 0.75).float()
    brightness = (torch.rand(300, generator=g) * 0.4 - 0.2) * on
    log_c = math.log(1 / 0.6)
    contrast = torch.exp((torch.rand(300, generator=g) * 2 * log_c - log_c) * on)
    b, c = brightness.view(-1, 1, 1, 1), contrast.view(-1, 1, 1, 1)
    torch.testing.assert_close(out, ((x - 0.5) * c + 0.5 + b).clamp(0, 1), atol=1e-6, rtol=0)
    assert (on == 0).any() and (out - x).abs().amax((1, 2, 3)).gt(0.01).float().mean() > 0.5


def test_prepare_normalises_in_place_without_touching_the_callers_batch():
    x = torch.rand(2, 3, 8, 8)
    kept = x.clone()
    out = ImagePrepare(size=8, channels_last=False)((x,), train=False)[0]  # same size: the resize passes x on
    mean, std = (torch.tensor(s).view(1, 3, 1, 1) for s in IMAGENET_STATS)
    assert torch.equal(x, kept)
    torch.testing.assert_close(out, (kept - mean) / std, atol=1e-6, rtol=0)

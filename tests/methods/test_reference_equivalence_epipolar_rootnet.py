"""Reference equivalence (issue 69 item 1), the learned parts of two methods: poseboard's modules,
given the parameters the authors' own modules were given, against those modules' outputs.

* The epipolar transformer's attention and fusion (``Epipolar.forward`` of
  yihui-he/epipolar-transformers, ``epipolar_attention.npz``): dot-product similarity along each
  cell's epipolar line, softmax over the samples, weighted sum of the source features, and the
  z-residual fusion ``f_ref + out + BN(W_z out)``, forward and backward.
* RootNet's head (``RootNet.forward`` of mks0601/3DMPPE_ROOTNET_RELEASE, ``rootnet_gamma.npz``):
  the deconvolutions, the xy soft-argmax and the γ layer on the pooled C5 features, depth γ·k.

The sampler (``grid2sample_locs``) and RootNet's box, k and back-projection are in
``test_reference_equivalence.py``; the JSON beside each fixture says how it was produced and
which documented differences the tests below apply.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from poseboard.methods.nets.backbone import BackboneConfig
from poseboard.methods.nets.epipolar_attention import EpipolarAttention, fundamental_ref_to_src
from poseboard.methods.rootnet import RootNetConfig, RootNetNet

REFERENCE = Path(__file__).parent.parent / "fixtures" / "reference"


def _load(name: str) -> dict[str, np.ndarray]:
    with np.load(REFERENCE / f"{name}.npz") as z:
        return {k: z[k] for k in z.files}


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


@pytest.mark.parametrize("name", ["epipolar_attention", "rootnet_gamma"])
def test_these_fixtures_name_the_differences_the_tests_apply(name):
    prov = json.loads((REFERENCE / f"{name}.json").read_text())
    assert prov["source"]["functions"] and prov["documented_differences"]


# ---------------------------------------------------------------------------- epipolar transformer
@pytest.fixture(scope="module")
def ea() -> dict[str, np.ndarray]:
    return _load("epipolar_attention")


def _attention(ea: dict[str, np.ndarray], z_residual: bool = True) -> EpipolarAttention:
    """poseboard's module with the reference's W_z and BN (parameters and running statistics), eval."""
    m = EpipolarAttention(ea["f_ref_dense"].shape[1], int(ea["num_samples"]), z_residual=z_residual)
    with torch.no_grad():
        m.conv_z.weight.copy_(_t(ea["z_weight"]))
        m.conv_z.bias.copy_(_t(ea["z_bias"]))
        m.bn_z.weight.copy_(_t(ea["bn_weight"]))
        m.bn_z.bias.copy_(_t(ea["bn_bias"]))
        m.bn_z.running_mean.copy_(_t(ea["bn_running_mean"]))
        m.bn_z.running_var.copy_(_t(ea["bn_running_var"]))
    return m.eval()


def _fundamental(ea: dict[str, np.ndarray]) -> torch.Tensor:
    # the unshifted cameras: the reference ran on them shifted by 1.5 px (its cell i is pixel 4i + 1.5)
    return fundamental_ref_to_src(_t(ea["proj_ref"]), _t(ea["proj_src"]))


def _reference_weights(ea: dict[str, np.ndarray], tag: str) -> np.ndarray:
    """The reference's softmax weights (N, S, H, W) as poseboard's (N, H·W, S)."""
    w = ea[f"ref_{tag}_weights"]
    return w.reshape(*w.shape[:2], -1).transpose(0, 2, 1)


def _up_to_reversal(pb: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per line, the max |pb − ref| over samples with ref's order kept or reversed (the two
    samplers may start a line at different ends)."""
    return np.minimum(np.abs(pb - ref).max(-1), np.abs(pb - ref[..., ::-1]).max(-1))


def test_epipolar_softmax_scale_is_the_references_at_64_samples(ea):
    """The reference's SOFTMAXSCALE is 1/√64, computed once from the default SAMPLESIZE in
    core/config.py; poseboard's default 1/√num_samples is that value at the papers' 64 samples
    (at another sample count the reference would still use 1/8 unless its config set both)."""
    assert int(ea["num_samples"]) == 64
    assert _attention(ea).softmax_scale == pytest.approx(float(ea["softmax_scale"]), rel=1e-12)


def test_epipolar_attention_and_zresidual_fusion_equal_epipolar_forward(ea):
    """Dense N(0, 1) features, 8 camera pairs, a 12 × 10 map, 64 samples per line: the lines that
    miss the map are the same (70 of 960: the reference's weights are 1/S there and both outputs
    0), and the attention weights (up to the line's direction), the attention output ``out`` and
    the fused ``f_ref + out + BN(W_z out)`` equal the reference's (measured 6.1e-8, 6.6e-7, 9.5e-7
    on values of a few units, float32), and so does the fusion without the z-residual,
    ``f_ref + BN(W_z out)``.
    Documented differences (the JSON): the reference ran on the cameras shifted by 1.5 px (its
    cell convention) and with ``grid_sample(align_corners=True)``, the convention its
    USE_CORRECT_NORMALIZE assumes; as shipped on a current torch (``align_corners`` False by
    default) its fused features differ from these by up to 2.0."""
    m = _attention(ea)
    f_ref, f_src = _t(ea["f_ref_dense"]), _t(ea["f_src_dense"])
    fund, stride = _fundamental(ea), float(ea["stride"])
    with torch.no_grad():
        out, attn = m.attend(f_ref, f_src, fund, stride)
        fused = m(f_ref, f_src, fund, stride).numpy()
        fused_plain = _attention(ea, z_residual=False)(f_ref, f_src, fund, stride).numpy()
    ref_w = _reference_weights(ea, "dense")
    valid = attn.sum(-1).numpy() > 0.5  # poseboard's weights are 0 on a line that misses the map
    np.testing.assert_array_equal(valid, np.abs(ref_w - 1 / ref_w.shape[-1]).max(-1) > 1e-7)
    assert 0 < (~valid).sum() < valid.size / 4
    missed = ~valid.reshape(out.shape[0], *out.shape[2:])
    assert (out.numpy().transpose(0, 2, 3, 1)[missed] == 0).all()
    assert (ea["ref_dense_out"].transpose(0, 2, 3, 1)[missed] == 0).all()
    assert _up_to_reversal(attn.numpy()[valid], ref_w[valid]).max() < 1e-6
    np.testing.assert_allclose(out.numpy(), ea["ref_dense_out"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(fused, ea["ref_dense_fused"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(fused_plain, ea["ref_dense_fused_no_zresidual"], rtol=0, atol=1e-5)
    assert np.abs(fused - ea["ref_dense_fused_raw"]).max() > 0.5  # the shipped reference reads elsewhere


def test_epipolar_fusion_gradients_equal_the_references(ea):
    """Backward of sum(fused · g): poseboard's spread-back kernel (the adjoint of the sampling)
    gives the reference's gradients for both views' features (through the similarity and the
    weighted sum; the reference's OTHER_GRAD default lets both carry gradient), W_z and the BN
    (measured at most 8.3e-7 on f_src, 9.5e-6 on W_z's gradient of magnitude 29, float32)."""
    m = _attention(ea)
    f_ref = _t(ea["f_ref_dense"]).clone().requires_grad_(True)
    f_src = _t(ea["f_src_dense"]).clone().requires_grad_(True)
    fused = m(f_ref, f_src, _fundamental(ea), float(ea["stride"]))
    (fused * _t(ea["grad_out"])).sum().backward()
    got = {"f_ref": f_ref.grad, "f_src": f_src.grad, "z_weight": m.conv_z.weight.grad, "z_bias": m.conv_z.bias.grad,
           "bn_weight": m.bn_z.weight.grad, "bn_bias": m.bn_z.bias.grad}
    for name, grad in got.items():
        ref = ea[f"ref_dense_grad_{name}"]
        np.testing.assert_allclose(grad.numpy(), ref, rtol=0, atol=1e-6 * max(1.0, np.abs(ref).max()) * 10,
                                   err_msg=name)


def test_epipolar_zero_similarities_are_the_documented_difference(ea):
    """Documented difference ``zero_similarity``: the reference sets a similarity that is exactly
    0 to −1e10 (its mask for samples off the map), so on sparse post-ReLU features a sample whose
    support is disjoint from the reference feature's gets weight 0; poseboard masks only lines that
    miss the map and weighs such a sample exp(0)/Z. Where no similarity, or every one, is 0
    the two agree (measured 2.4e-7); where some are, poseboard's weights restricted to the
    reference's non-zero samples and renormalised are the reference's, and the fused features
    differ (measured up to 1.05, mean 0.10, on the 638 of 960 cells with some zero similarity:
    8 channels, 84% zeros; with 256 channels an exact zero dot product needs two disjoint
    supports and is rare)."""
    m = _attention(ea)
    with torch.no_grad():
        out, attn = m.attend(_t(ea["f_ref_sparse"]), _t(ea["f_src_sparse"]), _fundamental(ea), float(ea["stride"]))
        fused = m(_t(ea["f_ref_sparse"]), _t(ea["f_src_sparse"]), _fundamental(ea), float(ea["stride"])).numpy()
    ref_w = _reference_weights(ea, "sparse")  # (N, HW, S)
    zero = ref_w == 0
    partial = zero.any(-1) & ~zero.all(-1)
    assert 0 < partial.mean() < 1
    clean = ~partial.reshape(fused.shape[0], *fused.shape[2:])
    diff = np.abs(fused - ea["ref_sparse_fused"]).max(1)  # (N, H, W)
    assert diff[clean].max() < 1e-5
    np.testing.assert_allclose(out.numpy().transpose(0, 2, 3, 1)[clean],
                               ea["ref_sparse_out"].transpose(0, 2, 3, 1)[clean], rtol=0, atol=1e-5)
    assert diff[~clean].max() > 0.1  # the difference is real

    a = attn.numpy()

    def restricted(pb: np.ndarray, ref: np.ndarray) -> np.ndarray:
        kept = pb * (ref > 0)
        return np.abs(kept / kept.sum(-1, keepdims=True) - ref).max(-1)

    a_p, w_p = a[partial], ref_w[partial]
    d_same, d_reversed = restricted(a_p, w_p), restricted(a_p[:, ::-1], w_p)
    assert np.minimum(d_same, d_reversed).max() < 1e-5
    # the samples the reference drops are the ones poseboard weighs least (similarity 0, the others
    # positive on these non-negative features): each line's minimum weight
    oriented = np.where((d_same <= d_reversed)[:, None], a_p, a_p[:, ::-1])
    dropped = np.where(w_p == 0, oriented, np.nan)
    np.testing.assert_allclose(np.nanmax(dropped, -1), oriented.min(-1), rtol=1e-5, atol=0)
    np.testing.assert_allclose(np.nanmin(dropped, -1), oriented.min(-1), rtol=1e-5, atol=0)


# ---------------------------------------------------------------------------- RootNet
@pytest.fixture(scope="module")
def rg() -> dict[str, np.ndarray]:
    return _load("rootnet_gamma")


def _rootnet(rg: dict[str, np.ndarray]) -> RootNetNet:
    """poseboard's RootNetNet at the fixture's widths (C5 = 64 channels, three 16-channel
    deconvolutions) with the reference's parameters: its deconvolutions into the shared
    backbone's ``deconv`` (documented difference ``shared_deconvolutions``), the xy layer into
    ``xy_head`` and the γ conv, reshaped, into the γ ``Linear``; the encoder is bypassed, its
    output replaced by the recorded C5 features (the reference's RootNet starts from C5)."""
    c5 = _t(rg["c5"])
    h, w = (int(v) for v in rg["output_hw"])
    backbone = BackboneConfig(stem_width=8, widths=(8, 8, 8, c5.shape[1]), depths=(1, 1, 1, 1),
                              deconv_channels=(16, 16, 16))
    net = RootNetNet(RootNetConfig(backbone=backbone, input_size=4 * max(h, w)))
    deconv = net.backbone.deconv
    assert [type(deconv[i]).__name__ for i in range(9)] == ["ConvTranspose2d", "BatchNorm2d", "ReLU"] * 3
    with torch.no_grad():
        for i in (0, 3, 6):
            deconv[i].weight.copy_(_t(rg[f"deconv{i}_weight"]))
        for i in (1, 4, 7):
            for attr in ("weight", "bias", "running_mean", "running_var"):
                getattr(deconv[i], attr).copy_(_t(rg[f"deconv{i}_bn_{attr}"]))
        net.xy_head.weight.copy_(_t(rg["xy_weight"]))
        net.xy_head.bias.copy_(_t(rg["xy_bias"]))
        net.gamma.weight.copy_(_t(rg["depth_weight"]).reshape(1, -1))
        net.gamma.bias.copy_(_t(rg["depth_bias"]))
    net.backbone.encode = lambda images: c5  # type: ignore[method-assign]
    return net.eval()


def test_rootnet_head_equals_rootnet_forward(rg):
    """``RootNetNet.forward`` on the reference's C5 features with its parameters: the xy logits
    (measured 9.5e-7 on logits up to 8.2), the soft-argmax root on a non-square 32 × 24 grid (x
    the column; measured 0 cells) and γ (measured 0) equal the reference's; the depth γ·k as
    ``localise`` forms it (float64 product of the float32 γ) equals the reference's float32 γ·k to
    its rounding (measured 3.9e-4 mm on 4,100-9,100 mm)."""
    net = _rootnet(rg)
    n = len(rg["c5"])
    h, w = (int(v) for v in rg["output_hw"])
    with torch.no_grad():
        logits = net.xy_head(net.backbone.deconv(_t(rg["c5"])))[:, 0].numpy()
        xy, gamma = net(torch.zeros(n, 3, 4 * h, 4 * w))
    np.testing.assert_allclose(logits, rg["ref_xy_logits"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(xy.numpy(), rg["ref_coord"][:, :2], rtol=0, atol=1e-4)
    np.testing.assert_allclose(gamma.numpy(), rg["ref_gamma"], rtol=1e-6, atol=0)
    depth = gamma.to(torch.float64) * _t(rg["k_value"]).to(torch.float64)
    np.testing.assert_allclose(depth.numpy(), rg["ref_coord"][:, 2], rtol=1e-6, atol=0)
    # independent of both: γ is the linear map of the mean of C5, and the root is the expectation of
    # the softmax over all cells, x along the 24-wide axis; the maps are spread (largest cell
    # probability measured 0.45), so the expectation, not the argmax, is what is compared
    gap = rg["c5"].astype(np.float64).mean((-1, -2))
    np.testing.assert_allclose(gap @ rg["depth_weight"].reshape(-1).astype(np.float64) + rg["depth_bias"][0],
                               rg["ref_gamma"], rtol=1e-5)
    logits = rg["ref_xy_logits"].astype(np.float64)
    p = np.exp(logits - logits.max((-1, -2), keepdims=True))
    p /= p.sum((-1, -2), keepdims=True)
    expected = np.stack([(p.sum(-2) * np.arange(w)).sum(-1), (p.sum(-1) * np.arange(h)).sum(-1)], -1)
    np.testing.assert_allclose(rg["ref_coord"][:, :2], expected, rtol=0, atol=1e-4)
    assert p.max() < 0.5

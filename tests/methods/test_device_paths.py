"""Every method and geometry kernel runs where its inputs and networks are, with one code path.

Each test builds its method or inputs on the ``device`` fixture *outside* ``device_guard``
and runs ``fit`` (two steps, with validation), ``predict`` or the kernel *inside* it. On the
CPU (the default) the guard makes any tensor created without an explicit device land on
``meta``, so mixing it with the real inputs raises: a CPU-only machine proves that nothing
is created on a default device. Outputs must be on the device and finite, and on the CPU the
outputs inside the guard must equal, bit for bit, those of the same call outside it.
``POSEBOARD_TEST_DEVICE=cuda`` runs the same tests on a GPU (the guard then does nothing).

The data pipeline (datasets, collate functions and torch's ``DataLoader``, which draws its
base seed with a tensor of the default device) is host code that ``fit`` and the validation
functions call: the ``host_data`` fixture runs it under ``torch.device("cpu")``, as it runs
in production, so that the guard tests the device code alone.
"""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import method_fixtures as F

import poseboard.datasets.people as people
import poseboard.datasets.torch_dataset as torch_dataset
import poseboard.methods.rootnet as rootnet
import poseboard.methods.train.loop as training
import poseboard.methods.train.pretrain as pretrain
from poseboard import geometry as G
from poseboard.datasets.people import ViewScenes
from poseboard.datasets.torch_dataset import collate_scenes
from poseboard.device import to_device
from poseboard.harness.root_localisation import evaluate_roots
from poseboard.methods import volumetric as VOL
from poseboard.methods.algebraic import AlgebraicConfig, AlgebraicMethod
from poseboard.methods.epipolar import EpipolarConfig, EpipolarMethod, local_soft_argmax, select_views
from poseboard.methods.nets import multiview as MV
from poseboard.methods.nets import person_box as PB
from poseboard.methods.nets import pose_posterior as PP
from poseboard.methods.nets.epipolar_attention import EpipolarAttention, epipolar_sample_points, nearest_views
from poseboard.methods.probabilistic import ProbabilisticConfig, ProbabilisticMethod
from poseboard.methods.ransac import RansacConfig, RansacMethod
from poseboard.methods.rootnet import RootNetConfig, RootNetMethod
from poseboard.methods.volumetric import VolumetricConfig, VolumetricMethod
from poseboard.samples import Prediction

torch.set_num_threads(1)


# ---------------------------------------------------------------------------- helpers
def _host(fn):
    """``fn`` run under ``torch.device("cpu")`` (host data code inside the guard)."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with torch.device("cpu"):
            return fn(*args, **kwargs)

    return wrapped


@pytest.fixture
def host_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Datasets, collation and the DataLoader run on the host (see the module docstring)."""
    make_loader = training.make_loader
    monkeypatch.setattr(training, "make_loader", _host(lambda *a, **k: list(make_loader(*a, **k))))
    for module in (torch_dataset, pretrain, people):
        monkeypatch.setattr(module, "normalize_images", _host(torch_dataset.normalize_images))


def _on(x: torch.Tensor, device: torch.device) -> bool:
    return x.device.type == device.type and (device.index is None or x.device.index == device.index)


def _tensors(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor in a prediction, a dict, a tuple or a list, by a dotted name."""
    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    if isinstance(obj, Prediction):
        fields = {"joints_3d": obj.joints_3d, "confidence": obj.confidence, "root": obj.root, "score": obj.score}
        return _tensors({**fields, **{f"extras.{k}": v for k, v in obj.extras.items()}}, prefix)
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else []
    out: dict[str, torch.Tensor] = {}
    for k, v in items:
        out.update(_tensors(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _check(out: Any, device: torch.device, host: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """Every tensor of ``out`` on ``device`` (those whose name contains one of ``host``: on the
    CPU) and every floating one finite."""
    tensors = _tensors(out)
    assert tensors
    for name, t in tensors.items():
        where = torch.device("cpu") if any(h in name for h in host) else device
        assert _on(t, where), f"{name} is on {t.device}, expected {where}"
        if t.is_floating_point():
            assert bool(torch.isfinite(t).all()), f"{name} is not finite"
    return tensors


def _assert_same(a: Any, b: Any) -> None:
    """Bit-identical tensors (NaN equal to NaN)."""
    ta, tb = _tensors(a), _tensors(b)
    assert ta.keys() == tb.keys()
    for name in ta:
        x, y = ta[name], tb[name]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        if x.is_floating_point():
            assert torch.equal(x.isnan(), y.isnan()) and torch.equal(x.nan_to_num(), y.nan_to_num()), name
        else:
            assert torch.equal(x, y), name


def _tiny(config: Any, **update: Any) -> Any:
    """``config`` training two steps of two samples, logging every step, validating on two."""
    if hasattr(config, "train"):
        update["train"] = config.train.model_copy(update={"steps": 2, "batch_size": 2, "log_every": 1,
                                                          "checkpoint_every": 2, "val_samples": 2, "warmup_steps": 0})
    return config.model_copy(update={"backbone_checkpoint": str(F.backbone_dir()), **update})


def _batch(device: torch.device, n: int = 4, cameras: list[int] | None = None, missing: bool = False) -> dict:
    """A test batch on ``device``; ``missing``: two samples lose a view (two stay valid)."""
    batch = F.eval_batch(n, cameras)
    if missing:
        batch["view_valid"] = batch["view_valid"].clone()
        batch["view_valid"][1, 2] = False
        batch["view_valid"][2, 0] = False
    return to_device(batch, device)


# ---------------------------------------------------------------------------- methods
def _ransac() -> Any:
    return RansacMethod(_tiny(RansacConfig.preset("smoke"), pairs="random", n_iters=3))


def _algebraic() -> Any:
    return AlgebraicMethod(_tiny(AlgebraicConfig.preset("smoke")))


def _volumetric(norm: str, views: tuple[int, ...], centre: str, aggregation: str) -> Any:
    alg = AlgebraicMethod.load(F.algebraic_dir())
    return VolumetricMethod(_tiny(VolumetricConfig.preset("smoke"), volume_norm=norm, train_view_counts=views,
                                  train_centre=centre, aggregation=aggregation,
                                  algebraic_checkpoint=str(F.algebraic_dir()), algebraic=alg.config))


def _epipolar(transformer: bool, triangulation: str) -> Any:
    return EpipolarMethod(_tiny(EpipolarConfig.preset("smoke"), use_transformer=transformer,
                                triangulation=triangulation, attention_lr_scale=0.5))


def _probabilistic(sharing: str) -> Any:
    cfg = ProbabilisticConfig.preset("smoke")
    post = cfg.posterior.model_copy(update={"samples": 8, "iterations": 1, "ransac_hypotheses": 8,
                                            "refine_iterations": 2, "init_starts": 2})
    return ProbabilisticMethod(_tiny(cfg, pose_sharing=sharing, posterior=post))


METHODS = {
    "ransac": (_ransac, ("4 views", "missing views")),
    "algebraic": (_algebraic, ("4 views", "missing views")),
    "volumetric": (functools.partial(_volumetric, "none", (1,), "gt_jitter", "softmax"),
                   ("4 views", "1 view", "missing views")),
    "volumetric-standardise": (functools.partial(_volumetric, "standardise", (2,), "algebraic", "conf"),
                               ("4 views", "1 view", "missing views")),
    "epipolar": (functools.partial(_epipolar, True, "dlt"), ("4 views", "missing views")),
    "epipolar-baseline": (functools.partial(_epipolar, False, "ransac"), ("4 views", "missing views")),
    "probabilistic-frame": (functools.partial(_probabilistic, "frame"), ("4 views", "missing views")),
    "probabilistic-sequence": (functools.partial(_probabilistic, "sequence"), ("4 views",)),
}
BATCHES = {"4 views": {}, "1 view": {"cameras": [2]}, "missing views": {"missing": True}}


@pytest.mark.parametrize("name", list(METHODS))
def test_method_fits_and_predicts_on_the_device(name, device, guard, host_data):
    build, batch_names = METHODS[name]
    method = build().to(device)
    method.progress = False
    train, val = F.h36m("train"), F.h36m("test")
    batches = [_batch(device, **BATCHES[b]) for b in batch_names]
    with guard(device):
        method.fit(train, val)
        preds = [method.predict(b) for b in batches]
    for net in method.networks().values():
        assert all(_on(p, device) for p in net.parameters())
    for pred in preds:
        _check(pred, device)
    summary = getattr(method, "last_summary", None)
    if summary is not None:  # trainable: two logged steps, finite losses
        losses = [h["loss"] for h in summary.history if "loss" in h]
        assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    if device.type == "cpu":  # the guard changes no bit
        for batch, pred in zip(batches, preds, strict=True):
            _assert_same(pred, method.predict(batch))


def test_rootnet_fits_predicts_and_evaluates_on_the_device(device, guard, host_data, tmp_path):
    method = RootNetMethod(_tiny(RootNetConfig.preset("smoke"))).to(device)
    method.progress = False
    train, val = F.h36m("train"), F.h36m("test")
    scenes = ViewScenes(F.h36m("test"))
    batch = to_device(collate_scenes([scenes[i] for i in range(6)]), device)
    with guard(device):
        method.fit(train, val)
        preds = [method.predict({**batch, "box_source": source}) for source in ("gt", "detected")]
        mrpe = rootnet.evaluate_view_mrpe(method, F.h36m("test"), limit=4)["overall"]
    host = ("image_index", "person_index", "boxes")  # host-side bookkeeping of the boxes
    for pred in preds:
        _check(pred, device, host)
    assert math.isfinite(mrpe["mrpe"])
    if device.type == "cpu":
        for source, pred in zip(("gt", "detected"), preds, strict=True):
            _assert_same(pred, method.predict({**batch, "box_source": source}))


def test_evaluate_roots_runs_on_the_device_and_names_it(device, guard, host_data, tmp_path):
    method = RootNetMethod(RootNetConfig.preset("smoke"))
    data = F.data_dir()
    with guard(device):
        result, path = evaluate_roots(method, "synth-h36m-root", data_dir=data, results_dir=tmp_path,
                                      batch_size=8, device=device)
    assert path.exists() and math.isfinite(result.metrics.headline_value)
    assert all(_on(p, device) for p in method.net.parameters())
    if device.type == "cpu":  # the speed block's device string as before devices existed
        n = torch.get_num_threads()
        assert result.speed.device == f"cpu ({n} torch thread{'s' if n > 1 else ''})"


def test_pretraining_runs_on_the_device(device, guard, host_data, tmp_path):
    cfg = pretrain.PretrainConfig.preset("smoke")
    cfg = cfg.model_copy(update={
        "augment_scale": 0.1, "augment_rotation_deg": 10.0,
        "train": cfg.train.model_copy(update={"steps": 2, "batch_size": 4, "log_every": 1, "val_samples": 4,
                                              "warmup_steps": 0}),
    })
    data = F.data_dir() / "synth-h36m"
    with guard(device):
        net, summary = pretrain.pretrain_backbone(cfg, data / "train", tmp_path / "guarded", val=data / "test",
                                                  progress=False, device=device)
    assert all(_on(p, device) for p in net.parameters())
    assert len(summary.history) >= 2 and all(math.isfinite(v) for h in summary.history for v in h.values())
    if device.type == "cpu":  # the same two steps outside the guard: the same weights
        again, _ = pretrain.pretrain_backbone(cfg, data / "train", tmp_path / "plain", val=data / "test",
                                              progress=False, device=device)
        _assert_same(dict(net.state_dict()), dict(again.state_dict()))


# ---------------------------------------------------------------------------- kernels
def _rig(device: torch.device) -> dict[str, torch.Tensor]:
    """Eight test samples' cameras and joints on ``device``, their projections with 2 px of
    noise, confidences (two views of one joint weighted 0) and random maps and volumes."""
    batch = _batch(device, 8)
    gen = torch.Generator().manual_seed(0)
    proj = batch["proj_matrices"].double()  # (8, 4, 3, 4)
    joints = batch["joints_3d"].double()  # (8, 17, 3)
    uv = G.project_points(proj[:, None], joints[:, :, None])  # (8, 17, 4, 2)
    noise = torch.randn(uv.shape, generator=gen, dtype=torch.float64).to(device)
    weights = torch.rand(uv.shape[:-1], generator=gen, dtype=torch.float64).to(device) + 0.1
    weights[1, 2, :2] = 0
    shapes = {"heat": (2, 4, 17, 16, 16), "vol": (2, 17, 8, 8, 8), "feats": (8, 4, 3, 16, 16),
              "feat_weights": (8, 4, 3), "volumes": (8, 17, 8, 8, 8), "f_ref": (8, 8, 16, 16), "f_src": (8, 8, 16, 16)}
    maps = {k: torch.randn(shape, generator=gen).to(device) for k, shape in shapes.items()}
    return {**batch, **maps, "proj": proj, "joints": joints, "uv": uv + 2 * noise, "weights": weights}


def _triangulation(r: dict[str, Any]) -> dict[str, Any]:
    proj, uv = r["proj"][:, None], r["uv"]
    pts = uv.clone().requires_grad_(True)
    w = r["weights"].clone().requires_grad_(True)
    X = G.triangulate_dlt(proj, pts, w)
    X.square().sum().backward()
    return {
        "dlt": G.triangulate_dlt(proj, uv),
        "dlt_weighted": X.detach(),
        "dlt_float32": G.triangulate_dlt(proj.float(), uv.float(), r["weights"].float()),
        "dlt_numpy_rig": G.triangulate_dlt(proj.detach().cpu().numpy(), uv),
        "grad_points": pts.grad,
        "grad_weights": w.grad,
        "ransac_all": tuple(G.triangulate_ransac(proj, uv, pairs="all")),
        "ransac_random": tuple(G.triangulate_ransac(proj, uv, pairs="random", n_iters=4, seed=3)),
        "ransac_always": tuple(G.triangulate_ransac(proj, uv, pair_inliers="always", refine=False)),
    }


def _argmax(r: dict[str, Any]) -> dict[str, Any]:
    heat, vol = r["heat"], r["vol"]
    coords = VOL.cuboid_coords(r["joints"][:2, 6], VOL.rotation_z(r["joints"][:2, 0, 0] / 1000), 8,
                               (2000.0, 2000.0, 2000.0))
    peaks, scores = local_soft_argmax(heat, 2)
    return {"soft_2d": G.soft_argmax_2d(heat), "hard_2d": G.hard_argmax_2d(heat),
            "soft_3d": G.soft_argmax_3d(vol, coords[:, None]), "local": (peaks, scores),
            "select": select_views(scores.transpose(1, 2), 0.5)}


def _projection(r: dict[str, Any]) -> dict[str, Any]:
    proj, X = r["proj"], r["joints"]
    K, R, t, dist = r["K"], r["R"], r["t"], r["dist"]
    return {
        "project": G.project_points(proj[:, None], X[:, :, None]),
        "keep": G.project_points(proj[:, None], X[:, :, None], behind="keep"),
        "depths": G.point_depths(proj[:, None], X[:, :, None]),
        "distorted": G.project_points_with_distortion(K[:, None], R[:, None], t[:, None], dist[:, None],
                                                      X[:, :, None]),
        "distorted_one_camera": G.project_points_with_distortion(K[0, 0], R[0, 0], t[0, 0], dist[0, 0], X[0]),
        "centres": G.camera_centers(proj),
    }


def _undistortion(r: dict[str, Any]) -> dict[str, Any]:
    uv, K, dist, boxes = r["uv"].transpose(1, 2), r["K"][:, :, None], r["dist"][:, :, None], r["boxes"]
    return {
        "undistorted": MV.undistort_pixels(uv, K, dist),
        "no_distortion": MV.undistort_pixels(uv, K, torch.zeros_like(dist)),
        "original_pixels": MV.crop_to_original(uv, boxes[:, :, None], 64),
        "original_proj": MV.original_projection(r["proj"], boxes, 64),
    }


def _unprojection(r: dict[str, Any]) -> dict[str, Any]:
    vb = MV.read_batch(r)
    feats = r["feats"]
    centre = r["joints"][:, 6]
    rotation = VOL.rotation_z(torch.linspace(0, 3, 8, dtype=torch.float64, device=centre.device))
    coords = VOL.cuboid_coords(centre, rotation, 8, (2000.0, 2000.0, 2400.0))
    sampled, mask = VOL.unproject(feats, coords.flatten(1, 3), vb)
    weights = r["feat_weights"].sigmoid()
    volume = VOL.aggregate(sampled, vb.view_valid, "softmax")
    volumes = r["volumes"]
    vb1 = MV.read_batch({k: v for k, v in r.items() if k != "dist"})  # defaults built on the device
    return {
        "coords": coords, "sampled": sampled, "mask": mask, "softmax": volume,
        "sum": VOL.aggregate(sampled, mask, "sum"), "conf": VOL.aggregate(sampled, vb.view_valid, "conf", weights),
        "standardised": VOL.standardise_volume(volume),
        "ce": VOL.voxel_cross_entropy(volumes, coords, centre, rotation, r["joints"], (2000.0, 2000.0, 2400.0), 1.0),
        "backproject": VOL.backproject(r["uv"][:, 6, 0], torch.full_like(centre[:, 0], 5000.0), vb.K[:, 0],
                                       vb.R[:, 0], vb.t[:, 0], vb.dist[:, 0]),
        "read_batch_defaults": (vb1.dist, vb1.view_valid, vb1.boxes),
    }


def _epipolar_kernels(r: dict[str, Any], attention: EpipolarAttention) -> dict[str, Any]:
    proj = r["proj"]
    F_ = G.fundamental_from_projections(proj[:, 0], proj[:, 1])
    pts, valid = epipolar_sample_points(F_, 16, 16, 4.0, 8)
    f_ref, f_src = r["f_ref"], r["f_src"]
    return {"F": F_, "lines": G.epipolar_lines(F_, r["uv"][:, :, 0]), "samples": (pts, valid),
            "nearest": nearest_views(proj), "attention": attention(f_ref, f_src, F_, 4.0)}


def _posterior(r: dict[str, Any]) -> dict[str, Any]:
    pts = r["uv"].transpose(1, 2)[:2].contiguous().requires_grad_(True)
    conf = torch.ones(pts.shape[:-1], dtype=torch.float64, device=pts.device)
    cfg = PP.PosteriorConfig(samples=8, iterations=1, ransac_hypotheses=8, refine_iterations=2, init_starts=2)
    post = PP.monte_carlo_posterior(pts, conf, r["K"][:2], cfg, torch.Generator().manual_seed(4))
    X = PP.triangulate_under_posterior(pts, conf, r["K"][:2], post)
    X.square().sum().backward()
    fields = ("rotations", "translations", "sample_rotations", "sample_translations", "mean_error_px",
              "rotation_spread", "translation_spread")
    return {**{f: getattr(post, f) for f in fields}, "X": X.detach(), "grad": pts.grad}


def _heatmaps(r: dict[str, Any]) -> dict[str, Any]:
    cfg = pretrain.PretrainConfig(augment_scale=0.1, augment_rotation_deg=10.0)
    images, j2d, vis = r["images"][:, 0], r["joints_2d"][:, 0], r["visibility"][:, 0]
    mask = torch.tensor([True, False] * 4, device="cpu")  # the training step's host-side draw
    flipped = pretrain.flip_batch(images, j2d, vis, mask)
    augmented = pretrain.augment_batch(images, j2d, cfg, torch.Generator().manual_seed(5))
    return {"gaussian": pretrain.gaussian_heatmaps(j2d / 4, (16, 16), 1.5),
            "weights": pretrain.joint_weights(j2d, vis, 64, 0.5), "flip": flipped, "augment": augmented}


def _root_geometry(r: dict[str, Any]) -> dict[str, Any]:
    boxes = torch.stack([MV.crop_to_original(r["joints_2d"][:, 0].double().amin(1), r["boxes"][:, 0], 64),
                         MV.crop_to_original(r["joints_2d"][:, 0].double().amax(1), r["boxes"][:, 0], 64)], -1)
    box = PB.process_box(boxes.flatten(-2)[:, [0, 2, 1, 3]], (64, 64))
    K = r["K"][:, 0]
    k = PB.k_value(K, box)
    index = torch.arange(8, device=K.device)
    return {"box": box, "k": k, "root": PB.back_project(torch.full_like(box[:, :2], 4.0), k, box, K, 16),
            "grid": PB.image_to_grid(box[:, :2], box, 16),
            "crops": rootnet.crop_boxes(r["images"][:, 0], index, box, 32)}


KERNELS = {
    "triangulation": _triangulation,
    "argmax": _argmax,
    "projection": _projection,
    "undistortion": _undistortion,
    "unprojection": _unprojection,
    "epipolar": None,  # needs a module, built outside the guard
    "pose_posterior": _posterior,
    "heatmaps": _heatmaps,
    "root_geometry": _root_geometry,
}


@pytest.mark.parametrize("name", list(KERNELS))
def test_kernels_run_on_the_device(name, device, guard):
    rig = _rig(device)
    kernel = KERNELS[name]
    if kernel is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            attention = EpipolarAttention(8, num_samples=8)
        torch.nn.init.normal_(attention.bn_z.weight)  # a non-trivial fusion
        kernel = functools.partial(_epipolar_kernels, attention=attention.eval().to(device))
    with guard(device):
        out = kernel(rig)
    _check(out, device)
    if device.type == "cpu":
        _assert_same(out, kernel(_rig(device)))


def test_numpy_arguments_join_the_device_of_the_tensor_arguments(device, guard):
    rig = _rig(device)
    proj = rig["proj"][0].cpu().numpy()
    with guard(device):
        X = G.triangulate_dlt(proj, rig["uv"][0])
        uv = G.project_points(proj[:, None], X)  # (V, J, 2)
        centres = G.camera_centers(proj)
    assert _on(X, device) and _on(uv, device)
    assert centres.device.type == "cpu"  # no tensor argument: the CPU
    assert torch.allclose(X, G.triangulate_dlt(torch.as_tensor(proj, device=device), rig["uv"][0]))
    assert np.isfinite(centres.numpy()).all()

"""``rootnet`` on real data and its training augmentation (``poseboard.methods.rootnet_data``).

Real data on the miniature fixtures of ``tests/datasets/real_fixtures.py``: Human3.6M's
present views become single-person items whose roots agree with the label file computed
independently; ``poseboard train rootnet --dataset human36m`` takes finite steps and
validates on S9 + S11; datasets RootNet cannot train on are refused naming the dataset and
the fix. Augmentation: the identity map is the plain crop, the 2D target follows the
reference's own transform (``gen_trans_from_patch_cv``, ported below), a flip mirrors the
root's x, the augmented crop shows the root where the target says, k follows the window.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from poseboard.datasets.people import RealViewPersonDataset, person_dataset
from poseboard.datasets.real.config import ENV_VARS, RealDataConfig
from poseboard.errors import InputError
from poseboard.harness.run import train_method
from poseboard.methods.nets.backbone import Backbone, BackboneConfig, save_backbone
from poseboard.methods.rootnet import (
    RootNetConfig,
    RootNetMethod,
    crop_boxes,
    evaluate_view_mrpe,
    image_to_grid,
    k_value,
    process_box,
)
from poseboard.methods.rootnet_data import (
    RootNetAugment,
    augmentation_matrix,
    crop_boxes_affine,
    crop_grid_to_image,
    draw_augmentation,
    image_to_crop_grid,
    jitter_colour,
    pixel_to_camera,
    root_inside,
)
from poseboard.skeleton import H36M17

sys.path.insert(0, str(Path(__file__).parents[1] / "datasets"))  # the real-data fixture writers
from real_fixtures import H36M_ROWS, h36m_cameras, write_h36m, write_mupots, write_panoptic

CROP = 384  # Human36MMultiView's default crop side


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def h36m(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("real") / "h36m"
    return root, write_h36m(root)


def _h36m(root: Path, split: str, **kwargs):
    from poseboard.datasets.real.human36m import Human36MMultiView

    return Human36MMultiView(root, split, trust_pickle=True, **kwargs)


# ----------------------------------------------------------------------------- real data
def test_human36m_views_are_items_with_the_label_files_roots(h36m):
    root, labels = h36m
    people = person_dataset(_h36m(root, "test"))
    assert isinstance(people, RealViewPersonDataset)
    # S9 + S11: 7 frames x 4 cameras, less S11 Directions-2's camera 54138969 (no video) in 2 frames
    assert len(people) == 7 * 4 - 2
    assert not any(i in (5, 6) and c == 0 for i, c in people.items.tolist())
    table = labels["table"]
    test_rows = [r for r in range(len(table)) if labels["subject_names"][table[r]["subject_idx"]] in ("S9", "S11")]
    for n in range(len(people)):
        item = people[n]
        i, c = people.items[n]
        row = table[test_rows[i]]
        cam = h36m_cameras(int(row["subject_idx"]))[c]
        pelvis = row["keypoints"].astype(np.float64)[H36M17.root]
        expected_cam = cam.R @ pelvis + cam.t  # independent: world → camera with the fixture's camera
        assert np.allclose(item["root_cam"], expected_cam, atol=1e-3)
        top, left, bottom, right = (int(b) for b in row["bbox_by_camera_tlbr"][c])
        u, v = cam.K[:2, :2] @ (expected_cam[:2] / expected_cam[2]) + cam.K[:2, 2]
        uv_crop = [(u - left) * CROP / (right - left), (v - top) * CROP / (bottom - top)]
        assert np.allclose(item["root_2d"], uv_crop, atol=1e-3)
        assert item["image"].shape == (3, CROP, CROP) and item["image"].dtype == np.uint8
        box = item["box"]
        assert 0 <= box[0] < item["root_2d"][0] < box[2] <= CROP and 0 <= box[1] < item["root_2d"][1] < box[3] <= CROP
        # k does not change with the crop: crop K and crop box give the full image's k
        K_crop = torch.as_tensor(item["K"])[None]
        pbox = process_box(torch.as_tensor(box, dtype=torch.float64)[None], (CROP, CROP))
        full_box = pbox * torch.tensor([(right - left) / CROP, (bottom - top) / CROP] * 2, dtype=torch.float64)
        k_full = k_value(torch.as_tensor(cam.K)[None], full_box)
        assert torch.allclose(k_value(K_crop, pbox), k_full, rtol=1e-6)  # float32 labels


def test_panoptic_views_are_items_too(tmp_path):
    from poseboard.datasets.real.panoptic import PanopticMultiView

    write_panoptic(tmp_path / "panoptic")
    people = person_dataset(PanopticMultiView(tmp_path / "panoptic", "test"))
    assert len(people) == 2 * 6  # the two fully confident single-person frames, six HD cameras
    for n in (0, 7):
        item = people[n]
        K, X = item["K"], item["root_cam"]
        assert np.allclose(item["root_2d"], K[:2, :2] @ (X[:2] / X[2]) + K[:2, 2], atol=1e-6)  # pinhole crops


def test_trains_a_few_steps_on_the_human36m_fixture(h36m, tmp_path):
    root, _ = h36m
    ck = tmp_path / "checkpoints"
    torch.manual_seed(0)
    save_backbone(ck / "backbone", Backbone(BackboneConfig.preset("smoke")))
    override = tmp_path / "rootnet.yaml"
    override.write_text("train: {steps: 3, batch_size: 4, val_samples: 2, log_every: 1}\n")
    cfg = RealDataConfig(human36m=root, trust_pickle=True, use_env=False)
    summary = train_method("rootnet", checkpoints=ck, dataset="human36m", profile="smoke", progress=False,
                           config_path=override, real_data=cfg)
    assert summary["steps"] == 3 and (ck / "rootnet" / "weights.pt").is_file()
    assert np.isfinite(summary["val"]["mrpe"]) and summary["val"]["people"] == 8  # S9's first 2 frames x 4 views
    log = (ck / "rootnet" / "work" / "metrics.jsonl").read_text()
    assert '"augment_active": true' in log  # smoke leaves `augment.enabled` null: on for real data
    method = RootNetMethod.load(ck / "rootnet")
    report = evaluate_view_mrpe(method, _h36m(root, "test"))
    assert report["overall"]["people"] == 26 and np.isfinite(report["overall"]["mrpe"])
    assert set(report["per_action"]) == {"Directions-2", "Greeting-2", "Walking-1", "Walking-2"}


def test_fit_on_human36m_has_finite_losses_with_and_without_augmentation(h36m):
    root, _ = h36m
    train = _h36m(root, "train")
    for enabled in (True, False):
        cfg = RootNetConfig.preset("smoke")
        cfg.backbone_checkpoint = None
        cfg.augment = RootNetAugment(enabled=enabled)
        cfg.train.steps, cfg.train.batch_size, cfg.train.log_every = 2, 4, 1
        method = RootNetMethod(cfg)
        method.progress = False
        method.fit(train, None)
        assert method.augmenting is enabled
        losses = [h["loss"] for h in method.last_summary.history if "loss" in h]
        assert len(losses) == 2 and all(math.isfinite(x) for x in losses)


def test_datasets_rootnet_cannot_train_on_are_refused_with_the_fix(h36m, tmp_path):
    from poseboard.datasets.real.mupots import MuPoTSScenes

    root, _ = h36m
    write_mupots(tmp_path / "mupots")
    method = RootNetMethod(RootNetConfig.preset("smoke"))
    with pytest.raises(InputError, match=r"(?s)MuPoTS-3D \('mupots'\) is a test set.*MuCo-3DHP.*'human36m'"):
        method.fit(MuPoTSScenes(tmp_path / "mupots"), None)
    with pytest.raises(InputError, match=r"human36m 'train' split was opened with load_images=False.*"
                                         r"load_images=True"):
        person_dataset(_h36m(root, "train", load_images=False))
    with pytest.raises(InputError, match=r"human36m 'S5' split has no frame.*`poseboard datasets check human36m`"):
        person_dataset(_h36m(root, "S5"))  # S5 is a known subject without rows in the fixture
    with pytest.raises(InputError, match=r"cannot train on a list.*'human36m'"):
        person_dataset([1, 2, 3])
    assert [s for s, _, _ in H36M_ROWS].count("S5") == 0


def test_augmentation_is_off_for_generated_data_under_the_committed_presets():
    for profile in ("smoke", "default", "gpu"):
        augment = RootNetConfig.preset(profile).augment
        assert augment.enabled is None and not augment.active(real=False) and augment.active(real=True)
    assert RootNetConfig.preset("paper").augment.active(real=False)
    assert RootNetConfig().augment == RootNetAugment()  # an older config.json (no `augment`) loads unchanged


# ----------------------------------------------------------------------------- augmentation
def _reference_target(root_img, box_xywh, width, size, rot_deg, flip):
    """The reference's 2D target (data/dataset.py): flip the image (x → W − 1 − x, the box
    centre with it), then ``gen_trans_from_patch_cv`` + ``trans_point2d``, in patch pixels.
    ``cv2.getAffineTransform`` is solved here with NumPy from the same three point pairs."""
    c_x, c_y = box_xywh[0] + 0.5 * box_xywh[2], box_xywh[1] + 0.5 * box_xywh[3]
    x, y = root_img
    if flip:
        x, c_x = width - x - 1, width - c_x - 1
    rad = np.pi * rot_deg / 180

    def rotate(p):
        sn, cs = np.sin(rad), np.cos(rad)
        return np.array([p[0] * cs - p[1] * sn, p[0] * sn + p[1] * cs])

    src_c = np.array([c_x, c_y])
    src = np.stack([src_c, src_c + rotate([0, box_xywh[3] * 0.5]), src_c + rotate([box_xywh[2] * 0.5, 0])])
    dst = np.array([[size / 2, size / 2], [size / 2, size], [size, size / 2]])
    trans = np.linalg.solve(np.c_[src, np.ones(3)], dst).T  # (2, 3): dst = trans @ [src; 1]
    return trans @ np.array([x, y, 1.0])


def test_the_target_follows_the_references_transform():
    rng = np.random.default_rng(0)
    width, size, grid = 640, 256, 64
    for _ in range(40):
        box = np.array([*rng.uniform(50, 300, 2), *(rng.uniform(80, 250) * np.ones(2))])
        root = box[:2] + rng.uniform(0.1, 0.9, 2) * box[2:]
        rot, flip = float(rng.uniform(-60, 60)), bool(rng.random() < 0.5)
        A = augmentation_matrix(torch.tensor([rot]), torch.tensor([flip]), torch.tensor([1.0]))
        ours = image_to_crop_grid(torch.from_numpy(root[None]), torch.from_numpy(box[None]), A, grid)[0].numpy()
        expected = _reference_target(root, box, width, size, rot, flip) / size * grid
        assert np.allclose(ours, expected, atol=1e-9), (rot, flip)


def test_a_flip_mirrors_the_roots_x_and_a_rotation_rotates_it_about_the_centre():
    grid = 64
    box = torch.tensor([[100.0, 40.0, 200.0, 200.0]])
    root = torch.tensor([[170.0, 90.0]])
    plain = image_to_grid(root.double(), box.double(), grid)[0]
    flipped = image_to_crop_grid(root, box, augmentation_matrix(torch.tensor([0.0]), torch.tensor([True]),
                                                                torch.tensor([1.0])), grid)[0]
    assert torch.allclose(flipped, torch.stack([grid - plain[0], plain[1]]).double(), atol=1e-12)
    for theta in (30.0, -45.0, 90.0):
        A = augmentation_matrix(torch.tensor([theta]), torch.tensor([False]), torch.tensor([1.0]))
        rotated = image_to_crop_grid(root, box, A, grid)[0]
        # independent: the image rotates by θ about the box centre, so the root's crop position
        # turns by −θ about the crop centre (y down)
        t = math.radians(-theta)
        d = plain - grid / 2
        expected = torch.tensor([math.cos(t) * d[0] - math.sin(t) * d[1],
                                 math.sin(t) * d[0] + math.cos(t) * d[1]], dtype=torch.float64) + grid / 2
        assert torch.allclose(rotated, expected, atol=1e-9)
    # and back: the grid position maps to the same image pixel, so back-projection is unchanged
    A = augmentation_matrix(torch.tensor([37.0]), torch.tensor([True]), torch.tensor([1.2]))
    g = image_to_crop_grid(root, box, A, grid)
    assert torch.allclose(crop_grid_to_image(g, box, A, grid), root.double(), atol=1e-9)


def test_the_identity_map_is_the_plain_crop():
    images = torch.rand(2, 3, 50, 70, generator=torch.Generator().manual_seed(0))
    box = torch.tensor([[5.0, -4.0, 40.0, 40.0], [30.0, 10.0, 25.0, 25.0]], dtype=torch.float64)
    index = torch.tensor([1, 0])
    eye = torch.eye(2, dtype=torch.float64).expand(2, 2, 2)
    assert torch.allclose(crop_boxes_affine(images, index, box, eye, 16), crop_boxes(images, index, box, 16),
                          atol=1e-6)
    uv = torch.tensor([[20.0, 10.0], [41.0, 22.0]], dtype=torch.float64)
    assert torch.allclose(image_to_crop_grid(uv, box, eye, 4), image_to_grid(uv, box, 4), atol=1e-12)


def test_the_augmented_crop_shows_the_root_where_the_target_says():
    """Pixels, not formulas: a bright spot at the root is found in the augmented crop at the
    target position (to a fraction of a crop pixel), for flips, rotations and scales."""
    H, W, S, G = 180, 240, 64, 16
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij")
    gen = torch.Generator().manual_seed(3)
    aug = draw_augmentation(12, RootNetAugment(enabled=True, scale_factor=0.25, rotation_prob=0.9), gen)
    assert aug.flip.any() and (~aug.flip).any() and (aug.rotation_deg.abs() > 5).sum() >= 6
    rng = np.random.default_rng(1)
    for n in range(12):
        root = torch.tensor([rng.uniform(90, 150), rng.uniform(70, 110)], dtype=torch.float64)
        spot = torch.exp(-((xs - root[0]) ** 2 + (ys - root[1]) ** 2) / (2 * 2.5**2))
        image = spot.expand(1, 3, H, W).float()
        box = torch.tensor([[root[0] - rng.uniform(20, 60), root[1] - rng.uniform(20, 60), 100.0, 100.0]],
                           dtype=torch.float64)
        A = aug.affine[n : n + 1]
        crop = crop_boxes_affine(image, torch.tensor([0]), box, A, S)[0, 0].double()
        weight = torch.where(crop > 0.3 * crop.max(), crop, torch.zeros_like(crop))
        found = torch.stack([(weight.sum(0) * torch.arange(S)).sum(), (weight.sum(1) * torch.arange(S)).sum()])
        found = found / weight.sum()
        target = image_to_crop_grid(root[None], box, A, G)[0] * S / G  # crop pixels
        assert torch.allclose(found, target, atol=0.35), (n, found, target)
        assert root_inside(image_to_crop_grid(root[None], box, A, G), G).item() == 1.0


def test_k_follows_the_window_and_the_depth_target_stays():
    cfg = RootNetConfig.preset("smoke")
    cfg.backbone_checkpoint = None
    torch.manual_seed(0)
    method = RootNetMethod(cfg)
    images = torch.zeros(2, 3, 96, 96)
    boxes = torch.tensor([[20.0, 10.0, 60.0, 90.0], [5.0, 30.0, 40.0, 70.0]], dtype=torch.float64)
    K = torch.tensor([[120.0, 0, 48], [0, 118.0, 47], [0, 0, 1]], dtype=torch.float64).expand(2, 3, 3)
    aug = draw_augmentation(2, RootNetAugment(enabled=True, scale_factor=0.3), torch.Generator().manual_seed(5))
    with torch.no_grad():
        plain = method.net.localise(images, torch.arange(2), boxes, K, (96, 96))
        out = method.net.localise(images, torch.arange(2), boxes, K, (96, 96), augment=aug)
    assert torch.allclose(out["k"], plain["k"] / aug.scale, rtol=1e-12)  # area × s², rotation and flip: none
    # the root comes back through the augmented map: its pixel lies where the grid output says
    uv = crop_grid_to_image(out["xy"].double(), out["box"], out["affine"], method.net.grid_size)
    assert torch.allclose(out["root"], pixel_to_camera(uv, out["root"][:, 2], K), atol=1e-9)
    # a perfect output (target grid, depth = Z*) has zero loss
    root_cam = torch.tensor([[100.0, -50.0, 3000.0], [-200.0, 80.0, 4200.0]], dtype=torch.float64)
    root_2d = (K[:, :2, :2] @ (root_cam[:, :2] / root_cam[:, 2:])[..., None])[..., 0] + K[:, :2, 2]
    perfect = {**out, "xy": image_to_crop_grid(root_2d, out["box"], out["affine"], method.net.grid_size),
               "root": root_cam}
    losses = method.loss(perfect, root_cam, root_2d)
    assert float(losses["loss"]) == pytest.approx(0.0, abs=1e-9) and float(losses["root_in_crop"]) == 1.0


def test_draws_are_deterministic_and_as_configured():
    a = draw_augmentation(2000, RootNetAugment(), torch.Generator().manual_seed(0))
    b = draw_augmentation(2000, RootNetAugment(), torch.Generator().manual_seed(0))
    assert torch.equal(a.affine, b.affine) and torch.equal(a.colour, b.colour)
    assert 0.55 < float((a.rotation_deg != 0).double().mean()) < 0.65
    assert float(a.rotation_deg.abs().max()) <= 60.0 and 0.45 < float(a.flip.double().mean()) < 0.55
    assert float(a.colour.min()) >= 0.8 and float(a.colour.max()) <= 1.2 and torch.equal(a.scale, torch.ones(2000,
                                                                                          dtype=torch.float64))
    none = draw_augmentation(50, RootNetAugment(rotation_prob=0, flip_prob=0, color_factor=0),
                             torch.Generator().manual_seed(0))
    assert torch.equal(none.affine, torch.eye(2, dtype=torch.float64).expand(50, 2, 2))


def test_colour_jitter_scales_pixels_and_clips():
    from poseboard.datasets.torch_dataset import normalize_images

    pixels = torch.tensor([[[[0, 100, 250]], [[30, 128, 255]], [[200, 10, 60]]]], dtype=torch.uint8)
    crops = normalize_images(pixels)
    assert torch.allclose(jitter_colour(crops, torch.ones(1, 3)), crops, atol=1e-6)
    out = jitter_colour(crops, torch.tensor([[1.2, 0.8, 1.0]]))
    scaled = (pixels.double() * torch.tensor([1.2, 0.8, 1.0], dtype=torch.float64).reshape(1, 3, 1, 1)).clamp(0, 255)
    expected = normalize_images(scaled)
    assert torch.allclose(out, expected, atol=1e-5)


def test_rootnet_data_needs_no_real_loader_for_generated_splits():
    """Committed pipeline stages train on generated splits: the real loaders are imported only
    for a real dataset (the train stage's DVC deps list poseboard/methods, not the loaders)."""
    import subprocess

    code = ("import sys; import poseboard.methods.rootnet; "
            "print(any(m in sys.modules for m in ('poseboard.datasets.real.human36m', "
            "'poseboard.datasets.real.panoptic', 'poseboard.datasets.real.mupots')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


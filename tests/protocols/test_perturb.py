"""Calibration errors of the robustness protocols, checked against their definition."""

import numpy as np
import pytest
import torch

from poseboard.protocols.perturb import axis_angle_matrix, perturb_extrinsics
from poseboard.protocols.protocol import CalibrationNoise
from poseboard.protocols.registry import get_protocol


def _batch(cams: list, batch_size: int = 2) -> dict[str, torch.Tensor]:
    K = np.stack([c.K for c in cams])
    R = np.stack([c.R for c in cams])
    t = np.stack([c.t for c in cams])
    P = K @ np.concatenate([R, t[..., None]], -1)
    rep = lambda a: torch.from_numpy(np.repeat(a[None], batch_size, 0))  # noqa: E731
    return {"K": rep(K), "R": rep(R), "t": rep(t), "proj_matrices": rep(P).float()}


def _angle_deg(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    cos = (np.trace(Ra @ np.swapaxes(Rb, -1, -2), axis1=-2, axis2=-1) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_rodrigues_matches_an_independent_rotation():
    R = axis_angle_matrix(np.array([0.0, 0.0, 2.0]), np.pi / 2)
    np.testing.assert_allclose(R @ np.array([1.0, 0, 0]), [0, 1, 0], atol=1e-12)


def test_zero_noise_changes_nothing(rig):
    batch = _batch(rig)
    out = perturb_extrinsics(batch, CalibrationNoise(rotation_deg=0, translation_mm=0))
    for key in ("R", "t"):
        torch.testing.assert_close(out[key], batch[key])
    torch.testing.assert_close(out["proj_matrices"], batch["proj_matrices"], rtol=1e-5, atol=1e-3)


def test_each_camera_is_off_by_exactly_the_stated_error(rig):
    batch = _batch(rig)
    noise = CalibrationNoise(rotation_deg=2.0, translation_mm=50.0, seed=3)
    out = perturb_extrinsics(batch, noise)
    R0, t0 = batch["R"].numpy(), batch["t"].numpy()
    R1, t1 = out["R"].numpy(), out["t"].numpy()
    np.testing.assert_allclose(_angle_deg(R1, R0), 2.0, atol=1e-6)
    c0 = -np.einsum("bvji,bvj->bvi", R0, t0)
    c1 = -np.einsum("bvji,bvj->bvi", R1, t1)
    np.testing.assert_allclose(np.linalg.norm(c1 - c0, axis=-1), 50.0, atol=1e-6)
    # the same fixed error for every frame, different ones for different cameras
    np.testing.assert_allclose(R1[0], R1[1])
    assert not np.allclose(c1[0, 0] - c0[0, 0], c1[0, 1] - c0[0, 1])
    # the projection matrices agree with the perturbed R, t
    P = batch["K"].numpy() @ np.concatenate([R1, t1[..., None]], -1)
    np.testing.assert_allclose(out["proj_matrices"].numpy(), P, rtol=1e-5, atol=1e-2)
    # deterministic under the seed
    again = perturb_extrinsics(batch, noise)
    torch.testing.assert_close(again["R"], out["R"])


def test_inputs_without_extrinsics_pass_untouched(rig):
    batch = {"K": _batch(rig)["K"]}
    assert perturb_extrinsics(batch, CalibrationNoise(rotation_deg=1, translation_mm=1)) is batch


def test_noise_protocols_are_registered_and_consistent():
    p = get_protocol("synth-h36m-calibration-1@3")
    assert p.calibration_noise is not None and p.calibration_noise.rotation_deg == 1.0
    assert p.provides_extrinsics
    with pytest.raises(ValueError, match="provides_extrinsics"):
        p.model_validate(p.model_dump() | {"provides_extrinsics": False})


def test_the_calibration_sweep_protocol_validates_its_levels(tmp_path):
    p = get_protocol("synth-h36m-calibration@3")
    cal = p.calibration_sweep
    assert cal is not None and [lv.label for lv in cal.levels] == ["0deg-0mm", "0.5deg-10mm", "1deg-25mm", "3deg-75mm"]
    assert "calibration_sweep" not in get_protocol("synth-h36m-relative@3").model_dump()  # others keep their bytes
    data = p.model_dump()
    with pytest.raises(ValueError, match="increasing and unique"):
        p.model_validate(data | {"calibration_sweep": {"levels": [{"rotation_deg": 1, "translation_mm": 25},
                                                                  {"rotation_deg": 0.5, "translation_mm": 10}]}})
    with pytest.raises(ValueError, match="excludes calibration_noise and camera_sweep"):
        p.model_validate(data | {"calibration_noise": {"rotation_deg": 1, "translation_mm": 25}})
    with pytest.raises(ValueError, match="provides_extrinsics"):
        p.model_validate(data | {"provides_extrinsics": False})
    # the predictions file keeps the level of each row
    from poseboard.protocols.predictions import PosePredictions, load_pose_predictions, save_pose_predictions

    ids = np.array(["a", "b", "a", "b"])
    preds = PosePredictions(sample_ids=ids, joints_3d=np.zeros((4, 17, 3)), calibration_level=np.array([0, 0, 1, 1]))
    save_pose_predictions(tmp_path / "p.npz", preds)
    back = load_pose_predictions(tmp_path / "p.npz")
    assert back.calibration_level is not None and back.calibration_level.tolist() == [0, 0, 1, 1]

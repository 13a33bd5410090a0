"""The protocols of a studio split, built in memory (a protocol is data: nothing is registered).

Two protocols score the user's split as the board scores the in-distribution test, with every
camera of the user's rig: calibrated methods under :data:`CALIBRATED` (the copy of
``synth-h36m-relative@3``), methods that take no extrinsics under :data:`UNCALIBRATED` (the copy of
``synth-h36m-uncalibrated@3``: intrinsics only, scored in the first camera's frame). With
``--cameras K`` each also gets a camera sweep (sizes 1..K, ``subsets`` seeded random subsets of
each size, as ``synth-panoptic-sweep``): the "how many views are enough" question. The
uncalibrated sweep's subsets all hold the first camera, listed first (its methods predict in
their subset's first camera's frame, the frame it is scored in:
:func:`poseboard.harness.multiview_pose.camera_subsets`).
"""

from __future__ import annotations

from dataclasses import dataclass

from poseboard.errors import InputError
from poseboard.protocols.protocol import CameraSweep, ProtocolDef
from poseboard.report.generalization import IN_DISTRIBUTION, UNCALIBRATED_IN_DISTRIBUTION

CALIBRATED = "studio-relative"
UNCALIBRATED = "studio-uncalibrated"
#: A studio protocol's name → the board's protocol its change and rank agreement are measured against.
BOARD_PROTOCOL: dict[str, str] = {CALIBRATED: IN_DISTRIBUTION, UNCALIBRATED: UNCALIBRATED_IN_DISTRIBUTION}
#: The studio's rendered split is filed as this dataset (``<out>/data/synth-h36m/test``): it is the
#: in-distribution test's design (its people, motion and looks) filmed by the user's cameras.
DATASET = "synth-h36m"


@dataclass(frozen=True)
class StudioProtocols:
    """The protocols of one studio run: ``main`` (name → protocol, every camera) and
    ``sweeps`` (name → its camera sweep; empty without ``--cameras``)."""

    main: dict[str, ProtocolDef]
    sweeps: dict[str, ProtocolDef]


def _common(rig_label: str, num_cameras: int) -> dict:
    return {"version": 1, "task": "multiview_pose", "dataset": DATASET, "split": "test",
            "cameras": list(range(num_cameras)), "alignment": "root", "headline": "mpjpe", "weighting": "frame",
            "description": f"The synth-h36m test design (its subjects, actions, motion, clothes and rooms) filmed by "
                           f"the user's rig {rig_label} ({num_cameras} cameras), the capture area placed where the "
                           "cameras look. Relative MPJPE: the pelvis subtracted from both, all 17 joints, "
                           "frame-weighted."}


def studio_protocols(rig_label: str, num_cameras: int, sweep_up_to: int | None = None,
                     subsets_per_size: int = 3, seed: int = 0) -> StudioProtocols:
    """The studio's protocols for a rig of ``num_cameras`` cameras (``rig_label``: its file name,
    for the descriptions); ``sweep_up_to``: the largest subset size of the camera sweeps (None:
    no sweep)."""
    if num_cameras < 2:
        raise InputError(f"rig {rig_label}: {num_cameras} camera(s); the multi-view methods need at least 2")
    base = _common(rig_label, num_cameras)
    calibrated = ProtocolDef.model_validate(base | {
        "name": CALIBRATED, "title": f"Your studio ({num_cameras} cameras), MPJPE relative to the pelvis",
        "metrics": ["mpjpe", "pa_mpjpe", "n_mpjpe", "pck3d", "auc_pck"]})
    uncalibrated = ProtocolDef.model_validate(base | {
        "name": UNCALIBRATED, "title": f"Your studio ({num_cameras} cameras), no extrinsics",
        "description": base["description"] + " Methods receive intrinsics only; scored in the first camera's frame.",
        "provides_extrinsics": False, "evaluation_frame": "reference_camera",
        "accepted_output_frames": ["reference_camera", "world"], "metrics": ["mpjpe", "pa_mpjpe", "n_mpjpe"]})
    main = {CALIBRATED: calibrated, UNCALIBRATED: uncalibrated}
    sweeps: dict[str, ProtocolDef] = {}
    if sweep_up_to is not None:
        if not 1 <= sweep_up_to <= num_cameras:
            raise InputError(f"--cameras {sweep_up_to}: the rig {rig_label} has {num_cameras} cameras; give 1 to "
                             f"{num_cameras}")
        sweep = CameraSweep(sizes=tuple(range(1, sweep_up_to + 1)), subsets_per_size=subsets_per_size, seed=seed)
        # the uncalibrated sweep draws only subsets holding camera 0, its frame (harness camera_subsets)
        for name, proto in main.items():
            sweeps[name] = proto.model_copy(update={
                "name": f"{name}-sweep", "cameras": None, "camera_sweep": sweep, "metrics": ("mpjpe", "pa_mpjpe"),
                "title": proto.title + f": MPJPE versus number of cameras (1 to {sweep_up_to})"})
            ProtocolDef.model_validate(sweeps[name].model_dump())  # the copy is a valid protocol
    return StudioProtocols(main, sweeps)


#: Appended to a studio protocol's name for its in-view copy (:func:`in_view`).
IN_VIEW = "-in-view"


def in_view(protocol: ProtocolDef) -> ProtocolDef:
    """The copy of a studio protocol that scores only the frames every camera sees whole (every
    joint inside every image: :mod:`poseboard.studio.in_view`), named ``<name>-in-view``."""
    copy = protocol.model_copy(update={
        "name": protocol.name + IN_VIEW, "title": protocol.title + ", in-view frames only",
        "description": protocol.description + " Scored on the frames in which every joint projects inside every "
                                              "camera's image only."})
    return ProtocolDef.model_validate(copy.model_dump())

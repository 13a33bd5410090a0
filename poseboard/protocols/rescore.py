"""Score an evaluation's saved predictions under another protocol with the same inputs.

Relative and absolute MPJPE, or AP_root at 10, 15, 20 and 25 cm, are different scorings
of the *same* predictions: the protocols hand the method the same frames, cameras and
extrinsics and differ only in alignment, metrics or thresholds. Running the method once per
protocol repeats minutes of inference for nothing, so such a protocol is scored from the
``.npz`` another protocol's run wrote (the ``score@<method>-<protocol>`` stages). The result
file is what running the method again would write, plus a note naming the predictions it
was scored from; :func:`input_differences` refuses a pair whose inputs differ. Scoring
itself needs the data, so it is the harness's (:func:`poseboard.harness.rescore.rescore`).
"""

from __future__ import annotations

from poseboard.protocols.protocol import ProtocolDef
from poseboard.protocols.results import Result

#: Protocol fields that decide what a method is given (which frames, views, cameras and
#: boxes): two protocols whose fields agree here receive identical inputs.
INPUT_FIELDS: tuple[str, ...] = (
    "task", "dataset", "split", "cameras", "camera_sweep", "frame_stride", "skip_sequences",
    "provides_extrinsics", "calibration_noise", "calibration_sweep", "person_boxes",
)

#: The note a rescored result carries; :func:`rescored_from` reads it back.
NOTE_PREFIX = "scored from the predictions of "


def input_differences(source: ProtocolDef, target: ProtocolDef) -> list[str]:
    """The :data:`INPUT_FIELDS` on which two protocols differ, as ``field: a != b`` lines
    (empty: the target can be scored from the source's predictions)."""
    diffs = []
    for name in INPUT_FIELDS:
        a, b = getattr(source, name), getattr(target, name)
        if a != b:
            diffs.append(f"{name}: {a!r} != {b!r}")
    return diffs


def rescored_from(result: Result) -> str | None:
    """The protocol id whose predictions ``result`` was scored from (None: its own run)."""
    for note in result.notes:
        if note.startswith(NOTE_PREFIX):
            return note.removeprefix(NOTE_PREFIX).split(" ", 1)[0]
    return None

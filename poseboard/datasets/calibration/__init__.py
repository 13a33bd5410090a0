"""Calibration import: OpenCV FileStorage, anipose, CMU Panoptic, EasyMocap and
Human3.6M-style files → poseboard cameras (docs/studio_import.md).

``import_rig(path, fmt=None, units=None, up=None) -> ImportedRig`` is the one entry point; each
format has its own module (``opencv``, ``anipose``, ``panoptic``, ``easymocap``, ``human36m``).
"""

from poseboard.datasets.calibration.common import CalibrationError
from poseboard.datasets.calibration.rig_import import FORMATS, ImportedRig, detect_format, import_rig

__all__ = ["FORMATS", "CalibrationError", "ImportedRig", "detect_format", "import_rig"]

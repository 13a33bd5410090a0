"""The terms of the board's motion capture, in a module of its own so that what states them (the
report, its tables) reads them without importing the BVH importer.

The Bandai Namco Research Motion datasets 1 and 2 (:mod:`.bandai`) are under CC BY-NC 4.0: the
motion library, the worlds it drives, every checkpoint trained on them and the results those
checkpoints give inherit the attribution and the non-commercial terms (docs/motion_library.md).
"""

from __future__ import annotations

UPSTREAM_REPOSITORY = "BandaiNamcoResearchInc/Bandai-Namco-Research-Motiondataset"
UPSTREAM_COMMIT = "74ead3ba1ae4696404e6086233779f60de8bf9ef"
UPSTREAM_URL = f"https://github.com/{UPSTREAM_REPOSITORY}"
LICENCE = "CC BY-NC 4.0"
ATTRIBUTION = ("Bandai Namco Research Motion datasets 1 and 2, (c) Bandai Namco Research Inc., CC BY-NC 4.0 "
               f"({UPSTREAM_URL}): non-commercial use only; anything derived from this motion (the motion library, "
               "weights trained on worlds it drives, their results) carries the same terms and attribution")

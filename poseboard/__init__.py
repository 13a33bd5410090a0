"""poseboard: a reproducible benchmark suite and leaderboard for 3D human pose estimation.

Importing the package is cheap: torch, mlflow and the methods load on first use.
"""

__version__ = "0.1.0"

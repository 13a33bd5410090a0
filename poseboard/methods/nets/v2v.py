"""The V2V 3D encoder–decoder of the volumetric method (Moon et al.'s V2V-PoseNet as used by
learnable triangulation, ``mvn/models/v2v.py``), with its depth and widths configurable.

Shape: front [Basic3D(cin → front, k) + Res3D(front → base) + Res3D(base, base)], an
hourglass of ``len(levels)`` levels (max-pool ×2, Res3D to the level's width; a Res3D on
every skip; at the bottom a Res3D; back up with Res3D + ConvTranspose3d(k2, s2) + BN + ReLU
and additive skips), back [Res3D(base, base), 2 × Basic3D(base, base, 1)] and a 1×1×1
convolution to the output channels (``full_res_blocks`` Res3D in the front: 3 in the
reference, fewer where full-resolution 3D convolutions are too slow). The reference (64³
volumes) has front 16, base 32 and levels (64, 128, 128, 128, 128): :meth:`V2VConfig.preset`
``"paper"``.

Example:
    >>> import torch
    >>> net = V2VNet(8, 17, V2VConfig(front=8, base=8, levels=(8, 16), front_kernel=3))
    >>> tuple(net(torch.zeros(1, 8, 8, 8, 8)).shape)
    (1, 17, 8, 8, 8)
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor, nn

from poseboard.errors import InputError


class V2VConfig(BaseModel):
    """Widths of the V2V network."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    front: int = Field(16, ge=1, description="channels of the first (k×k×k) convolution")
    base: int = Field(32, ge=1, description="channels at full resolution")
    levels: tuple[int, ...] = Field((64, 128, 128, 128), min_length=1, description="widths of the pooled levels")
    front_kernel: int = Field(7, ge=1, description="kernel of the first convolution (odd)")
    full_res_blocks: int = Field(3, ge=1, description="Res3D blocks of the front, at full resolution")
    channels_last: bool = Field(True, description="channels-last 3D memory format (2-3× faster on CPUs)")
    back_width: int | None = Field(None, ge=1, description="channels of the two 1×1×1 layers before the output "
                                                      "(None: base); ≥ J lifts the rank limit of a narrow base")
    zero_init_output: bool = Field(False, description="start the output convolution at zero (uniform volumes)")

    @model_validator(mode="after")
    def _odd(self) -> V2VConfig:
        if self.front_kernel % 2 == 0:
            raise ValueError("front_kernel must be odd")
        return self

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> V2VConfig:
        presets: dict[str, dict[str, Any]] = {
            "smoke": {"front": 8, "base": 8, "levels": (16, 16), "front_kernel": 3, "full_res_blocks": 1},
            "default": {"front": 8, "base": 8, "levels": (16, 32, 64), "front_kernel": 3, "full_res_blocks": 1},
            "paper": {"front": 16, "base": 32, "levels": (64, 128, 128, 128, 128), "front_kernel": 7,
                      "full_res_blocks": 3},
        }
        if name not in presets:
            raise InputError(f"unknown V2V preset {name!r}; choose one of {sorted(presets)}")
        return cls.model_validate({**presets[name], **overrides})


class Basic3D(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__(nn.Conv3d(cin, cout, kernel, padding=(kernel - 1) // 2), nn.BatchNorm3d(cout),
                         nn.ReLU(inplace=True))


class Res3D(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(cin, cout, 3, padding=1), nn.BatchNorm3d(cout), nn.ReLU(inplace=True),
            nn.Conv3d(cout, cout, 3, padding=1), nn.BatchNorm3d(cout),
        )
        self.skip = (nn.Identity() if cin == cout
                     else nn.Sequential(nn.Conv3d(cin, cout, 1), nn.BatchNorm3d(cout)))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + self.skip(x))


class Upsample3D(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.ConvTranspose3d(cin, cout, 2, 2), nn.BatchNorm3d(cout), nn.ReLU(inplace=True))


class _Hourglass(nn.Module):
    """One level: skip branch + (pool, down, inner, up) with an additive merge."""

    def __init__(self, cin: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        width = widths[0]
        self.skip = Res3D(cin, cin)
        self.pool = nn.MaxPool3d(2)
        self.down = Res3D(cin, width)
        self.inner: nn.Module = _Hourglass(width, widths[1:]) if len(widths) > 1 else Res3D(width, width)
        self.up_res = Res3D(width, width)
        self.up = Upsample3D(width, cin)

    def forward(self, x: Tensor) -> Tensor:
        y = self.up(self.up_res(self.inner(self.down(self.pool(x)))))
        return y + self.skip(x)


class V2VNet(nn.Module):
    """(N, cin, D, H, W) → (N, cout, D, H, W); D, H, W divisible by 2**len(levels)."""

    def __init__(self, cin: int, cout: int, config: V2VConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or V2VConfig()
        self.front = nn.Sequential(Basic3D(cin, c.front, c.front_kernel), Res3D(c.front, c.base),
                                   *[Res3D(c.base, c.base) for _ in range(c.full_res_blocks - 1)])
        self.hourglass = _Hourglass(c.base, c.levels)
        wb = c.back_width or c.base
        self.back = nn.Sequential(Res3D(c.base, c.base), Basic3D(c.base, wb, 1), Basic3D(wb, wb, 1))
        self.output = nn.Conv3d(wb, cout, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d)):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
        if c.zero_init_output:
            nn.init.zeros_(self.output.weight)
        if c.channels_last:
            self.to(memory_format=torch.channels_last_3d)

    def forward(self, x: Tensor) -> Tensor:
        factor = 2 ** len(self.config.levels)
        if any(s % factor for s in x.shape[-3:]):
            raise InputError(f"V2V: volume size {tuple(x.shape[-3:])} must be divisible by {factor}")
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        return self.output(self.back(self.hourglass(self.front(x)))).contiguous()

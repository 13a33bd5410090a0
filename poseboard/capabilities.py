"""What a method needs and produces, in the vocabulary both sides share: methods declare
their :class:`Capabilities` (``poseboard.methods.base``), protocols check them before a
method runs (``ProtocolDef.check_method``), and result files record them. It sits below
both, so neither imports the other."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Capabilities", "OutputFrame"]

OutputFrame = Literal["world", "reference_camera", "camera"]


class Capabilities(BaseModel):
    """What a method needs and what it produces; protocols check these before running it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    needs_intrinsics: bool
    needs_extrinsics: bool
    multi_view: bool = Field(description="consumes several synchronised views of one instant")
    min_views: int = Field(ge=1)
    max_views: int | None = Field(description="None: any number of views")
    multi_person: bool
    output_frame: OutputFrame
    outputs: tuple[Literal["joints_3d", "root"], ...]
    trainable: bool

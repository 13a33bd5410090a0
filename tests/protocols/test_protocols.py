"""Protocol records: every built-in definition validates; capability checks refuse misfits."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from poseboard.errors import CapabilityError, ResultFileError
from poseboard.methods.base import Capabilities
from poseboard.protocols.protocol import ProtocolDef
from poseboard.protocols.registry import UnknownProtocolError, all_protocols, get_protocol, load_protocol_file

CALIBRATED = Capabilities(
    needs_intrinsics=True, needs_extrinsics=True, multi_view=True, min_views=2, max_views=None,
    multi_person=False, output_frame="world", outputs=("joints_3d",), trainable=True,
)
ANY_VIEWS = CALIBRATED.model_copy(update={"min_views": 1})
UNCALIBRATED = CALIBRATED.model_copy(update={"needs_extrinsics": False, "output_frame": "reference_camera"})
ROOT = Capabilities(
    needs_intrinsics=True, needs_extrinsics=False, multi_view=False, min_views=1, max_views=1,
    multi_person=True, output_frame="camera", outputs=("root",), trainable=True,
)


@pytest.mark.parametrize("key", sorted(all_protocols()))
def test_every_builtin_protocol_is_consistent(key):
    p = get_protocol(key)
    assert p.id == key
    assert p.headline in p.metrics
    assert p.evaluation_frame in p.accepted_output_frames
    for anchor in p.paper:
        assert anchor.value > 0 and anchor.source


def test_lookup_by_name_and_version():
    assert get_protocol("synth-h36m-relative").id == "synth-h36m-relative@3"
    with pytest.raises(UnknownProtocolError, match="did you mean"):
        get_protocol("synth-h36m-relativ")
    with pytest.raises(UnknownProtocolError, match="no version 9"):
        get_protocol("synth-h36m-relative@9")


def test_capability_checks():
    rel = get_protocol("synth-h36m-relative")
    assert rel.check_method("alg", CALIBRATED) == (4,)
    with pytest.raises(CapabilityError, match="outputs"):
        rel.check_method("rootnet", ROOT)
    single = get_protocol("synth-h36m-single-view")
    with pytest.raises(CapabilityError, match=r"gives \[1\] view"):
        single.check_method("alg", CALIBRATED)
    assert single.check_method("vol", ANY_VIEWS) == (1,)
    uncal = get_protocol("synth-h36m-uncalibrated")
    with pytest.raises(CapabilityError, match="needs camera extrinsics"):
        uncal.check_method("alg", CALIBRATED)
    assert uncal.check_method("pt", UNCALIBRATED) == (4,)
    with pytest.raises(CapabilityError, match="reference_camera"):
        rel.check_method("pt", UNCALIBRATED)
    sweep = get_protocol("synth-panoptic-sweep")
    assert sweep.check_method("alg", CALIBRATED)[0] == 2  # a 2-view method skips the 1-camera point
    assert sweep.check_method("vol", ANY_VIEWS)[0] == 1
    root = get_protocol("synth-mupots-root")
    assert root.check_method("rootnet", ROOT) == (1,)
    with pytest.raises(CapabilityError, match="single-person"):
        root.check_method("x", ROOT.model_copy(update={"multi_person": False}))


def test_bad_definitions_are_rejected(tmp_path):
    base = get_protocol("synth-h36m-relative").model_dump()
    with pytest.raises(ValidationError, match="headline"):
        ProtocolDef.model_validate({**base, "headline": "mrpe"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        ProtocolDef.model_validate({**base, "weigthing": "frame"})
    with pytest.raises(ValidationError, match="weighting"):
        ProtocolDef.model_validate({**base, "weighting": "sequence"})
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nversion: 1\n")
    with pytest.raises(ResultFileError, match=r"bad\.yaml: field 'title'"):
        load_protocol_file(path)


def test_user_protocol_folder(tmp_path, monkeypatch):
    import yaml

    base = get_protocol("synth-h36m-relative").model_dump(mode="json")
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({**base, "name": "my-protocol", "cameras": [0, 2]}))
    monkeypatch.setenv("POSEBOARD_PROTOCOLS_DIR", str(tmp_path))
    assert get_protocol("my-protocol").cameras == (0, 2)

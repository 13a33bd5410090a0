"""Method registry: lazy import, duplicates, unknown names, entry points, save/load."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint

import numpy as np
import pytest
import torch
from pydantic import BaseModel, ConfigDict

from poseboard.errors import ResultFileError
from poseboard.methods import registry as registry_module
from poseboard.methods.base import Capabilities, Method, MethodCard
from poseboard.methods.registry import MethodRegistry, RegistryError
from poseboard.samples import Prediction


class _ScaleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = 1.0


class ScaleMethod(Method):
    """A toy method: predicts a learned scalar times a fixed template (used only in tests)."""

    name = "toy-scale"
    card = MethodCard(title="toy", paper=None, url=None, code_url=None, bibtex=None, description="test")
    capabilities = Capabilities(
        needs_intrinsics=True, needs_extrinsics=True, multi_view=True, min_views=2, max_views=None,
        multi_person=False, output_frame="world", outputs=("joints_3d",), trainable=True,
    )
    config_model = _ScaleConfig

    def __init__(self, config=None):
        super().__init__(config)
        self.weight = torch.tensor([self.config.scale])

    def fit(self, train, val, tracker=None, workdir=None):
        self.weight = torch.tensor([2.0])

    def predict(self, batch):
        return Prediction(joints_3d=self.weight * torch.ones(len(batch), 17, 3))

    def state_dict(self):
        return {"weight": self.weight}

    def load_state_dict(self, state):
        self.weight = state["weight"]


def test_lazy_import_and_lookup(monkeypatch):
    module = types.ModuleType("poseboard_test_fake_methods")
    module.ScaleMethod = ScaleMethod
    reg = MethodRegistry({"toy-scale": "poseboard_test_fake_methods:ScaleMethod"}, discover_entry_points=False)
    assert reg.names() == ["toy-scale"]
    assert "poseboard_test_fake_methods" not in sys.modules  # listing imports nothing
    monkeypatch.setitem(sys.modules, "poseboard_test_fake_methods", module)
    assert reg.get("toy-scale") is ScaleMethod


def test_unknown_name_suggests_close_matches():
    reg = MethodRegistry({"algebraic": "x:Y", "volumetric": "x:Z"}, discover_entry_points=False)
    with pytest.raises(RegistryError, match="did you mean 'algebraic'"):
        reg.get("algebriac")


def test_duplicates_and_bad_targets_are_errors():
    reg = MethodRegistry({"toy-scale": "x:Y"}, discover_entry_points=False)
    with pytest.raises(RegistryError, match="registered twice"):
        reg.register("toy-scale", ScaleMethod)
    with pytest.raises(RegistryError, match="module:Class"):
        reg.register("other", "no_colon")
    reg.register("broken", "poseboard_no_such_module:Thing")
    with pytest.raises(RegistryError, match="cannot be imported"):
        reg.get("broken")
    with pytest.raises(RegistryError, match="declares name"):
        reg.register("wrong-name", ScaleMethod)
    with pytest.raises(RegistryError, match="not a subclass"):
        reg.register("not-a-method", dict)  # type: ignore[arg-type]


def test_entry_points_are_discovered(monkeypatch):
    module = types.ModuleType("poseboard_test_plugin")
    module.ScaleMethod = ScaleMethod
    monkeypatch.setitem(sys.modules, "poseboard_test_plugin", module)
    ep = EntryPoint(name="toy-scale", value="poseboard_test_plugin:ScaleMethod", group="poseboard.methods")
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [ep] if group == "poseboard.methods" else [])
    reg = MethodRegistry({}, discover_entry_points=True)
    assert reg.names() == ["toy-scale"]
    assert reg.get("toy-scale") is ScaleMethod


def test_builtin_registry_imports_every_method():
    for name in registry_module.REGISTRY.names():
        cls = registry_module.REGISTRY.get(name)
        assert cls.name == name
        assert isinstance(cls.capabilities, Capabilities)


def test_config_is_validated():
    with pytest.raises(ValueError, match="scael"):
        ScaleMethod({"scael": 3.0})


def test_save_load_round_trip_without_pickle(tmp_path):
    method = ScaleMethod({"scale": 3.0})
    method.fit(None, None)
    method.save(tmp_path)
    loaded = ScaleMethod.load(tmp_path)
    assert loaded.config.scale == 3.0
    np.testing.assert_array_equal(loaded.predict([0]).joints_3d.numpy(), method.predict([0]).joints_3d.numpy())
    (tmp_path / "config.json").write_text('{"method": "other"}')
    with pytest.raises(ResultFileError, match="holds method 'other'"):
        ScaleMethod.load(tmp_path)


@pytest.mark.parametrize("content, expected", [
    (b"this is text, not a checkpoint\n", r"not a readable toy-scale weights file \(expected torch.save"),
    (None, r"not a readable toy-scale weights file"),  # truncated: the first half of a real file
])
def test_a_garbage_or_truncated_checkpoint_names_the_file_and_what_was_expected(tmp_path, content, expected):
    method = ScaleMethod({"scale": 3.0})
    method.fit(None, None)
    method.save(tmp_path)
    weights = tmp_path / "weights.pt"
    data = weights.read_bytes()
    weights.write_bytes(content if content is not None else data[: len(data) // 2])
    with pytest.raises(ResultFileError, match=expected) as info:
        ScaleMethod.load(tmp_path)
    assert str(weights) in str(info.value)
    assert "Check the documentation of torch.load" not in str(info.value)  # torch's tutorial text stays out


def test_weights_of_another_method_are_refused_naming_the_files(tmp_path):
    import torch

    method = ScaleMethod({"scale": 3.0})
    method.fit(None, None)
    method.save(tmp_path)
    torch.save({"backbone.conv1.weight": torch.zeros(2)}, tmp_path / "weights.pt")  # another method's keys
    with pytest.raises(ResultFileError, match=r"weights.pt: does not fit a toy-scale built from .*config.json"):
        ScaleMethod.load(tmp_path)

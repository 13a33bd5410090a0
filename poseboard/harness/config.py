"""Method configurations from a profile: a config model's ``preset(profile)`` with the
``params.yaml`` block (``--config params.yaml --config-key methods.<name>.<profile>``)
merged over it and the seed applied: what ``poseboard train`` and the harness build a
method from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["build_config", "deep_merge", "read_override"]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in, recursively for nested mappings."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_override(path: Path | None, key: str | None) -> dict[str, Any]:
    """The mapping at dotted ``key`` of a YAML/JSON file (the whole file if ``key`` is None)."""
    from poseboard.errors import InputError

    if path is None:
        if key is not None:
            raise InputError("--config-key needs --config")
        return {}
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise InputError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML/JSON ({exc})") from None
    for part in (key.split(".") if key else []):
        if not isinstance(data, dict) or part not in data:
            raise InputError(f"{path}: no key {key!r} (stopped at {part!r})")
        data = data[part]
    if not isinstance(data, dict):
        raise InputError(f"{path}: {key or '(root)'} is not a mapping")
    return data


def build_config(model: Any, profile: str, path: Path | None = None, key: str | None = None,
                 seed: int | None = None) -> Any:
    """``model.preset(profile)`` with the file override merged in and the seed applied."""
    from pydantic import ValidationError

    from poseboard.errors import InputError, validation_message

    base = model.preset(profile).model_dump()
    merged = deep_merge(base, read_override(path, key))
    if seed is not None:
        if "train" in merged and isinstance(merged["train"], dict):
            merged["train"]["seed"] = seed
        if "seed" in merged:
            merged["seed"] = seed
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        raise InputError(f"{path or 'config'}{'/' + key if key else ''}: {validation_message(exc)}") from None

"""A TrainConfig as JSON and back.

Fields a file lacks take today's defaults (a project written before a
setting existed); a field this version does not know, or a value of the
wrong type, is refused with the file and the field named.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from tlstudio.core.config import AugmentConfig, TrainConfig
from tlstudio.core.project.layout import ProjectError

_NUMBER = (int, float)


def config_to_dict(config: TrainConfig) -> dict:
    data = dataclasses.asdict(config)
    if data["weights_file"] is not None:
        data["weights_file"] = str(data["weights_file"])
    return data


def _checked(cls, data, source: Path, prefix: str = "") -> dict:
    if not isinstance(data, dict):
        raise ProjectError(f"{source}: {prefix.rstrip('.') or 'the config'} is not a JSON object")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ProjectError(f"{source}: unknown setting {prefix}{unknown[0]} (written by a newer TL Studio?)")
    default = cls()
    for name, value in data.items():
        expected = getattr(default, name)
        if value is None or isinstance(expected, (AugmentConfig, Path)) or name == "weights_file":
            continue
        if isinstance(expected, bool) or isinstance(value, bool):
            ok = isinstance(value, bool) and (isinstance(expected, bool) or expected is None)
        elif isinstance(expected, int):
            ok = isinstance(value, int)
        elif expected is None or isinstance(expected, float):
            ok = isinstance(value, _NUMBER)
        else:
            ok = isinstance(value, type(expected))
        if not ok:
            raise ProjectError(f"{source}: setting {prefix}{name} has the wrong type ({value!r})")
    return data


def config_from_dict(data, source: Path) -> TrainConfig:
    data = dict(_checked(TrainConfig, data, source))
    if "augment" in data:
        data["augment"] = AugmentConfig(**_checked(AugmentConfig, data["augment"], source, "augment."))
    if data.get("weights_file") is not None:
        data["weights_file"] = Path(data["weights_file"])
    return TrainConfig(**data)


def flat_settings(config: TrainConfig) -> dict:
    """Every setting under one dotted name ("augment.size"), for listing runs side by side."""
    out = {}
    for name, value in config_to_dict(config).items():
        if isinstance(value, dict):
            out.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            out[name] = value
    return out

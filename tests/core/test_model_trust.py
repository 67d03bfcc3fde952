"""A pickle runs code when it is loaded: only files this app exported on this
machine, or files the user says they trust, are ever unpickled. A sidecar
next to the file, which the sender can forge, decides nothing."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tlstudio.core.delivery.export import FORMAT, UntrustedModelError, load_model, sha256_file, sidecar_path
from tlstudio.core.delivery.trusted_files import exported_here, record_path, remember_export

REPO = Path(__file__).resolve().parents[2]


class Payload:
    """Unpickling this creates `marker`: proof that the file's code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def booby_trapped_model(folder: Path) -> tuple[Path, Path]:
    """A fastai-style pickle carrying a payload, beside a sidecar forged to
    look like TL Studio's own, sha256 and all."""
    import torch

    marker = folder / "payload-ran"
    model = folder / "model.pkl"
    torch.save({"learner": Payload(marker)}, model)
    sidecar = {"format": FORMAT, "format_version": 1, "classes": ["a", "b"], "sha256": sha256_file(model)}
    sidecar_path(model).write_text(json.dumps(sidecar), encoding="utf-8")
    return model, marker


def test_the_payload_really_runs_when_unpickled(tmp_path):
    """Guards the test itself: without the trust check this file does run code."""
    import torch

    model, marker = booby_trapped_model(tmp_path)
    torch.load(model, weights_only=False)
    assert marker.exists()


def test_a_forged_sidecar_does_not_make_a_pickle_trusted(tmp_path):
    model, marker = booby_trapped_model(tmp_path)
    with pytest.raises(UntrustedModelError, match=r"model\.pkl: was not exported by TL Studio on this machine"):
        load_model(model)
    assert not marker.exists()


def test_predict_on_a_booby_trapped_pickle_runs_nothing_without_trust(tmp_path):
    model, marker = booby_trapped_model(tmp_path)
    image = REPO / "resources" / "demo"
    image = next(p for p in sorted(image.rglob("*.png")))
    done = subprocess.run(
        [sys.executable, "-m", "tlstudio", "predict", str(model), str(image)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert done.returncode != 0
    assert "was not exported by TL Studio on this machine" in done.stderr and "--trust" in done.stderr
    assert not marker.exists()


def test_trust_is_an_explicit_choice_and_then_the_file_is_opened(tmp_path):
    model, marker = booby_trapped_model(tmp_path)
    with pytest.raises(Exception, match="not a fastai model|not a TL Studio or fastai model"):
        load_model(model, trust=True)
    assert marker.exists(), "with trust the file is unpickled, as the user asked"


def test_the_record_lives_in_the_data_folder_and_names_only_what_was_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_DATA_DIR", str(tmp_path / "data"))
    digest = "ab" * 32
    assert not exported_here(digest)
    remember_export(digest, tmp_path / "odd\tname\n.pkl")
    remember_export("cd" * 32, tmp_path / "other.pkl")
    assert record_path().parent == tmp_path / "data"
    assert exported_here(digest) and exported_here("cd" * 32)
    assert not exported_here("ab" * 31) and not exported_here("")
    assert len(record_path().read_text().splitlines()) == 2, "a name with a newline cannot forge a line"


def test_a_torchscript_file_from_elsewhere_needs_trust_too(tmp_path):
    import torch

    model = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(model))
    sidecar = {"format": FORMAT, "classes": ["a", "b"], "sha256": sha256_file(model)}
    Path(f"{model}.json").write_text(json.dumps(sidecar), encoding="utf-8")
    with pytest.raises(UntrustedModelError, match=r"model\.pt: was not exported by TL Studio on this machine"):
        load_model(model)
    try:
        load_model(model, trust=True)
    except UntrustedModelError:  # pragma: no cover - the failure this test exists to catch
        pytest.fail("trust=True must open a TorchScript file")
    except Exception:
        pass  # this bare Linear has no preprocessing to predict with; trust was granted, which is the point

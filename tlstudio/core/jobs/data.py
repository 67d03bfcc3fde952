"""Jobs on the data and the weights before training: the doctor, fetching and importing weights."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tlstudio.core.dataset.spec import DatasetSpec


@dataclass(frozen=True)
class DoctorJob:
    """`run_doctor`: its findings stream as events, the whole report comes back."""

    spec: DatasetSpec
    config: object = None  # doctor.DoctorConfig

    def __call__(self, reporter):
        from tlstudio.core.doctor import run_doctor

        return run_doctor(self.spec, reporter, self.config)


@dataclass(frozen=True)
class DownloadWeightsJob:
    """Fetch `arch`'s pretrained weights, or fail with one sentence saying why and what to do."""

    arch: str

    def __call__(self, reporter) -> Path:
        from tlstudio.core.models.weights import WeightsUnavailable, download_url, download_weights

        try:
            return download_weights(self.arch, reporter=reporter)
        except OSError as exc:
            raise WeightsUnavailable(
                f"Could not download the {self.arch} weights: this machine looks offline or cannot reach "
                f"{download_url(self.arch).split('/')[2]} ({exc}). Use “Import weights file…” with a .pth "
                f"file copied from a machine that has it."
            ) from None


@dataclass(frozen=True)
class ImportWeightsJob:
    """Check a weights file against `arch` and copy it where training finds it."""

    arch: str
    path: str

    def __call__(self, reporter) -> Path:
        from tlstudio.core.models.weights import import_weights_file

        return import_weights_file(self.arch, self.path)

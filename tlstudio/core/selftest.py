"""`tlstudio --selftest`: prove an installation works end to end, offline, in under a minute.

It does what a first session in the window does, with the same jobs and the same engine
process (`jobs.host.EngineHost`, spawned as the window spawns it): scan the bundled demo
dataset, train mobilenet_v2 for one tiny epoch on the offline pretrained weights, export a
`.tlsmodel` and an ONNX file (each reloaded in a fresh process and compared by the export
itself), then load both files back in the engine and predict with them. An installed
(frozen) app that lacks a module, a data file or a working engine process fails here, with one
line saying which step broke.

Everything it writes goes to a temporary folder, the app's data folder and torch's hub cache
included (set for the engine process through its environment), so it leaves nothing behind
and the weights can only come from the offline package the app ships.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from tlstudio.core.config import AugmentConfig, TrainConfig
from tlstudio.core.errors import UserFacingError

ARCH = "mobilenet_v2"
SIZE = 64  # px: the smallest size that still trains meaningfully, and fast on any CPU
PER_CLASS = {"train": 6, "valid": 2}  # images taken from each class of the demo set


class SelfTestFailed(UserFacingError):
    """One step of the self-test did not do what it should; the message names the step."""


@dataclass(frozen=True)
class SelfTestResult:
    passed: bool
    line: str  # the one line printed for the user
    seconds: float


def run_selftest(demo: Path | None = None) -> SelfTestResult:
    """Run every step; never raises for a failure inside a step (the result names the step)."""
    from tlstudio.core.app_dirs import resources_dir

    started = time.perf_counter()
    demo = Path(demo) if demo is not None else resources_dir() / "demo"
    step = _Step()
    try:
        with tempfile.TemporaryDirectory(prefix="tlstudio-selftest-") as work, _private_folders(Path(work)):
            step("scanning the demo dataset")
            spec = small_demo(demo)
            line = _train_export_reload(spec, Path(work), step)
    except Exception as exc:  # noqa: BLE001 - any failure is the test's answer, in one line
        return SelfTestResult(False, f"selftest FAILED while {step.current}: {_one_line(exc)}",
                              time.perf_counter() - started)
    seconds = time.perf_counter() - started
    return SelfTestResult(True, f"selftest passed in {seconds:.0f} s: {line}", seconds)


class _Step:
    """The step under way, for the failure line."""

    current = "starting"

    def __call__(self, name: str) -> None:
        self.current = name


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return text if isinstance(exc, UserFacingError) else f"{type(exc).__name__}: {text}"


class _private_folders:
    """The app's data folder and torch's hub cache inside `work` for this process and the
    engine process it spawns (which copies this environment when it starts)."""

    NAMES = {"TLSTUDIO_DATA_DIR": "data", "TORCH_HOME": "torch"}

    def __init__(self, work: Path) -> None:
        self.work, self.saved = work, {}

    def __enter__(self):
        for name, folder in self.NAMES.items():
            self.saved[name] = os.environ.get(name)
            os.environ[name] = str(self.work / folder)
        return self

    def __exit__(self, *exc) -> None:
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def small_demo(demo: Path):
    """The demo dataset as scanned, cut to `PER_CLASS` images of each class in each split."""
    from tlstudio.core.dataset.scan import scan

    if not demo.is_dir():
        raise SelfTestFailed(f"{demo}: the demo dataset is missing from this installation")
    spec = scan(demo)
    taken: dict[tuple[str, str], int] = {}
    keep = []
    for i, (label, split) in enumerate(zip(spec.labels, spec.splits)):
        if taken.get((label, split), 0) < PER_CLASS.get(split, 0):
            taken[(label, split)] = taken.get((label, split), 0) + 1
            keep.append(i)
    if len(spec.classes) < 2 or not any(spec.splits[i] == "valid" for i in keep):
        raise SelfTestFailed(f"{demo}: expected a dataset of several classes with validation images, "
                             f"found {len(spec.classes)} classes and {len(spec)} images")
    pick = lambda values: [values[i] for i in keep] if values else values  # noqa: E731
    return replace(spec, items=pick(spec.items), labels=pick(spec.labels), splits=pick(spec.splits),
                   sizes=pick(spec.sizes))


def selftest_config() -> TrainConfig:
    return TrainConfig(arch=ARCH, pretrained=True, augment=AugmentConfig(size=SIZE), bs=16,
                       freeze_epochs=1, epochs=0, device="cpu", num_workers=0)


def _train_export_reload(spec, work: Path, step) -> str:
    from tlstudio.core.delivery.export import ExportReport
    from tlstudio.core.jobs.delivery import ExportJob, HeldModelFile, LoadModelJob, PredictImagesJob
    from tlstudio.core.jobs.host import EngineHost
    from tlstudio.core.jobs.training import TrainJob

    config = selftest_config()
    host = EngineHost()
    try:
        step("starting the engine process")
        pid = host.start(preload=False)
        step(f"training {ARCH} for one epoch in the engine process")
        trained = host.run(TrainJob(spec, config))
        if trained.status != "completed":
            raise SelfTestFailed(f"training {trained.status}: {trained.message}")
        origin = trained.model.weights_origin
        if not origin.startswith("offline"):
            raise SelfTestFailed(f"the pretrained weights came from '{origin or 'nowhere'}', not the offline package")
        figures = []
        for suffix in (".tlsmodel", ".onnx"):
            target = work / f"selftest{suffix}"
            step(f"exporting and verifying {target.name}")
            report = host.run(ExportJob(trained.model.id, target, spec=spec, config=trained.config,
                                        metrics=trained.final_metrics))
            if not isinstance(report, ExportReport):
                raise SelfTestFailed(f"{target.name}: {report}")
            if not report.verified:
                raise SelfTestFailed(f"{target.name}: {report.message}")
            step(f"loading {target.name} back and predicting")
            loaded = host.run(LoadModelJob(target))
            if not isinstance(loaded, HeldModelFile) or list(loaded.classes) != list(spec.classes):
                raise SelfTestFailed(f"{target.name}: reloaded with other classes than it was trained on ({loaded})")
            images = [spec.items[i] for i in spec.indices("valid")][:4]
            predictions = host.run(PredictImagesJob(loaded.model_id, images, top_k=1))
            broken = [p for p in predictions if p.error or p.label not in spec.classes]
            if broken or len(predictions) != len(images):
                raise SelfTestFailed(f"{target.name}: could not predict ({broken[0].error if broken else 'no results'})")
            figures.append(f"{target.name} verified ({report.n_checked} images, max prob diff {report.max_prob_diff:.0e})")
    finally:
        host.stop()
    accuracy = trained.final_metrics.get("accuracy", float("nan"))
    return (f"trained {ARCH} ({SIZE} px, 1 epoch, {len(spec)} demo images, weights {origin}) "
            f"in engine process {pid}, accuracy {accuracy:.2f}; " + "; ".join(figures) + "; reloaded and predicted")

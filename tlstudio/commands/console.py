"""The engine's events on a terminal: a one-line progress bar and fastai's epoch table.

`ConsoleReporter` is the CLI's Reporter. The epoch table goes to stdout (one
line per epoch, flushed, so a pipe sees it at once); the live bar goes to
stderr and only when stderr is a terminal, so logs and pipes stay clean.
`cancel_on_sigint` turns the first Ctrl-C into the reporter's cancel flag
(the engine stops after the current batch and keeps its last good epoch) and
lets a second Ctrl-C abort at once.
"""
from __future__ import annotations

import math
import signal
import sys
import threading
import time
from contextlib import contextmanager

from tlstudio.core.durations import format_duration
from tlstudio.core.events import (
    BatchEnd,
    DeviceSummary,
    DownloadProgress,
    EpochEnd,
    FitEnd,
    LrFindProgress,
    Message,
    Progress,
    StageEnd,
    StageStart,
    dropped_text,
)
from tlstudio.core.printable import printable
from tlstudio.library_warnings import quiet_library_warnings  # noqa: F401  (the commands import it from here)

BAR_WIDTH = 24
REDRAW_S = 0.1



def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    frac = min(1.0, done / total) if total else 0.0
    filled = int(round(frac * width))
    return "█" * filled + "░" * (width - filled)


class ConsoleReporter:
    """Prints engine events; `request_cancel()` (or Ctrl-C) asks the engine to stop."""

    def __init__(self, out=None, err=None, *, live: bool | None = None):
        quiet_library_warnings()
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.live = self.err.isatty() if live is None else live
        self._cancel = threading.Event()
        self._columns: list[str] | None = None
        self._stage: StageStart | None = None
        self._stage_t0 = 0.0
        self._stage_batches = 0
        self._last_draw = 0.0
        self._bar_shown = False
        self._dropped = 0

    # Reporter protocol
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def request_cancel(self) -> None:
        self._cancel.set()

    def emit(self, event: object) -> None:
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    # output
    def line(self, text: str = "") -> None:
        self._clear_bar()
        print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        self._clear_bar()
        print(text, file=self.err, flush=True)

    def _draw(self, text: str, force: bool = False) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < REDRAW_S:
            return
        self._last_draw = now
        self.err.write("\r" + text[:150] + "\x1b[K")
        self.err.flush()
        self._bar_shown = True

    def _clear_bar(self) -> None:
        if self._bar_shown:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self._bar_shown = False

    # events
    def _on_StageStart(self, e: StageStart) -> None:
        self._stage, self._stage_t0, self._stage_batches = e, time.monotonic(), 0
        trained = e.lrs[-e.trainable_groups:] if e.trainable_groups else e.lrs
        lo, hi = min(trained), max(trained)
        rates = f"{hi:.2e}" if lo == hi else f"{lo:.2e} to {hi:.2e}"
        epochs = f"{e.epochs} epoch{'s' if e.epochs != 1 else ''}"
        self.note(f"Stage {e.stage}: {e.name}; {epochs}, {e.trainable_groups}/{e.total_groups} groups training, lr {rates}")

    def _on_DeviceSummary(self, e: DeviceSummary) -> None:
        self.note(e.text())

    def _on_StageEnd(self, e: StageEnd) -> None:
        self._clear_bar()

    def _on_BatchEnd(self, e: BatchEnd) -> None:
        self._stage_batches += 1
        stage = self._stage
        epochs = stage.epochs if stage and stage.stage == e.stage else 1
        total = epochs * e.n_batches
        elapsed = time.monotonic() - self._stage_t0
        eta = elapsed / self._stage_batches * (total - self._stage_batches) if self._stage_batches else math.nan
        self._draw(
            f"stage {e.stage} epoch {e.epoch + 1}/{epochs} {bar(e.batch + 1, e.n_batches)} "
            f"{e.batch + 1}/{e.n_batches}  loss {e.smooth_loss:.4f}  {e.images_per_s:.0f} img/s  ETA {format_duration(eta)}"
        )

    def _on_EpochEnd(self, e: EpochEnd) -> None:
        if self._columns is None:
            self._columns = ["epoch", "stage", "train_loss", "valid_loss", *e.metrics, "time"]
            self.line("  ".join(f"{c:>10}" for c in self._columns))
        values = [f"{e.global_epoch + 1:>10d}", f"{e.stage:>10d}", f"{e.train_loss:>10.6f}", f"{e.valid_loss:>10.6f}"]
        values += [f"{e.metrics[m]:>10.6f}" for m in self._columns[4:-1]]
        values.append(f"{format_duration(e.elapsed_s):>10}")
        self.line("  ".join(values))
        if len(e.dropped) > self._dropped:
            new = e.dropped[self._dropped:]
            self._dropped = len(e.dropped)
            self.note(f"warning: {dropped_text(len(new))}: " + ", ".join(printable(p) for p in new))

    def _on_FitEnd(self, e: FitEnd) -> None:
        self._clear_bar()

    def _on_Progress(self, e: Progress) -> None:
        counts = f"{e.done}/{e.total}" if e.total else str(e.done)
        self._draw(f"{e.task} {bar(e.done, e.total)} {counts} {e.message}", force=e.total and e.done >= e.total)

    def _on_LrFindProgress(self, e: LrFindProgress) -> None:
        self._draw(f"LR finder {bar(e.iteration, e.total)} {e.iteration}/{e.total}  lr {e.lr:.2e}  loss {e.loss:.4f}")

    def _on_DownloadProgress(self, e: DownloadProgress) -> None:
        mb = e.done_bytes / 1e6
        total = f"/{e.total_bytes / 1e6:.1f}" if e.total_bytes else ""
        self._draw(f"Downloading {e.arch} weights {bar(e.done_bytes, e.total_bytes)} {mb:.1f}{total} MB")

    def _on_Message(self, e: Message) -> None:
        text = printable(e.text)
        self.note(text if e.level == "info" else f"{e.level}: {text}")


def print_dataset(reporter: ConsoleReporter, spec) -> None:
    """What a training command says about its data: counts, what was skipped, and the scan's warnings."""
    splits = spec.split_counts()
    reporter.note(
        f"Dataset {printable(spec.root)}: {len(spec)} images, {len(spec.classes)} classes "
        f"(train {splits['train']}, valid {splits['valid']}, test {splits['test']})"
        + (f"; {len(spec.skipped)} files skipped (see `tlstudio scan`)" if spec.skipped else "")
    )
    for warning in spec.warnings:
        reporter.note(f"warning: {printable(warning)}")


@contextmanager
def cancel_on_sigint(reporter: ConsoleReporter, what: str = "training"):
    """First Ctrl-C: cancel cleanly after the current batch. Second: abort now."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum, frame):
        if reporter.cancel_requested():
            raise KeyboardInterrupt
        reporter.request_cancel()
        reporter.note(f"\nCancelling {what} after the current batch (Ctrl-C again to abort)...")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

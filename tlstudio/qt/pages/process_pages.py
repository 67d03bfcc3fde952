"""Pages whose work runs in a training process keep one ready while shown."""
from __future__ import annotations

from tlstudio.core.training import process as training_process  # no torch here: the child process loads it


class UsesTrainingProcess:
    """Mixin for a Page (listed before it): while the page is shown, has a
    dataset and is idle, a training process with torch and fastai loaded waits
    for the next run, so starting one does not wait for those imports."""

    _closing = False

    def is_busy(self) -> bool:
        raise NotImplementedError

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self.ready_training_process()

    def ready_training_process(self) -> None:
        if self.isVisible() and self.state.dataset is not None and not self.is_busy() and not self._closing:
            training_process.prestart()

    def release_training_process(self) -> None:
        """The window is closing: no new process from here on; the ready one ends."""
        self._closing = True
        training_process.discard_spare()

"""Pages whose work runs in the engine process have it ready while shown."""
from __future__ import annotations

from tlstudio.qt import engine  # no torch here: the engine process loads it


class UsesTrainingProcess:
    """Mixin for a Page (listed before it): while the page is shown and has a dataset, the
    engine process is running with torch and fastai loaded, so starting a run does not wait
    for those imports."""

    _closing = False

    def is_busy(self) -> bool:
        raise NotImplementedError

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self.ready_training_process()

    def ready_training_process(self) -> None:
        if self.isVisible() and self.state.dataset is not None and not self._closing:
            engine.prestart()

    def release_training_process(self) -> None:
        """The window is closing: no new engine process from here on; the running one ends."""
        self._closing = True
        engine.shutdown()

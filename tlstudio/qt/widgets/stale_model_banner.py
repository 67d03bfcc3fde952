"""A warning strip for pages that use the trained model: the dataset's edits changed since it was trained."""
from __future__ import annotations

from tlstudio.qt.widgets.message_banner import MessageBanner

STALE_TEXT = ("The dataset's edits changed since the model was trained (now: {edits}): "
              "train again for a model of the data as it is now.")


class StaleModelBanner(MessageBanner):
    """Shown while `state.model_stale`; follows the state by itself."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        state.model_stale_changed.connect(self.refresh)
        state.edits_changed.connect(self.refresh)
        self.refresh()

    def refresh(self, *_args) -> None:
        if self.state.model_stale:
            self.show_message(STALE_TEXT.format(edits=self.state.edits.describe()), "warning")
        else:
            self.hide()

"""Train page: the line that says where and how a run computes."""
from __future__ import annotations

from tlstudio.core.events import DeviceSummary
from tlstudio.qt.app_state import AppState
from tlstudio.qt.pages.train_page import TrainPage


def test_the_device_summary_of_a_run_is_shown(qtbot, tiny_spec):
    state = AppState()
    state.set_dataset(tiny_spec)
    page = TrainPage(state)
    qtbot.addWidget(page)  # not shown: a shown page readies a training process
    assert page.device_label.text() == ""
    event = DeviceSummary("cuda:0", "NVIDIA H200", "bf16 mixed precision", True, 256, "",
                          "decoded once (8000 images, 1.20 GB cache)")
    page._on_event(event)
    assert page.device_label.text() == event.text()
    assert page.device_label.isVisibleTo(page)

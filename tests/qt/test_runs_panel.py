"""The Runs panel: a real project with two real tiny runs listed with the setting that differs,
both selected overlaid as curves with the runs' own values, and their per-class F1 differences;
in the window, opened from Go > Runs, following the project and a run that ends."""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from layout_check import clipped

from tlstudio.core.events import ListReporter
from tlstudio.qt.app_state import AppState

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
RUN_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def project(tiny_spec, tiny_config, tmp_path_factory):
    """Run 1 unfreezes one layer group, run 2 every group at another rate: two settings differ."""
    from tlstudio.core.project.train_run import train_in_project

    root = tmp_path_factory.mktemp("runs_panel") / "compare.tlsproject"
    first = train_in_project(root, tiny_spec, tiny_config.with_(unfreeze_depth=1), ListReporter())
    second = train_in_project(root, tiny_spec, tiny_config.with_(unfreeze_depth=None, base_lr=5e-4), ListReporter())
    assert first.outcome.status == second.outcome.status == "completed"
    return SimpleNamespace(root=root, runs=[first.result, second.result], spec=tiny_spec)


def evaluation(root, number):
    return json.loads((root / "runs" / f"{number:03d}" / "evaluation.json").read_text())


def test_lists_both_runs_with_the_settings_that_differ_and_their_metrics(qtbot, project):
    from tlstudio.qt.widgets.runs_panel import RunsPanel

    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.set_project(project.root)
    assert panel.table.rowCount() == 2
    assert panel.heading.text() == "2 runs in project compare" and panel.heading.toolTip() == str(project.root)
    assert [panel.cell_text(n, "run") for n in (1, 2)] == ["001", "002"]
    assert [panel.cell_text(n, "state") for n in (1, 2)] == ["completed", "completed"]
    assert [c for c in panel.columns if c in ("unfreeze_depth", "base_lr", "arch", "seed")] == ["unfreeze_depth", "base_lr"]
    assert [panel.cell_text(n, "unfreeze_depth") for n in (1, 2)] == ["1", "-"]
    assert panel.cell_text(2, "base_lr") == "0.0005"
    for number, result in zip((1, 2), project.runs):
        kept = next(e for e in result.history if e.global_epoch == result.kept_epoch)
        assert panel.cell_text(number, "accuracy final") == f"{kept.metrics['accuracy']:.4f}"
        assert panel.cell_text(number, "valid_loss best") == f"{min(e.valid_loss for e in result.history):.4f}"
        assert panel.cell_text(number, "epochs") == "2/2"
    assert "Select two or more" in panel.message.text()
    assert panel.loss_plot.curve_data() == {} and panel.f1_table.rowCount() == 0


def test_selecting_both_overlays_their_curves_and_fills_the_f1_differences(qtbot, project, artifacts_dir):
    from tlstudio.qt.widgets.runs_panel import RunsPanel

    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.resize(1200, 560)
    panel.show()
    panel.set_project(project.root)
    panel.table.selectRow(0)
    assert panel.loss_plot.curve_data() == {}  # one run: nothing to compare
    with qtbot.waitSignal(panel.selection_changed) as picked:
        panel.select_runs([1, 2])
    assert picked.args == [[1, 2]]
    for plot, values in ((panel.loss_plot, lambda r: [e.valid_loss for e in r.history]),
                         (panel.accuracy_plot, lambda r: [e.metrics["accuracy"] for e in r.history])):
        drawn = plot.curve_data()
        assert list(drawn) == ["run 001", "run 002"]
        assert [label.text for _sample, label in plot.legend.items] == ["run 001", "run 002", "kept epoch"]
        assert plot.legend_place in ("header", "side")  # outside the axes
        kept = []
        for (x, y), result in zip(drawn.values(), project.runs):
            assert x.tolist() == [1, 2]
            np.testing.assert_allclose(y, values(result))
            kept.append((result.kept_epoch + 1, values(result)[result.kept_epoch]))
        np.testing.assert_allclose(plot.kept_points(), kept)  # the epoch whose weights each run's model has
    pens = [c.opts["pen"].color().name() for c in panel.loss_plot._curves.values()]
    assert len(set(pens)) == 2

    first, second = evaluation(project.root, 1), evaluation(project.root, 2)
    assert first["classes"] == second["classes"] == list(project.spec.classes)
    expected = {c: [b - a] for c, a, b in zip(first["classes"], first["per_class"]["f1"], second["per_class"]["f1"])}
    shown = panel.f1_differences()
    assert list(shown) == list(expected)
    for name, diff in expected.items():
        assert shown[name] == pytest.approx(diff)
    row = [panel.f1_table.item(1, c).text() for c in range(panel.f1_table.columnCount())]
    a, b = first["per_class"]["f1"][0], second["per_class"]["f1"][0]
    assert row == [first["classes"][0], f"{a:.4f}", f"{b:.4f}", f"{b - a:+.4f}"]
    assert panel.f1_table.item(0, 3).text() == f"{second['accuracy'] - first['accuracy']:+.4f}"
    assert "against run 001" in panel.message.text()

    qtbot.wait(50)
    assert clipped(panel) == []
    shot = artifacts_dir / "runs-panel.png"
    assert panel.grab().save(str(shot))
    if os.environ.get("TLSTUDIO_SCREENSHOTS") == "1":  # as the relabel loop's: docs/ changes only when asked
        from PIL import Image

        with Image.open(shot) as image:
            image.convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(DOCS / "runs-panel.png", optimize=True)
    panel.resize(1000, 400)  # docked below a page of a 1024 x 700 window
    try:  # the legends move beside the axes once the layout settles
        qtbot.waitUntil(lambda: not clipped(panel), timeout=2_000)
    finally:
        assert clipped(panel) == []

    panel.select_runs([2])
    assert panel.loss_plot.curve_data() == {} and panel.f1_table.rowCount() == 0


def test_a_damaged_evaluation_is_named_in_one_line(qtbot, project, tmp_path):
    import shutil

    from tlstudio.qt.widgets.runs_panel import RunsPanel

    root = tmp_path / "copy.tlsproject"
    shutil.copytree(project.root, root)
    (root / "runs" / "002" / "evaluation.json").write_text('{"format": "tlstudio-evaluation", "version": 1}')
    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.set_project(root)
    panel.select_runs([1, 2])
    assert "could not be compared" in panel.message.text() and "evaluation.json" in panel.message.text()
    assert "\n" not in panel.message.text()
    assert panel.loss_plot.curve_data() == {}


def test_in_the_window_it_follows_the_open_project_and_a_run_that_ends(qtbot, monkeypatch, tmp_path, project,
                                                                         tiny_config):
    import shutil

    from tlstudio.qt.main_window import MainWindow

    monkeypatch.setenv("TLSTUDIO_SETTINGS_DIR", str(tmp_path / "settings"))
    root = tmp_path / "window.tlsproject"
    shutil.copytree(project.root, root)
    window = MainWindow(AppState())
    qtbot.addWidget(window)
    window.projects.confirm_discard = lambda _what, _reasons: "discard"
    window.projects.offer_resume = lambda _record: False
    window.pages["train"].confirm = lambda _title, _text: True
    window.show()
    dock, panel = window.runs_dock, window.runs_dock.panel
    assert not dock.isVisible() and window.runs_action.shortcut().toString() == "Ctrl+R"
    window.runs_action.trigger()
    assert dock.isVisible() and panel.root is None and panel.table.rowCount() == 0

    assert window.projects.open_project(root)
    qtbot.waitUntil(lambda: window.state.training is not None and not window.projects.is_busy(), timeout=RUN_TIMEOUT_MS)
    assert panel.root == root and panel.table.rowCount() == 2
    panel.select_runs([1, 2])

    window.state.update_train_config(freeze_epochs=1, epochs=1, bs=tiny_config.bs, device="cpu", seed=7)
    page = window.pages["train"]
    page.start()
    qtbot.waitUntil(lambda: not page.is_training() and window.state.project.run == 3, timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 3, timeout=10_000)
    assert panel.cell_text(3, "state") == "completed" and panel.cell_text(3, "seed") == "7"
    assert panel.selected_runs() == [1, 2]  # the comparison stays while the list grows
    assert list(panel.loss_plot.curve_data()) == ["run 001", "run 002"]

    window.close()


def test_one_selected_run_offers_its_actions_and_says_why_when_it_cannot(qtbot, project, tmp_path, artifacts_dir):
    import shutil

    from tlstudio.qt.widgets.runs_panel import RunsPanel

    root = tmp_path / "actions.tlsproject"
    shutil.copytree(project.root, root)
    # Run 2 as a kill leaves it: still "training" with no process, no model yet.
    record = json.loads((root / "runs" / "002" / "run.json").read_text())
    (root / "runs" / "002" / "run.json").write_text(json.dumps({**record, "status": "training"}))
    (root / "runs" / "002" / "model.tlsmodel").unlink()
    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.resize(1200, 560)
    panel.show()
    panel.set_project(root)
    buttons = (panel.evaluate_button, panel.export_button, panel.start_from_button)
    assert not any(b.isEnabled() for b in buttons) and all(b.toolTip() == "Select one run" for b in buttons)
    assert panel.resume_button.isHidden()

    panel.select_runs([1])
    assert all(b.isEnabled() for b in buttons) and panel.resume_button.isHidden()
    with qtbot.waitSignal(panel.evaluate_requested) as evaluate:
        panel.evaluate_button.click()
    with qtbot.waitSignal(panel.export_requested) as export:
        panel.export_button.click()
    with qtbot.waitSignal(panel.start_from_requested) as start:
        panel.start_from_button.click()
    assert evaluate.args == [1] and export.args == [1] and start.args == [root / "runs" / "001"]

    panel.select_runs([2])
    assert panel.cell_text(2, "state") == "interrupted"
    assert not any(b.isEnabled() for b in buttons)
    assert all("kept no model" in b.toolTip() for b in buttons)
    assert not panel.resume_button.isHidden() and panel.resume_button.isEnabled()
    with qtbot.waitSignal(panel.resume_requested) as resume:
        panel.resume_button.click()
    assert resume.args == [2]
    qtbot.wait(50)
    assert clipped(panel) == []
    assert panel.grab().save(str(artifacts_dir / "runs-panel-actions.png"))

    panel.select_runs([1, 2])
    assert not any(b.isEnabled() for b in buttons) and panel.resume_button.isHidden()


def test_evaluate_in_the_panel_makes_that_run_current(qtbot, monkeypatch, tmp_path, project):
    import shutil

    from tlstudio.qt.main_window import MainWindow

    monkeypatch.setenv("TLSTUDIO_SETTINGS_DIR", str(tmp_path / "settings"))
    root = tmp_path / "pick.tlsproject"
    shutil.copytree(project.root, root)
    window = MainWindow(AppState())
    qtbot.addWidget(window)
    window.projects.confirm_discard = lambda what, reasons: pytest.fail(f"asked before {what}: {reasons}")
    window.projects.offer_resume = lambda _record: False
    window.show()
    window.runs_action.trigger()
    panel = window.runs_dock.panel
    assert window.projects.open_project(root)
    qtbot.waitUntil(lambda: window.state.training is not None and not window.projects.is_busy(), timeout=RUN_TIMEOUT_MS)
    assert window.state.project.run == 2
    panel.select_runs([1])
    panel.evaluate_button.click()
    qtbot.waitUntil(lambda: window.state.project.run == 1 and not window.projects.is_busy(), timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.pages["evaluate"].interpretation is not None, timeout=RUN_TIMEOUT_MS)
    first = evaluation(root, 1)
    assert window.current_page_key() == "evaluate"
    assert window.pages["evaluate"].interpretation.accuracy == pytest.approx(first["accuracy"])
    kept = next(e for e in project.runs[0].history if e.global_epoch == project.runs[0].kept_epoch)
    assert window.pages["train"].table.rowCount() == len(project.runs[0].history)
    assert window.state.training.kept_epoch == project.runs[0].kept_epoch and kept is not None
    panel.select_runs([2])
    panel.export_button.click()
    qtbot.waitUntil(lambda: window.state.project.run == 2 and not window.projects.is_busy(), timeout=RUN_TIMEOUT_MS)
    assert window.current_page_key() == "export" and not window.hosts["export"].is_gated()
    window.projects.confirm_discard = lambda _what, _reasons: "discard"
    window.close()

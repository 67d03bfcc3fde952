"""The doctor panel: real runs on demo images, first findings before the feature pass, cancel, thumbnails."""
from __future__ import annotations

import shutil

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QToolButton

from tlstudio.core.dataset.scan import scan
from tlstudio.core.doctor import DoctorConfig, FeatureConfig
from tlstudio.qt.widgets.doctor_panel import DoctorPanel


@pytest.fixture
def spec(tmp_path, demo_dir):
    """3 classes x 12 train + 4 valid demo images, one BMP copy, one train image leaked into valid."""
    root = tmp_path / "data"
    for cls in ("bag", "sneaker", "trouser"):
        for i, src in enumerate(sorted((demo_dir / cls).glob("*.png"))[:16]):
            dest = root / ("valid" if i < 4 else "train") / cls / src.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
    bag = sorted((root / "train" / "bag").glob("*.png"))
    Image.open(bag[0]).save(root / "train" / "bag" / "again.bmp")
    shutil.copyfile(bag[1], root / "valid" / "bag" / "leaked.png")
    return scan(root)


@pytest.fixture
def panel(qtbot):
    widget = DoctorPanel(config=DoctorConfig(feature=FeatureConfig(size=32, device="cpu")))
    widget.resize(900, 520)
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()


def _groups(panel) -> dict[str, str]:
    tree = panel.tree
    return {tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole): tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())}


def test_a_run_shows_the_pixel_findings_first_then_all(panel, spec, qtbot, artifacts_dir):
    shown = []
    draw = panel.show_findings
    panel.show_findings = lambda findings: (shown.append({f.kind for f in findings}), draw(findings))
    assert not panel.run_button.isHidden() and panel.run_button.isEnabled() is False
    panel.set_spec(spec)
    assert panel.run_button.isEnabled()
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.is_running() and panel.run_button.isHidden() and not panel.cancel_button.isHidden()
    qtbot.waitUntil(lambda: panel.report is not None, timeout=180_000)
    report = panel.report
    assert report.status == "completed" and report.passes == ("pixels", "features")
    assert len(shown) == 2  # the pixel pass's findings, then the final ones
    assert {"exact_duplicate", "leak"} <= shown[0] and "label_issue" not in shown[0]
    groups = _groups(panel)
    assert groups["exact_duplicate"] == "Exact duplicates (2)" and groups["leak"] == "Leaks between splits (1)"
    assert groups["label_issue"] == f"Likely label errors ({len(report.of_kind('label_issue'))})"
    exact = next(panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())
                 if panel.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == "exact_duplicate")
    strip = panel.tree.itemWidget(exact.child(0), 2)
    thumbs = strip.findChildren(QToolButton)
    assert len(thumbs) == 2 and all(not t.icon().isNull() for t in thumbs)
    assert panel.status.text().startswith("Done:") and not panel.run_button.isHidden()
    panel.grab().save(str(artifacts_dir / "doctor_panel.png"))

    # One-click fixes land in the edit list, not on disk.
    changed = []
    panel.edits_changed.connect(changed.append)
    before = {p: p.read_bytes() for p in spec.items}
    finding = panel.findings[[f.kind for f in panel.findings].index("exact_duplicate")]
    keep = finding.files[1]
    thumbs[1].click()
    assert panel.edits.excluded == set(finding.files) - {keep}
    assert "kept" in exact.child(0).text(0) and not strip.isEnabled()
    leak_group = next(panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())
                      if panel.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == "leak")
    move = panel.tree.itemWidget(leak_group.child(0), 3).findChild(QPushButton)
    assert move.text() == "Move to train"
    move.click()
    assert set(panel.edits.moved.values()) == {"train"} and len(panel.edits.moved) == 1
    assert len(changed) == 2 and changed[-1] is panel.edits
    edited = panel.edits.apply(spec)
    assert len(edited) == len(spec) - 1 and edited.split_counts()["valid"] == spec.split_counts()["valid"] - 1
    assert {p: p.read_bytes() for p in spec.items} == before
    panel.grab().save(str(artifacts_dir / "doctor_panel_fixed.png"))


def test_cancel_keeps_the_pixel_findings(panel, spec, qtbot):
    panel.set_spec(spec)
    first = []
    draw = panel.show_findings

    def cancel_at_first(findings):
        draw(findings)
        if not first:
            first.append(len(findings))
            panel.cancel_button.click()

    panel.show_findings = cancel_at_first
    panel.start()
    qtbot.waitUntil(lambda: panel.report is not None, timeout=180_000)
    assert panel.report.status == "cancelled" and panel.report.passes == ("pixels",)
    assert _groups(panel)["leak"] == "Leaks between splits (1)"
    assert panel.status.text().startswith("Cancelled")


def test_a_new_dataset_clears_the_findings(panel, spec, qtbot):
    panel.set_spec(spec)
    panel.start()
    qtbot.waitUntil(lambda: panel.report is not None, timeout=180_000)
    panel.set_spec(None)
    assert panel.tree.isHidden() and panel.findings == () and not panel.run_button.isEnabled()

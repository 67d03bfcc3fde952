"""The Data page: summary, chart, skipped files, progress while scanning, and how it looks."""
from __future__ import annotations

from fixtures_shell import drop, make_dataset
from PySide6.QtCore import Qt

from tlstudio.core.dataset.spec import SPLITS
from tlstudio.qt.widgets.gallery_model import LABEL_ROLE


def test_summary_and_chart_show_the_dataset(main_window, demo_spec):
    page = main_window.data_page
    assert page.stack.currentIndex() == 0  # the drop hint while nothing is open
    main_window.state.set_dataset(demo_spec)
    assert page.stack.currentIndex() == 1
    summary = page.summary
    assert "<b>10</b> classes" in summary.counts.text() and "<b>600</b> images" in summary.counts.text()
    counts = demo_spec.split_counts()
    for split in SPLITS:
        if counts[split]:
            assert f"{split} {counts[split]:,}" in summary.counts.text()
    assert summary.chart.totals() == demo_spec.class_counts()
    assert set(summary.chart.bars) == {s for s in SPLITS if counts[s]}
    left_ticks = summary.chart.getAxis("left")._tickLevels[0]
    assert sorted(name for _, name in left_ticks) == demo_spec.classes
    assert "No files skipped" in summary.skipped_label.text()
    assert not summary.skipped_button.isEnabled()


def test_skipped_files_table_sorts_and_opens_the_folder(main_window, qtbot, tmp_path, monkeypatch, artifacts_dir):
    root = make_dataset(tmp_path, "class-folders")
    (root / "cat" / "notes.jpg").write_text("this is text, not a JPEG")
    (root / "dog" / "empty.png").write_bytes(b"")
    with qtbot.waitSignal(main_window.state.dataset_changed, timeout=15_000) as blocker:
        assert drop(main_window, root)
    spec = blocker.args[0]
    assert len(spec.skipped) == 2
    page = main_window.data_page
    assert page.banner.level == "warning" and "2 files were skipped" in page.banner.text()
    assert page.summary.skipped_button.isEnabled()
    qtbot.mouseClick(page.summary.skipped_button, Qt.MouseButton.LeftButton)
    dialog = page.skipped_dialog
    assert dialog is not None and dialog.isVisible()
    table = dialog.model
    assert table.rowCount() == 2
    shown = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(2)}
    assert set(shown) == {"cat/notes.jpg", "dog/empty.png"}
    assert all(reason for reason in shown.values())
    dialog.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert dialog.table.model().index(0, 0).data() == "dog/empty.png"

    opened = []
    monkeypatch.setattr("tlstudio.qt.widgets.skipped_table.QDesktopServices.openUrl", lambda url: opened.append(url) or True)
    assert not dialog.open_button.isEnabled()
    dialog.table.selectRow(0)
    assert dialog.open_button.isEnabled()
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert [u.toLocalFile() for u in opened] == [str(root / "dog")]
    dialog.grab().save(str(artifacts_dir / "skipped_files.png"))
    dialog.close()


def test_progress_shows_while_scanning(main_window, qtbot, dataset_factory):
    page = main_window.data_page
    path = dataset_factory("class-folders")
    with qtbot.waitSignal(main_window.state.dataset_changed, timeout=15_000):
        main_window.open_dataset(path)
        assert page.scan_row.isVisibleTo(page)
        assert str(path) in page.scan_label.text()
    assert not page.scan_row.isVisibleTo(page)


def test_screenshots_of_the_data_page(main_window, qtbot, demo_dir, artifacts_dir):
    main_window.resize(1280, 820)
    main_window.show()
    qtbot.waitExposed(main_window)
    main_window.grab().save(str(artifacts_dir / "data_page_empty.png"))

    page = main_window.data_page
    with qtbot.waitSignal(main_window.state.dataset_changed, timeout=15_000):
        page.open_demo()
    model = page.gallery.model
    qtbot.waitUntil(lambda: model.rowCount() > 0 and model.loader.pending == 0 and len(model.cache) >= 24, timeout=10_000)
    main_window.grab().save(str(artifacts_dir / "data_page_demo.png"))

    page.open_path(demo_dir / "bag" / "missing-folder")
    qtbot.waitUntil(lambda: page.banner.text() != "", timeout=10_000)
    qtbot.waitUntil(lambda: not page.is_scanning(), timeout=10_000)
    main_window.grab().save(str(artifacts_dir / "data_page_error.png"))
    assert main_window.state.dataset is not None


def test_clicking_a_bar_of_the_class_chart_filters_the_gallery(main_window, qtbot, demo_spec):
    main_window.resize(1024, 700)
    main_window.show()
    main_window.state.set_dataset(demo_spec)
    page = main_window.data_page
    chart, gallery = page.summary.chart, page.gallery
    qtbot.waitUntil(lambda: chart.isVisible() and chart.height() > 100)
    qtbot.wait(50)
    for name in ("bag", demo_spec.classes[-1], demo_spec.classes[0]):
        qtbot.mouseClick(chart.viewport(), Qt.MouseButton.LeftButton, pos=chart.row_center(name))
        assert gallery.class_box.currentText() == name
        shown = {gallery.model.index(r, 0).data(LABEL_ROLE) for r in range(gallery.model.rowCount())}
        assert shown == {name}
        assert gallery.model.rowCount() == demo_spec.class_counts()[name]


def test_a_filter_with_no_matches_says_so(main_window, qtbot, demo_spec):
    main_window.show()
    main_window.state.set_dataset(demo_spec)
    gallery = main_window.data_page.gallery
    assert gallery.views.currentWidget() is gallery.view
    gallery.show_class("bag")
    gallery.search.setText("no-such-file")
    gallery.apply_filter()
    assert gallery.model.rowCount() == 0
    assert gallery.views.currentWidget() is gallery.empty_label and gallery.empty_label.isVisible()
    assert gallery.empty_label.text() == "No images in class bag with “no-such-file” in the file name. Choose “All” or clear the search to see more."
    gallery.search.clear()
    gallery.apply_filter()
    assert gallery.views.currentWidget() is gallery.view


def test_the_random_split_share_and_seed_feed_the_config_and_split_again(main_window, qtbot, dataset_factory):
    root = dataset_factory("class-folders", per_class=10)
    page = main_window.data_page
    with qtbot.waitSignal(main_window.state.dataset_changed, timeout=15_000) as first:
        main_window.open_dataset(root)
    spec = first.args[0]
    assert spec.seed == 42 and spec.split_counts()["valid"] == 3 * 2  # 20 % of 10 per class
    controls = page.split_controls
    assert controls.isVisibleTo(page) and controls.valid.value() == 20 and controls.seed.value() == 42
    assert not controls.apply.isEnabled()  # nothing to apply yet
    controls.valid.setValue(40)
    controls.seed.setValue(7)
    with qtbot.waitSignal(main_window.state.dataset_changed, timeout=15_000) as second:
        qtbot.mouseClick(controls.apply, Qt.MouseButton.LeftButton)
    again = second.args[0]
    assert main_window.state.train_config.valid_pct == 0.4 and main_window.state.train_config.seed == 7
    assert again.seed == 7 and again.split_counts()["valid"] == 3 * 4
    assert again.splits != spec.splits
    assert (controls.valid.value(), controls.seed.value()) == (40, 7) and not controls.apply.isEnabled()


def test_split_folders_hide_the_random_split_controls(main_window, qtbot, dataset_factory):
    with qtbot.waitSignal(main_window.state.dataset_changed, timeout=15_000):
        main_window.open_dataset(dataset_factory("split-folders"))
    assert not main_window.data_page.split_controls.isVisibleTo(main_window.data_page)


def test_a_scan_counts_as_running_until_its_dataset_is_in_the_state(main_window, qtbot, dataset_factory):
    # The scan's thread ends before its result reaches the GUI thread. A caller that
    # waits for "not scanning" must then find the new dataset, not the old one.
    page = main_window.data_page
    first, second = dataset_factory("class-folders"), dataset_factory("split-folders")
    main_window.open_dataset(first)
    qtbot.waitUntil(lambda: not page.is_scanning(), timeout=15_000)
    assert main_window.state.dataset.root == first
    main_window.open_dataset(second)
    task = page.loader._slot.task
    assert task.wait(15_000)  # the thread is done; no event has been handled since
    assert page.is_scanning() and main_window.state.dataset.root == first
    qtbot.waitUntil(lambda: not page.is_scanning(), timeout=15_000)
    assert main_window.state.dataset.root == second

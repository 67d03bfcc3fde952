"""The edit list kept per dataset in the app's data folder: found again by the same files, whatever their split."""
from __future__ import annotations

import pytest

from tlstudio.core.dataset import edit_store
from tlstudio.core.dataset.spec import DatasetError
from tlstudio.core.dataset.scan import scan
from tlstudio.core.dataset.edits import DatasetEdits


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_DATA_DIR", str(tmp_path / "data-folder"))
    return tmp_path / "data-folder"


def test_saved_edits_come_back_for_the_same_files_split_again(demo_dir, data_dir):
    spec = scan(demo_dir)
    assert edit_store.load_edits(spec) == DatasetEdits()
    edits = DatasetEdits()
    edits.relabel(spec.items[0], "coat")
    path = edit_store.save_edits(spec, edits)
    assert path.parent == data_dir / "edits"
    resplit = scan(demo_dir, valid_pct=0.3, seed=7)
    assert resplit.splits != spec.splits
    assert edit_store.load_edits(resplit) == edits


def test_other_files_have_their_own_list(tiny_spec, demo_dir, data_dir):
    edits = DatasetEdits()
    edits.exclude(tiny_spec.items[0])
    edit_store.save_edits(tiny_spec, edits)
    assert edit_store.load_edits(scan(demo_dir)) == DatasetEdits()
    assert edit_store.dataset_key(tiny_spec) != edit_store.dataset_key(scan(demo_dir))


def test_an_unreadable_list_is_set_aside_not_deleted(tiny_spec, data_dir):
    path = edit_store.edits_path(tiny_spec)
    path.parent.mkdir(parents=True)
    path.write_text("{broken")
    with pytest.raises(DatasetError, match="set aside as") as err:
        edit_store.load_edits(tiny_spec)
    assert "\n" not in str(err.value)
    (aside,) = [p for p in path.parent.iterdir() if "unreadable" in p.name]
    assert aside.read_text() == "{broken" and not path.exists()
    assert edit_store.load_edits(tiny_spec) == DatasetEdits()

"""`train --project` checks its project before anything trains: one line, exit status 2, nothing of the user's touched."""
from __future__ import annotations

from cli_run import tlstudio
from fixtures_engine import make_tiny_spec
from source_digest import digest

from tlstudio.core.dataset.scan import scan
from tlstudio.core.project.dataset_ref import ScanSettings
from tlstudio.core.project.project_file import create_project, open_project


def test_a_folder_of_other_files_is_not_made_a_project(tiny_spec, tmp_path, capsys):
    folder = tmp_path / "mine.tlsproject"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    before = digest(tmp_path)
    run = tlstudio(capsys, "train", tiny_spec.root, "--project", tmp_path / "mine", "--device", "cpu")
    assert run.rc == 2
    assert run.err.strip().splitlines()[-1] == (
        f"tlstudio train: error: {folder}: exists and is not an empty folder; choose a new name for the project")
    assert digest(tmp_path) == before


def test_a_project_refuses_another_dataset_and_follows_its_own_when_it_moved(tiny_spec, tmp_path, demo_dir, capsys):
    mine = make_tiny_spec(tmp_path / "mine", demo_dir, classes=("bag", "coat"), per_class=6).root
    root = tmp_path / "p.tlsproject"
    create_project(root, scan(mine), ScanSettings())
    run = tlstudio(capsys, "train", tiny_spec.root, "--project", root, "--device", "cpu")
    assert run.rc == 2 and run.err.strip().splitlines()[-1] == (
        f"tlstudio train: error: {tiny_spec.root}: not the dataset of project {root} ({mine.resolve()})")
    assert not list((root / "runs").iterdir())
    moved = tmp_path / "moved"
    mine.rename(moved)
    run = tlstudio(capsys, "train", moved, "--project", root, "--device", "cpu", "--size", "32", "--bs", "4",
                   "--freeze-epochs", "1", "--epochs", "0")
    assert run.rc == 0, run.err
    assert open_project(root).dataset.location == str(moved.resolve())
    assert f"Run 001 saved in {root / 'runs' / '001'} (model.tlsmodel, evaluation.json)" in run.err

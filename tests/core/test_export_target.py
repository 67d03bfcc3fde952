"""An export target is checked before work starts, locked while written, and refused with a clear line and another path."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import namedtuple

import pytest

from tlstudio.core.delivery import target as export_target
from tlstudio.core.delivery.target import (
    ExportTargetError,
    check_target,
    lock_path,
    models_folder,
    staging_folder,
    target_lock,
)


def test_a_new_file_in_a_writable_folder_is_fine(tmp_path):
    target = tmp_path / "new" / "model.onnx"
    assert check_target(target, needed_bytes=1000, overwrite=False) == target
    assert not target.parent.exists(), "checking creates nothing"


def test_an_existing_file_needs_overwrite(tmp_path):
    target = tmp_path / "model.pkl"
    target.write_bytes(b"old")
    with pytest.raises(ExportTargetError, match=r"model\.pkl: already exists \(choose to replace it, or pass --force\)"):
        check_target(target, needed_bytes=1000, overwrite=False)
    assert check_target(target, needed_bytes=1000, overwrite=True) == target
    assert target.read_bytes() == b"old"


def test_a_folder_that_is_a_file_is_refused_with_another_path(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ExportTargetError) as info:
        check_target(blocker / "model.tlsmodel", needed_bytes=1000, overwrite=False)
    assert "a-file is not a folder" in str(info.value)
    assert info.value.suggestion == models_folder() / "model.tlsmodel"
    assert f"you could export to {info.value.suggestion} instead" in str(info.value)


def test_a_disk_without_room_is_refused(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(export_target.shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 5 * 10**6, 5 * 10**6))
    with pytest.raises(ExportTargetError, match=r"not enough room: the model needs about 50 MB and .* has 5 MB free"):
        check_target(tmp_path / "model.pt", needed_bytes=50 * 10**6, overwrite=False)


def test_unknown_suffix_is_refused(tmp_path):
    with pytest.raises(Exception, match=r"model\.h5: not a model file this app knows"):
        check_target(tmp_path / "model.h5", needed_bytes=1, overwrite=False)


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    target = tmp_path / "model.pkl"
    with target_lock(target):
        assert lock_path(target).read_text() == str(os.getpid())
        with pytest.raises(ExportTargetError, match=rf"another export is writing this file \(process {os.getpid()}\)"):
            with target_lock(target):
                pass
    assert not lock_path(target).exists()


def test_a_stale_lock_is_taken_over(tmp_path):
    target = tmp_path / "model.pkl"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock_path(target).write_text(gone.stdout.strip())  # that process has exited
    with target_lock(target):
        assert lock_path(target).read_text() == str(os.getpid())
    assert not lock_path(target).exists()


def test_a_disk_filling_up_mid_write_leaves_the_old_file_and_names_another_path(trained_result, tmp_path, monkeypatch):
    import errno

    from tlstudio.core.delivery import export
    from tlstudio.core.delivery.export import export_model

    target = tmp_path / "model.tlsmodel"
    target.write_bytes(b"the previous model")

    def full_disk(fmt, learn, staged, meta):
        staged.write_bytes(b"half a model")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(export, "write_model", full_disk)
    with pytest.raises(ExportTargetError) as info:
        export_model(trained_result.learn, target, spec=trained_result.spec, config=trained_result.config, overwrite=True)
    assert f"{target}: could not be written (No space left on device)" in str(info.value)
    assert info.value.suggestion == models_folder() / "model.tlsmodel"
    assert target.read_bytes() == b"the previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tlsmodel"], "no staging folder or lock left"


def test_a_killed_writers_staging_folder_is_removed_by_the_next_export(tmp_path):
    target = tmp_path / "model.tlsmodel"
    left = tmp_path / ".model.tlsmodel.export-abc123"  # what a SIGKILL mid-export leaves
    left.mkdir()
    (left / "model.tlsmodel").write_bytes(b"half")
    other = tmp_path / ".other.tlsmodel.export-abc123"  # another target's: not ours to touch
    other.mkdir()
    with target_lock(target), staging_folder(target) as stage:
        assert stage.is_dir() and not left.exists()
    assert not stage.exists() and other.is_dir()

"""The installer's own pieces that run without a build: the frozen app's entry point acting as
the interpreter its child processes expect, the desktop file and icons, and the Linux install
and uninstall. (The frozen build itself is slow and not part of CI: installer/build.sh.)"""
from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
ENTRY = REPO / "installer" / "frozen_entry.py"
INSTALL = REPO / "installer" / "install-linux.sh"


def _entry(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(ENTRY), *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_entry_runs_code_and_modules_as_python_would(tmp_path):
    done = _entry("-I", "-c", "import sys, json; print(json.dumps(sys.argv)); sys.exit(3)", "a", "b")
    assert done.returncode == 3, done.stderr
    assert json.loads(done.stdout) == ["-c", "a", "b"]
    (tmp_path / "listing.json").write_text('{"b": 1}')
    done = _entry("-m", "json.tool", str(tmp_path / "listing.json"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"b": 1}


def test_entry_runs_a_script_with_its_folder_importable(tmp_path):
    (tmp_path / "helper.py").write_text("VALUE = 7\n")
    (tmp_path / "predict.py").write_text("import sys, helper\nprint(helper.VALUE, sys.argv[1:])\n")
    done = _entry("-I", str(tmp_path / "predict.py"), "x.onnx", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "7 ['x.onnx', '--json']"


def test_entry_leaves_tlstudio_unloaded_for_the_plain_fastai_check():
    # verify.py's .pkl check proves tlstudio is not importable in its process: the entry point
    # itself must not have loaded it before running the check's code.
    done = _entry("-I", "-c", "import sys; print(any(m.split('.')[0] == 'tlstudio' for m in sys.modules))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_entry_passes_the_apps_own_arguments_to_the_app():
    done = _entry("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("tlstudio ")
    done = _entry("models", "--json")
    assert done.returncode == 0, done.stderr
    assert any(row["name"] == "mobilenet_v2" for row in json.loads(done.stdout))


def test_desktop_file_and_icons():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(REPO / "resources" / "linux" / "tlstudio.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Icon"] == "tlstudio"
    assert desktop["Exec"].split()[0] == "tlstudio" and desktop["Terminal"] == "false"
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        with Image.open(REPO / "resources" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "tlstudio.png") as icon:
            assert icon.size == (size, size) and icon.mode == "RGBA"
            # The blue tile of the SVG at the centre, transparent outside its rounded corner.
            r, g, b, a = icon.convert("RGBA").getpixel((size // 2, size // 2 + size // 8))
            assert a == 255 and b > r
            assert icon.getpixel((0, 0))[3] == 0


def _fake_app(folder: Path) -> Path:
    folder.mkdir(parents=True)
    exe = folder / "tlstudio"
    exe.write_text("#!/bin/sh\necho fake tlstudio \"$@\"\n")
    exe.chmod(0o755)
    (folder / "_internal").mkdir()
    (folder / "_internal" / "lib.so").write_bytes(b"x")
    return folder


def _install(home: Path, *args) -> subprocess.CompletedProcess:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["bash", str(INSTALL), *map(str, args)], env=env, capture_output=True, text=True, timeout=60)


def test_install_and_uninstall_touch_only_their_own_files(tmp_path):
    home = tmp_path / "home"
    share = home / ".local" / "share"
    # The user's own things beside where the installer writes: they must survive the uninstall.
    (share / "applications").mkdir(parents=True)
    (share / "applications" / "other.desktop").write_text("[Desktop Entry]\n")
    (share / "tlstudio").mkdir()
    (share / "tlstudio" / "trusted_models.json").write_text("{}")
    app = _fake_app(tmp_path / "dist" / "tlstudio")

    done = _install(home, app)
    assert done.returncode == 0, done.stderr
    opt = home / ".local" / "opt" / "tlstudio"
    assert (opt / "_internal" / "lib.so").is_file()
    link = home / ".local" / "bin" / "tlstudio"
    assert subprocess.run([str(link), "--selftest"], capture_output=True, text=True).stdout.strip() == "fake tlstudio --selftest"
    desktop = (share / "applications" / "tlstudio.desktop").read_text()
    assert f"Exec={opt}/tlstudio %f" in desktop
    for size in (16, 48, 256, 512):
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "tlstudio.png").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "tlstudio.svg").is_file()

    again = _install(home, app)  # an update replaces the old files
    assert again.returncode == 0, again.stderr

    done = _install(home, "--uninstall")
    assert done.returncode == 0, done.stderr
    assert not opt.exists() and not link.exists() and not link.is_symlink()
    assert not (share / "applications" / "tlstudio.desktop").exists()
    assert not list((share / "icons").rglob("tlstudio.*"))
    assert (share / "applications" / "other.desktop").is_file()
    assert (share / "tlstudio" / "trusted_models.json").read_text() == "{}"
    assert app.is_dir()  # the built folder it was installed from is left alone
    assert _install(home, "--uninstall").returncode == 1  # nothing left to remove, and it says so


def test_install_refuses_a_folder_it_did_not_make(tmp_path):
    home = tmp_path / "home"
    mine = home / ".local" / "opt" / "tlstudio"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    done = _install(home, _fake_app(tmp_path / "app"))
    assert done.returncode == 1
    assert "was not installed by this script" in done.stderr
    assert (mine / "notes.txt").read_text() == "mine"

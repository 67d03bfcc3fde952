"""scripts/check_qt_libs.sh: every library Qt's X11 plugin lacks, and its package, in one line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_qt_libs.sh"


def run_check(tmp_path, ldd_output: str | None):
    env = dict(os.environ)
    if ldd_output is not None:  # an ldd that reports what a bare machine would
        fake = tmp_path / "bin"
        fake.mkdir()
        (fake / "ldd").write_text(f"#!/bin/sh\ncat <<'END'\n{ldd_output}\nEND\n")
        (fake / "ldd").chmod(0o755)
        env["PATH"] = f"{fake}{os.pathsep}{env['PATH']}"
    return subprocess.run(["bash", str(SCRIPT), sys.executable], capture_output=True, text=True, env=env, timeout=60)


def test_every_missing_library_is_named_with_its_package_in_one_line(tmp_path):
    done = run_check(tmp_path, (
        "\tlibQt6XcbQpa.so.6 => /opt/lib/libQt6XcbQpa.so.6 (0x1)\n"
        "\tlibxcb-icccm.so.4 => not found\n"
        "\tlibxcb-keysyms.so.1 => not found\n"
        "\tlibxkbcommon-x11.so.0 => not found\n"
        "\tlibxcb-icccm.so.4 => not found\n"  # ldd repeats a library each dependency needs
        "\tlibxcb.so.1 => /lib/libxcb.so.1 (0x2)"
    ))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.strip() == (
        "Qt's X11 support is missing libxcb-icccm.so.4, libxcb-keysyms.so.1, libxkbcommon-x11.so.0: install them "
        "(Debian/Ubuntu: sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0)."
    )


def test_silent_when_nothing_is_missing(tmp_path):
    done = run_check(tmp_path, "\tlibxcb.so.1 => /lib/libxcb.so.1 (0x2)")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")

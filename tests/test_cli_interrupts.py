"""Ctrl-C at the awkward moments: during export, and while the interpreter shuts down; and what a killed write leaves."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.source_digest import digest

REPO = Path(__file__).resolve().parent.parent


def _as_from_a_terminal() -> None:
    # A suite started in the background by a shell (`pytest &`) ignores SIGINT, a child inherits
    # that, and Python then installs no Ctrl-C handler: the command would never see these signals.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(code: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, preexec_fn=_as_from_a_terminal)


def _wait_for(proc: subprocess.Popen, marker: str, seen: list[str], timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("exited before " + marker + ":\n" + "".join(seen))
        seen.append(line)
        if marker in line:
            return
    raise AssertionError("no " + marker + " in time:\n" + "".join(seen))


def test_ctrl_c_during_interpreter_shutdown_exits_130_without_a_traceback(tiny_spec, tmp_path):
    """A slow atexit handler stands for a library's teardown (torch joins its threads there)."""
    before = digest(tiny_spec.root)
    code = (
        "import atexit, sys, time\n"
        "atexit.register(lambda: (print('tearing down', flush=True), time.sleep(60)))\n"
        "from tlstudio.__main__ import main\n"
        f"sys.exit(main(['scan', {str(tiny_spec.root)!r}]))\n"
    )
    proc, seen = _start(code, tmp_path), []
    _wait_for(proc, "tearing down", seen, timeout=120)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=30)
    output = "".join(seen) + rest
    assert proc.returncode == 130, output
    assert "Skipped files: none" in output and "Traceback" not in output and "KeyboardInterrupt" not in output
    assert digest(tiny_spec.root) == before


def test_second_ctrl_c_during_export_exits_130_and_leaves_no_temp_file(tiny_spec, tmp_path):
    """The first Ctrl-C cancels training, which then exports the kept epoch; a
    second one while the export checks the file ends the command cleanly."""
    before = digest(tiny_spec.root)
    out = tmp_path / "out"
    code = (
        "import sys, time\n"
        "from tlstudio.core.delivery import export\n"
        "def slow_verify(*args):\n"
        "    print('VERIFYING', file=sys.stderr, flush=True)\n"
        "    time.sleep(120)\n"
        "export.verify_file = slow_verify\n"
        "from tlstudio.__main__ import main\n"
        f"sys.exit(main(['train', {str(tiny_spec.root)!r}, '--freeze-epochs', '1', '--epochs', '5', '--size', '32',"
        f" '--bs', '8', '--device', 'cpu', '--export', {str(out / 'model.pkl')!r}]))\n"
    )
    proc, seen = _start(code, tmp_path), []
    _wait_for(proc, "Stage 2:", seen)
    proc.send_signal(signal.SIGINT)
    _wait_for(proc, "VERIFYING", seen)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    output = "".join(seen) + rest
    assert proc.returncode == 130, output
    assert "Cancelling training after the current batch" in output
    assert output.rstrip().endswith("tlstudio train: interrupted"), output
    assert "Traceback" not in output
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp") or ".export-" in p.name or p.name.endswith(".lock")]
    assert digest(tiny_spec.root) == before

"""A lock file that names its holder's pid: created exclusively, removed when done, and taken
over when the process that left it is gone (killed, crashed, the machine restarted).

Used where two processes must not write the same thing at once: an export target
(`delivery/target.py`) and a run being trained (`project/runs.py`).
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Callable


def pid_alive(pid: int) -> bool:
    """Is process `pid` running? Another user's process counts as running."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        return _alive_on_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Exited, only its exit status left for a parent to collect: a process whose parent was
    killed stays so until a reaper comes by, which in some sessions is never."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False  # no /proc (macOS): os.kill's answer stands
    return state in ("Z", "X")


def _alive_on_windows(pid: int) -> bool:
    # On Windows os.kill(pid, 0) would terminate the process: ask for its exit code instead.
    import ctypes

    kernel32 = ctypes.windll.kernel32
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # access denied: another user's process, alive
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def holder(path: Path) -> int | None:
    """The pid in lock file `path` when that process is alive, else None."""
    try:
        pid = int(Path(path).read_text().strip() or 0)
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


@contextlib.contextmanager
def pid_lock(path: Path, busy: Callable[[int | None], Exception]):
    """Hold lock file `path` for the block. When a live process holds it, raise `busy(pid)`;
    a lock left by a dead process is taken over once."""
    path = Path(path)
    for attempt in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            pid = holder(path)
            if pid is not None or attempt:
                raise busy(pid) from None
            path.unlink(missing_ok=True)  # stale: its writer is gone
    try:
        os.write(fd, str(os.getpid()).encode())
    finally:
        os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)

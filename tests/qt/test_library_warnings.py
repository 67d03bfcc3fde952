"""The window silences fastai's torch.jit.script FutureWarnings, in its own process and in the processes it starts."""
from __future__ import annotations

import subprocess
import sys



def test_a_started_process_prints_no_jit_warnings_once_quieted():
    from tlstudio.library_warnings import quiet_library_warnings

    environ = {"PYTHONWARNINGS": "default::DeprecationWarning"}
    quiet_library_warnings(environ)
    assert environ["PYTHONWARNINGS"].startswith("default::DeprecationWarning,ignore:`torch.jit.script` is deprecated:FutureWarning")
    quiet_library_warnings(environ)  # twice: the same entries, not doubled
    assert environ["PYTHONWARNINGS"].count("torch.jit.script") == 1

    loud = subprocess.run([sys.executable, "-c", "import fastai.layers"], capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin"})
    assert "`torch.jit.script` is deprecated" in loud.stderr  # what a user saw without the filter
    quiet = subprocess.run([sys.executable, "-c", "import fastai.layers"], capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin", **environ})
    assert "torch.jit.script" not in quiet.stderr, quiet.stderr
    assert quiet.returncode == 0

"""The engine stays Qt-free: nothing under tlstudio/core imports a Qt binding or pyqtgraph."""
import ast
import subprocess
import sys
from pathlib import Path

import tlstudio

FORBIDDEN = {"PySide6", "PySide2", "PyQt5", "PyQt6", "pyqtgraph", "superqt", "qtpy", "shiboken6"}
CORE = Path(tlstudio.__file__).parent / "core"


def imported_roots(source: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
            if node.module.startswith("tlstudio.qt"):
                roots.add("tlstudio.qt")
    return roots


def test_scan_finds_a_forbidden_import():
    assert "PySide6" in imported_roots("def f():\n    from PySide6.QtCore import Qt\n")
    assert "tlstudio.qt" in imported_roots("from tlstudio.qt.workers import EngineTask\n")


def test_core_never_imports_qt():
    offenders = {
        str(path.relative_to(CORE)): sorted(imported_roots(path.read_text(encoding="utf-8")) & (FORBIDDEN | {"tlstudio.qt"}))
        for path in CORE.rglob("*.py")
    }
    assert list(CORE.rglob("*.py")), "no engine modules found"
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_engine_loads_no_qt():
    modules = [f"tlstudio.core.{p.stem}" for p in CORE.glob("*.py") if p.stem != "__init__"]
    code = (
        "import sys\n"
        f"for m in {modules!r}: __import__(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""

"""The engine stays Qt-free and layered: nothing under tlstudio/core imports a Qt binding or
pyqtgraph, its folders keep the order of the import-linter contracts, and no two of its modules
import each other, however indirectly."""
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


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_importing_the_engine_loads_no_qt():
    modules = [_module_name(p) for p in CORE.rglob("*.py")]
    assert "tlstudio.core.training.run" in modules and "tlstudio.core.dataset.scan" in modules
    code = (
        "import sys\n"
        f"for m in {modules!r}: __import__(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_the_import_linter_contracts_are_kept():
    """Layers (jobs > doctor > training | delivery > dataset > models > leaf types) and no Qt in core."""
    root = CORE.parent.parent
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter)], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "broken" in done.stdout and " 0 broken" in done.stdout


def test_core_has_no_import_cycles():
    """A cycle (for example a scan that imports its layouts, which import the scan's types) makes
    the import order fragile; types go in their own module instead. Function-level imports count."""
    import grimp

    graph = grimp.build_graph("tlstudio", include_external_packages=False)
    core = sorted(m for m in graph.modules if m.startswith("tlstudio.core"))
    cycles = set()
    for module in core:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith("tlstudio.core") and imported != module:
                if graph.chain_exists(importer=imported, imported=module):
                    cycles.add(tuple(sorted((module, imported))))
    assert sorted(cycles) == []

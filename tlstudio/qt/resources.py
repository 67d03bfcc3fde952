"""Files the app ships with: the icon and the demo dataset."""
from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent.parent / "resources"
ICON = RESOURCES / "icons" / "tlstudio.svg"
DEMO_DATASET = RESOURCES / "demo"


def app_icon():
    from PySide6.QtGui import QIcon

    return QIcon(str(ICON))

"""The Help menu: keyboard shortcuts, how TL Studio trains, and About (versions and licences)."""
from __future__ import annotations

import html
from importlib import metadata

from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMainWindow, QTextBrowser, QVBoxLayout, QWidget

import tlstudio

# What TL Studio is built on and each project's licence; versions are read from the installed distributions.
LIBRARIES = (
    ("fastai", "Apache-2.0"),
    ("torch", "BSD-3-Clause"),
    ("torchvision", "BSD-3-Clause"),
    ("timm", "Apache-2.0"),
    ("PySide6", "LGPL-3.0 (Qt for Python; Qt itself LGPL-3.0)"),
    ("pyqtgraph", "MIT"),
    ("numpy", "BSD-3-Clause"),
    ("Pillow", "MIT-CMU"),
    ("onnx", "Apache-2.0"),
    ("onnxruntime", "MIT"),
)

HOW_IT_TRAINS = """
<h3>How TL Studio trains</h3>
<p>TL Studio follows fastai's transfer-learning recipe on a network pretrained on ImageNet.</p>
<ol>
<li><b>Data</b>: the images are split into training and validation sets (your train/valid folders,
or a seeded random share of the images). Every image is resized to the size chosen on Augment.</li>
<li><b>Augment</b>: training batches get random flips, rotations, zooms, warps and lighting changes
(fastai's <code>aug_transforms</code>), so the model sees a new variation of each image every epoch.
Validation images are only resized.</li>
<li><b>Stage 1, the head</b>: the pretrained body is frozen; only the new head (the last layers, sized
for your classes) trains, at the head rate. With the body frozen its features never change, so
TL Studio computes them once and trains the head on them in seconds.</li>
<li><b>Stage 2, unfrozen</b>: the last layer groups chosen on Model are unfrozen and trained with
discriminative learning rates: the top rate for the head, smaller rates for earlier groups
(fastai's <code>slice</code>), following the one-cycle schedule.</li>
<li><b>Learning rate</b>: fastai's LR finder raises the rate step by step on a few batches and plots the
loss; a good rate sits where the loss still falls steeply, before it turns up.</li>
<li><b>Keep best</b>: after every epoch the validation loss and accuracy are measured; with Keep
best on, the weights of the most accurate epoch are kept at the end (of equally accurate ones, the
one with the lower loss), not merely the last.</li>
<li><b>Evaluate and export</b>: the kept model is run over the validation (or test) split, and every
exported file is reloaded and checked against the model's own predictions.</li>
</ol>
"""


def _version(name: str) -> str:
    if name == "PySide6":  # installed as PySide6 or as its pyside6_essentials part
        import PySide6
        from PySide6.QtCore import qVersion

        return f"{PySide6.__version__} (Qt {qVersion()})"
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def about_html() -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(_version(name))}</td><td>{html.escape(licence)}</td></tr>"
        for name, licence in LIBRARIES
    )
    return (
        f"<h3>TL Studio {html.escape(tlstudio.__version__)}</h3>"
        "<p>Transfer learning on images, offline. Licensed under the Apache License 2.0.</p>"
        "<p>Demo images: a sample of Fashion-MNIST (Zalando Research), MIT licence.</p>"
        "<table cellspacing='0' cellpadding='3'><tr><th align='left'>Built on</th>"
        f"<th align='left'>Version</th><th align='left'>Licence</th></tr>{rows}</table>"
    )


def shortcuts_html(window: QMainWindow) -> str:
    """Every shortcut the window has: its menu actions, then the pages' own keys (such as Esc to cancel)."""
    rows = []
    for action in window.findChildren(QAction):
        if not action.shortcut().isEmpty() and action.text():
            rows.append((action.shortcut().toString(QKeySequence.SequenceFormat.NativeText), action.text().replace("&", "").rstrip("…")))
    for shortcut in window.findChildren(QShortcut):
        what = shortcut.whatsThis()
        if what and not shortcut.key().isEmpty():
            rows.append((shortcut.key().toString(QKeySequence.SequenceFormat.NativeText), what))
    seen, body = set(), []
    for keys, text in rows:
        if (keys, text) not in seen:
            seen.add((keys, text))
            body.append(f"<tr><td><b>{html.escape(keys)}</b></td><td>{html.escape(text)}</td></tr>")
    return "<h3>Keyboard shortcuts</h3><table cellspacing='0' cellpadding='3'>" + "".join(body) + "</table>"


class HelpDialog(QDialog):
    """A non-modal window of rich text."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.browser = QTextBrowser(openExternalLinks=False)
        self.browser.setHtml(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(560, 520)


def add_help_menu(window: QMainWindow) -> None:
    """Adds Help to `window`'s menu bar; each entry opens its dialog (kept in `window.help_dialogs`)."""
    menu = window.menuBar().addMenu("&Help")
    window.help_dialogs = {}

    def show(title: str, text) -> None:
        dialog = HelpDialog(title, text(), window)
        window.help_dialogs[title] = dialog
        dialog.show()

    for title, text, key in (
        ("Keyboard shortcuts", lambda: shortcuts_html(window), "F1"),
        ("How TL Studio trains", lambda: HOW_IT_TRAINS, None),
        ("About TL Studio", about_html, None),
    ):
        action = menu.addAction(title, lambda t=title, x=text: show(t, x))
        if key:
            action.setShortcut(QKeySequence(key))
        if title.startswith("About"):
            action.setMenuRole(QAction.MenuRole.AboutRole)

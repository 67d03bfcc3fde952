"""The engine: plain Python, fastai and torch. Never imports Qt or pyqtgraph."""

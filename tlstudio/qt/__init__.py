"""The desktop window. May import tlstudio.core; the engine never imports this package.

Modules here must not import torch or fastai at import time: the window has to
paint before those heavy libraries load (they load on first use, in a worker).
"""

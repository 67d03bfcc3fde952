"""The app's side of a `.tlsmodel` check, run as `python -m tlstudio.core.delivery.verify_child
MODEL LISTING` in a fresh process by `verify.verify_file`: load the file as `load_model` does and
print its probabilities for the listed images as JSON."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _main(argv: list[str]) -> int:
    """The app's side of a `.tlsmodel` check: load it as `load_model` does, print probabilities."""
    import warnings

    warnings.simplefilter("ignore")
    from tlstudio.core.delivery.export import load_model

    model_path, listing = argv
    paths = [Path(p) for p in json.loads(Path(listing).read_text(encoding="utf-8"))]
    model = load_model(model_path)
    print(json.dumps({"classes": model.classes, "probabilities": model.probabilities(paths).tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

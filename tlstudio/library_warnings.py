"""Library warnings that tell a user nothing they can act on, silenced in one place
for the window, the training processes it starts, and the CLI."""
from __future__ import annotations

import os
import re
import warnings

# (start of the message, category)
QUIET = (
    # fastai 2.8's layers.py decorates four functions with torch.jit.script at
    # import, which torch >= 2.10 deprecates: one FutureWarning each, in every
    # process that imports fastai.
    ("`torch.jit.script` is deprecated", FutureWarning),
    # fastai's own note on pickles; TL Studio opens a pickle only when trusted.
    ("load_learner` uses Python's insecure pickle", UserWarning),
)


def quiet_library_warnings(environ=os.environ) -> None:
    """Ignore QUIET here and, through PYTHONWARNINGS, in processes started from here
    (a spawned training process is a fresh interpreter that reads it at start)."""
    entries = [e for e in environ.get("PYTHONWARNINGS", "").split(",") if e]
    for text, category in QUIET:
        warnings.filterwarnings("ignore", message=re.escape(text), category=category)
        entry = f"ignore:{text}:{category.__name__}"
        if entry not in entries:
            entries.append(entry)
    environ["PYTHONWARNINGS"] = ",".join(entries)

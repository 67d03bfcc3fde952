"""Projects: a folder holding a dataset's location, every page's choices and every run.

Modules, from the leaves up: `layout` (names and paths), `json_files`,
`dataset_ref` (fingerprint, moved datasets), `project_file` (project.json),
`config_json`, `history`, `evaluation`, `runs` (run.json, which run is
training), `checkpoint` (the file), `optimizer_state` and `rng_state` (what
it holds), `fastai_resume` (fastai issue #3780), `checkpointing` (the
callback and the RunHooks that save and resume), `starting_model` (start
from your own model), `train_run` (train or resume a run: what the CLI and
the window call), `run_summaries` and `compare` (what the Runs panel shows).
Format: docs/projects.md. Importing this package imports neither torch nor fastai.
"""

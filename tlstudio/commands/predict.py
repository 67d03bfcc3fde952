"""`tlstudio predict MODEL IMAGE...`: top-k classes with probabilities for each image.

MODEL is any model file: .tlsmodel, .pkl, .onnx (through onnxruntime) or .pt
(through torch.jit). A folder given as IMAGE stands for the images directly
inside it. An image that cannot be read is reported on its own line and the
exit status is 1; the other images are still predicted. `--csv` writes one
row per image (atomically: a temp file moved into place).
"""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="classify images with an exported model",
        description="Load a model file (.tlsmodel, .pkl, .onnx or .pt) and print the top-k classes for each image.",
    )
    parser.add_argument("model", help="model file (.tlsmodel, .pkl, .onnx or .pt)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files, or folders of images")
    parser.add_argument("--top-k", type=int, default=3, help="how many classes to list per image (3)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--csv", metavar="FILE", help="also write the predictions to FILE as CSV")
    add_trust_argument(parser)
    parser.set_defaults(run=run)


def expand(paths: list[str]) -> list[Path]:
    from tlstudio.core.dataset.scan import IMAGE_EXTENSIONS

    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        else:
            out.append(p)
    return out


def run(args) -> int:
    from tlstudio.cli import UserError
    from tlstudio.commands.console import quiet_library_warnings
    from tlstudio.core.jobs.delivery import PredictImagesJob
    from tlstudio.core.jobs.host import run_here
    from tlstudio.core.printable import printable

    quiet_library_warnings()
    if args.top_k < 1:
        raise UserError("--top-k must be at least 1")
    images = expand(args.images)
    if not images:
        raise UserError(f"no images found in {', '.join(args.images)}")
    model = hold_trusted(args)
    preds = run_here(PredictImagesJob(model.model_id, images, top_k=args.top_k))  # the window's job, here
    if args.csv:
        write_csv(Path(args.csv), preds, args.top_k)
    if args.json:
        json.dump([as_dict(p) for p in preds], sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        for p in preds:
            if p.error:
                print(f"{printable(p.path)}: error: {printable(p.error.removeprefix(f'{p.path}: '))}", file=sys.stderr)
            else:
                ranked = ", ".join(f"{printable(label)} {prob:.1%}" for label, prob in p.top_k)
                print(f"{printable(p.path)}: {printable(p.label)} ({p.prob:.1%})  [{ranked}]")
    return 1 if any(p.error for p in preds) else 0


def as_dict(p) -> dict:
    return {
        "path": str(p.path),
        "label": p.label,
        "prob": p.prob,
        "top_k": [{"label": label, "prob": prob} for label, prob in p.top_k],
        "error": p.error,
    }


def write_csv(path: Path, preds, top_k: int) -> None:
    from tlstudio.core.atomic_files import atomic_write_text

    buf = io.StringIO()
    out = csv.writer(buf)
    ranks = range(1, top_k + 1)
    out.writerow(["path", "label", "prob", *(f"{name}_{r}" for r in ranks for name in ("label", "prob")), "error"])
    for p in preds:
        ranked = [v for label, prob in p.top_k for v in (label, f"{prob:.6f}")]
        ranked += [""] * (2 * top_k - len(ranked))
        out.writerow([str(p.path), p.label or "", "" if p.prob is None else f"{p.prob:.6f}", *ranked, p.error or ""])
    atomic_write_text(path, buf.getvalue())


def add_trust_argument(parser) -> None:
    """`--trust`, for every command that opens a model file; `load_trusted` reads it."""
    parser.add_argument("--trust", action="store_true",
                        help="load a .pkl or .pt this app did not export on this machine (both can run code: only files you trust)")


def load_trusted(args):
    from tlstudio.cli import UserError
    from tlstudio.core.delivery.export import UntrustedModelError, load_model

    try:
        return load_model(args.model, trust=args.trust)
    except UntrustedModelError as exc:
        raise UserError(f"{exc} (pass --trust to load it anyway)") from None


def hold_trusted(args):
    """`load_trusted` as the window does it, through `LoadModelJob`: the model is held in this
    process and the jobs that use it take its id (`HeldModelFile.model_id`)."""
    from tlstudio.cli import UserError
    from tlstudio.core.delivery.export import UntrustedModelError
    from tlstudio.core.jobs.delivery import LoadModelJob
    from tlstudio.core.jobs.host import run_here

    held = run_here(LoadModelJob(Path(args.model), trust=args.trust))
    if isinstance(held, UntrustedModelError):
        raise UserError(f"{held} (pass --trust to load it anyway)")
    return held

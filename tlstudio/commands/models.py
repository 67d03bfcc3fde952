"""`tlstudio models`: the architecture registry and where each one's weights are."""
from __future__ import annotations

import json


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the architectures and whether their pretrained weights are on this machine",
        description="List the architectures TL Studio can train, with parameter count, input size, "
        "layer groups (what the unfreeze depth counts) and where their pretrained weights are.",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--import", dest="import_weights", nargs=2, metavar=("ARCH", "FILE"),
        help="check a .pth ImageNet weights file against ARCH and keep it in the torch hub cache, "
        "so ARCH trains pretrained offline from now on",
    )
    parser.set_defaults(run=run)


def rows() -> list[dict]:
    from tlstudio.core.models.registry import ARCHS
    from tlstudio.core.models.weights import weights_available

    out = []
    for info in ARCHS.values():
        status = weights_available(info.name)
        out.append({
            "name": info.name,
            "source": info.source,
            "params": info.params,
            "input_size": info.input_size,
            "layer_groups": info.n_groups,
            "group_names": list(info.group_names),
            "weights": status or "not on this machine",
            "weights_available": status is not None,
        })
    return out


def format_table(table: list[dict]) -> str:
    header = ("architecture", "source", "params", "input", "groups", "weights")
    lines = [
        (r["name"], r["source"], f"{r['params'] / 1e6:.1f}M", str(r["input_size"]), str(r["layer_groups"]), r["weights"])
        for r in table
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header) - 1)]
    right = {2, 3, 4}  # numbers line up on the right

    def fmt(row):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells + [row[-1]])

    return "\n".join(fmt(row) for row in [header, *lines])


def run(args) -> int:
    if args.import_weights:
        from tlstudio.core.models.weights import import_weights_file

        arch, path = args.import_weights
        cached = import_weights_file(arch, path)
        print(f"{arch}: weights from {path} checked and kept as {cached}")
    table = rows()
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        print(format_table(table))
        if not any(r["weights_available"] for r in table):
            print("\nNo pretrained weights on this machine; import a .pth with --weights FILE.")
    return 0

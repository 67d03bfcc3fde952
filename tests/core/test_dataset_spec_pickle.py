"""A spec crosses to the engine process and back in every job: it must come back equal, and
travel as a few strings rather than one object per image (docs/benchmarks.md, "Engine process")."""
from __future__ import annotations

import pickle
import pickletools
from pathlib import Path

from tlstudio.core.dataset.spec import DatasetSpec, SkippedFile


def spec_of(n: int) -> DatasetSpec:
    items = [Path(f"/data/{'cat' if i % 2 else 'dog'}/img {i}\udcff.png") for i in range(n)]  # a space, a stray byte
    return DatasetSpec(Path("/data"), "class-folders", items, [p.parent.name for p in items],
                       ["train" if i % 5 else "valid" for i in range(n)], ["cat", "dog"],
                       skipped=[SkippedFile(Path("/data/x.txt"), "not-an-image", "x.txt is not an image")],
                       seed=3, sizes=[(i, i + 1) for i in range(n)], modes=["RGB" if i % 3 else "L" for i in range(n)])


def test_a_spec_comes_back_equal_and_typed():
    for n in (0, 1, 2000):
        spec = spec_of(n)
        back = pickle.loads(pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == spec
        assert all(isinstance(p, Path) for p in back.items) and all(isinstance(s, tuple) for s in back.sizes)


def test_a_large_spec_travels_as_a_few_objects_not_one_per_image():
    blob = pickle.dumps(spec_of(20_000), protocol=pickle.HIGHEST_PROTOCOL)
    built = sum(1 for op, _, _ in pickletools.genops(blob) if op.name in ("REDUCE", "NEWOBJ", "SHORT_BINUNICODE",
                                                                           "BINUNICODE", "TUPLE2"))
    assert built < 100, built  # per image it was a Path, two strings and a size tuple: 80,000 and more

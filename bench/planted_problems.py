"""Build a dataset with known problems planted in it, for the doctor's tests and benchmark.

    plant(dest, sources, ...) -> Planted

`sources` maps each class to its images (real pictures, e.g. the demo set or
Fashion-MNIST). They are copied into dest/train/<class>/ and
dest/valid/<class>/, then, each from its own untouched source image:
exact duplicates re-encoded in another format under another name, near
duplicates (resized, recompressed as JPEG, brightened, slightly cropped),
train images copied into valid (leaks, half exact, half near), images copied
into a second class (conflicting labels) and images moved into a wrong class
folder (flipped labels). `Planted` says which files are which.
"""
from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageEnhance

EXACT_FORMATS = (("BMP", ".bmp"), ("TIFF", ".tif"), ("PNG", ".png"))


def _resized(im):
    return im.resize((im.width * 3 // 2, im.height * 3 // 2), Image.BICUBIC)


def _jpeg(im):
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=75)
    return Image.open(io.BytesIO(buffer.getvalue()))


def _brighter(im):
    return ImageEnhance.Brightness(im).enhance(1.15)


def _cropped(im):  # about 4% off each side of a 28-pixel image
    d = max(1, round(im.width * 0.04))
    return im.crop((d, d, im.width - d, im.height - d))


NEAR_TRANSFORMS = {"resized": _resized, "jpeg": _jpeg, "brighter": _brighter, "cropped": _cropped}


@dataclass
class Planted:
    root: Path
    exact: list[frozenset] = field(default_factory=list)  # pixel-identical pairs (leaks and conflicts included)
    near: list[frozenset] = field(default_factory=list)  # transformed pairs (near leaks included)
    leaks: list[frozenset] = field(default_factory=list)  # a train image and its copy in valid
    conflicts: list[frozenset] = field(default_factory=list)  # one image in two class folders
    flipped: dict = field(default_factory=dict)  # path in the wrong class folder -> its true class
    near_how: dict = field(default_factory=dict)  # near pair -> transform name


def plant(dest, sources: dict[str, list[Path]], *, valid_per_class: int, n_exact: int, n_near: int,
          n_leaks: int, n_conflicts: int = 0, flip_fraction: float = 0.05, seed: int = 0) -> Planted:
    rng = random.Random(seed)
    dest = Path(dest).absolute()
    out = Planted(dest)
    train: list[tuple[str, Path]] = []
    for cls, paths in sorted(sources.items()):
        for i, src in enumerate(paths):
            split = "valid" if i < valid_per_class else "train"
            target = dest / split / cls / f"{cls}_{i:05d}{src.suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())
            if split == "train":
                train.append((cls, target))
    n_flips = round(flip_fraction * sum(len(p) for p in sources.values()))
    picks = rng.sample(train, n_exact + n_near + n_leaks + n_conflicts + n_flips)
    classes = sorted(sources)

    def copy(src: Path, folder: Path, name: str, im, fmt: str = "PNG") -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        im.save(path, fmt)
        return path

    for k, (cls, src) in enumerate(picks[:n_exact]):
        fmt, ext = EXACT_FORMATS[k % len(EXACT_FORMATS)]
        dup = copy(src, src.parent, f"copy_{k:03d}{ext}", Image.open(src), fmt)
        out.exact.append(frozenset((src, dup)))
    transforms = list(NEAR_TRANSFORMS.items())
    for k, (cls, src) in enumerate(picks[n_exact : n_exact + n_near]):
        how, transform = transforms[k % len(transforms)]
        dup = copy(src, src.parent, f"near_{how}_{k:03d}.png", transform(Image.open(src)))
        pair = frozenset((src, dup))
        out.near.append(pair)
        out.near_how[pair] = how
    start = n_exact + n_near
    for k, (cls, src) in enumerate(picks[start : start + n_leaks]):
        valid = dest / "valid" / cls
        if k % 2 == 0:
            dup = copy(src, valid, f"leak_{k:03d}.png", Image.open(src))
            out.exact.append(frozenset((src, dup)))
        else:
            how, transform = transforms[k // 2 % len(transforms)]
            dup = copy(src, valid, f"leak_{how}_{k:03d}.png", transform(Image.open(src)))
            out.near.append(frozenset((src, dup)))
            out.near_how[frozenset((src, dup))] = how
        out.leaks.append(frozenset((src, dup)))
    start += n_leaks
    for k, (cls, src) in enumerate(picks[start : start + n_conflicts]):
        other = rng.choice([c for c in classes if c != cls])
        dup = copy(src, src.parent.parent / other, f"conflict_{k:03d}.png", Image.open(src))
        out.exact.append(frozenset((src, dup)))
        out.conflicts.append(frozenset((src, dup)))
    for cls, src in picks[start + n_conflicts :]:
        other = rng.choice([c for c in classes if c != cls])
        moved = src.parent.parent / other / f"flipped_{src.name}"
        src.rename(moved)
        out.flipped[moved] = cls
    return out


@dataclass(frozen=True)
class Score:
    planted: int
    found: int  # planted problems the doctor found
    reported: int  # findings of the kind
    correct: int  # findings that hold a planted problem

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.reported if self.reported else 1.0


def score_sets(truth: list[frozenset], findings: list) -> Score:
    """A planted set counts as found when one finding holds all its files; a
    finding counts as correct when it holds at least one planted set."""
    sets = [frozenset(Path(f) for f in finding.files) for finding in findings]
    found = sum(any(t <= s for s in sets) for t in truth)
    correct = sum(any(t <= s for t in truth) for s in sets)
    return Score(len(truth), found, len(sets), correct)


def score_flips(flipped: dict, findings: list, top: int) -> Score:
    """Flipped images among the first `top` label-issue findings (and whether
    the suggested label is the true one does not matter here)."""
    head = [Path(f.files[0]) for f in findings[:top]]
    found = sum(p in flipped for p in head)
    return Score(len(flipped), found, len(head), found)

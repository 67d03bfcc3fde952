"""The decode-once image cache: its batches are today's pipeline's, a damaged
file is rebuilt, its name follows what it holds, and it steps aside when it
would not fit."""
from __future__ import annotations

import os
import pickle
import random

import numpy as np
import pytest
import torch
from fastai.vision.augment import Resize
from PIL import Image
from skimage import data as skdata

from tlstudio.core.config import AugmentConfig, TrainConfig
from tlstudio.core.dataset import image_cache, image_cache_budget
from tlstudio.core.dataset.cached_loader import CachedImageDL
from tlstudio.core.dataset.loaders import RESIZE_METHODS, make_dataloaders
from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.training.image_reading import loader_options
from tlstudio.core.events import Cancelled, ListReporter, Message, Progress

CPU = torch.device("cpu")


def _config(size=32, method="crop", **changes) -> TrainConfig:
    return TrainConfig(augment=AugmentConfig(size=size, resize_method=method), bs=8, device="cpu", **changes)


def _both(spec, config):
    """Today's DataLoaders and the cache's, for one spec and config."""
    options, _ = loader_options(spec, config, CPU, ListReporter())
    assert options.get("dl_type") is CachedImageDL
    plain = make_dataloaders(spec, config.augment, bs=config.bs, device=CPU)
    cached = make_dataloaders(spec, config.augment, bs=config.bs, device=CPU, **options)
    return plain, cached


def _raw(dl):
    """Every batch of `dl` in item order, before any batch transform."""
    dl = dl.new(shuffle=False, drop_last=False, after_batch=[])
    xs, ys = zip(*dl)
    return torch.cat(xs), torch.cat(ys)


@pytest.fixture
def photos(tmp_path):
    """Non-square RGB photos (landscape, portrait, near square, very wide) and
    a square one, in two classes, one per split pattern."""
    base = Image.fromarray(skdata.astronaut())
    shapes = [(96, 64), (64, 96), (150, 100), (65, 64), (100, 40), (80, 80), (120, 90), (90, 120)]
    items, labels, splits = [], [], []
    for i, (w, h) in enumerate(shapes):
        label = "a" if i % 2 else "b"
        split = "valid" if i in (2, 3) else "train"
        path = tmp_path / split / label / f"{w}x{h}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        base.resize((w, h), Image.BILINEAR).save(path)
        items.append(path)
        labels.append(label)
        splits.append(split)
    return DatasetSpec(tmp_path, "split-folders", items, labels, splits, ["a", "b"])


@pytest.mark.parametrize("method", ["crop", "pad", "squish"])
def test_cached_batches_are_todays_pipeline_byte_for_byte(tiny_spec, method):
    """Validation batches, and the training items as the feature cache reads
    them (validation transforms), equal fastai's decode + Resize exactly; so do
    the training loader's items, which for square images have no random crop."""
    plain, cached = _both(tiny_spec, _config(method=method))
    for split in ("valid", "train"):
        dl_plain, dl_cached = getattr(plain, split), getattr(cached, split)
        (xp, yp), (xc, yc) = _raw(dl_plain), _raw(dl_cached)
        assert xc.dtype == torch.uint8 and type(xc).__name__ == "TensorImage"
        assert torch.equal(xp, xc) and torch.equal(yp, yc)
    test_plain = plain.test_dl(plain.train.items, with_labels=True)
    test_cached = cached.test_dl(cached.train.items, with_labels=True)
    assert test_cached._lookup() is not None  # served from the cache, not decoded
    for a, b in zip(_raw(test_plain), _raw(test_cached)):
        assert torch.equal(a, b)
    # The full batch pipeline (IntToFloatTensor, Normalize) on top gives the same floats.
    xp, _ = plain.valid.one_batch()
    xc, _ = cached.valid.one_batch()
    assert torch.equal(xp, xc) and xc.is_contiguous()


@pytest.mark.parametrize("method", ["crop", "pad"])
def test_non_square_photos_validation_rows_are_exact(photos, method):
    plain, cached = _both(photos, _config(size=48, method=method))
    for a, b in zip(_raw(plain.valid), _raw(cached.valid)):
        assert torch.equal(a, b)
    for a, b in zip(_raw(plain.test_dl(plain.train.items, with_labels=True)),
                    _raw(cached.test_dl(cached.train.items, with_labels=True))):
        assert torch.equal(a, b)


@pytest.mark.parametrize("method", ["crop", "pad"])
def test_training_windows_are_fastais_random_crop_to_the_nearest_pixel(photos, method, tmp_path):
    """The random training crop cannot be byte-exact: fastai crops the original
    and then resizes, the cache resized once and cuts its window afterwards.
    So the window sits on whole output pixels (fastai's crop start, in
    original pixels, lands between them) and blends across its edges. Checked:
    (1) of all the window positions the strip offers, the one taken is within
    one pixel of the one closest to fastai's item; (2) where fastai's start
    falls on a whole output pixel the two agree to a mean of 0.5 grey levels
    (the edge blend). Images wider than MAX_ASPECT (crop) or needing more
    reflection than they are wide (pad) keep only their centre's positions
    and are not checked here."""
    size = 48
    within = [p for p in photos.items if max(Image.open(p).size) / min(Image.open(p).size) <= 1.6]
    rng = random.Random(0)
    aligned_checked = 0
    for path in within:
        w, h = Image.open(path).size
        geometry = image_cache.strip_geometry(w, h, size, method)
        if geometry is None:
            continue
        cache = _single_item_cache(path, size, method, geometry, tmp_path)
        extent, transposed, span, cross = geometry
        pcts_list = [(0.0, 0.0), (1.0, 1.0), (0.5, 0.5)] + [(rng.random(), rng.random()) for _ in range(6)]
        for pcts in pcts_list:
            ours = cache.window(0, pcts).astype(int)
            resize = Resize(size, method=RESIZE_METHODS[method])
            resize.pcts = pcts
            theirs = np.asarray(resize.encodes(Image.open(path).convert("RGB"))).astype(int)
            windows = [_at(cache, off, transposed) for off in range(extent - size + 1)]
            (taken,) = [off for off, win in enumerate(windows) if np.array_equal(win, ours)]
            closest = int(np.argmin([np.abs(win - theirs).mean() for win in windows]))
            assert abs(taken - closest) <= 1, (path.name, pcts, taken, closest)
            start = _start(span, pcts[1] if transposed else pcts[0], method)
            if (start * size) % cross == 0:
                aligned_checked += 1
                assert np.abs(ours - theirs).mean() < 0.5, (path.name, pcts)
    assert aligned_checked >= 4


def _start(span, pct, method):
    return int(pct * span) if method == "crop" else span - int(pct * span)


def _at(cache, off, transposed):
    item = cache.strips[0, :, off: off + cache.size]
    return (item.transpose(1, 0, 2) if transposed else item).astype(int)


def _single_item_cache(path, size, method, geometry, tmp_path):
    plan = image_cache.CachePlan((str(path),), (geometry,), size, method, f"one-{path.stem}-{method}")
    return image_cache.open_or_build(plan, tmp_path / "single")


def test_training_loader_draws_random_windows_for_non_square_photos(photos):
    _, cached = _both(photos, _config(size=48))
    cache = cached.train.image_cache
    assert cache.strips is not None  # the landscape and portrait training photos have strips
    random.seed(1)
    first, _ = _raw(cached.train)
    random.seed(2)
    second, _ = _raw(cached.train)
    squares = [i for i, p in enumerate(cached.train.items["path"]) if cache.geometry[cache.row_of[p]] is None]
    moving = [i for i in range(len(first)) if i not in squares]
    assert moving and squares
    assert all(torch.equal(first[i], second[i]) for i in squares)
    assert any(not torch.equal(first[i], second[i]) for i in moving)


def test_show_batch_and_decode_work_on_the_cached_loaders(tiny_spec):
    import matplotlib

    matplotlib.use("Agg")
    _, cached = _both(tiny_spec, _config())
    batch = cached.train.one_batch()
    decoded = cached.train.decode_batch(batch, max_n=4)
    assert [str(label) for _, label in decoded] == [cached.vocab[int(y)] for y in batch[1][:4]]
    cached.train.show_batch(max_n=4, show=True)
    cached.valid.show_batch(max_n=4, show=True)


def test_files_the_cache_does_not_hold_are_decoded_as_today(tiny_spec, tmp_path):
    plain, cached = _both(tiny_spec, _config())
    new = tmp_path / "new.png"
    Image.fromarray(skdata.astronaut()).resize((40, 30)).save(new)
    import pandas as pd

    frame = pd.DataFrame({"path": [str(new), str(tiny_spec.items[0])]})
    dl = cached.test_dl(frame)
    assert dl._lookup() is None
    assert torch.equal(dl.one_batch()[0], plain.test_dl(frame).one_batch()[0])


def test_a_damaged_or_cut_short_cache_is_rebuilt_not_used(tiny_spec, tmp_path, monkeypatch):
    # A cache of its own: damaging the session's in place would pull the file from under the
    # session's trained model, which reads it through a memory map (a bus error, not a test).
    monkeypatch.setenv("TLSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    config = _config()
    options, _ = loader_options(tiny_spec, config, CPU, ListReporter())
    good = options["image_cache"]
    path = good.path
    rows = np.array(good.rows)

    def damage(how):
        raw = bytearray(path.read_bytes())
        if how == "cut":
            raw = raw[: len(raw) // 2]
        elif how == "pixel":
            raw[image_cache.PREAMBLE + 1000] ^= 0xFF
        elif how == "header":
            raw[:8] = b"garbage!"
        elif how == "table":
            raw[-20] ^= 0xFF
        path.write_bytes(bytes(raw))

    for how in ("cut", "pixel", "header", "table"):
        damage(how)
        with pytest.raises(image_cache.CacheCorrupt):
            image_cache.ImageCache(path)
        reporter = ListReporter()
        options, status = loader_options(tiny_spec, config, CPU, reporter)
        assert status.startswith("decoded once"), how
        built = [e for e in reporter.of_type(Progress) if e.task == image_cache.BUILD_TASK]
        assert built and built[-1].done == built[-1].total == len(tiny_spec.items), how
        assert np.array_equal(np.array(options["image_cache"].rows), rows), how


def test_an_interrupted_build_leaves_nothing_that_is_used(tiny_spec):
    config = _config(size=40)
    plan_folder = image_cache.cache_folder()
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, Progress) and e.done >= 8)
    with pytest.raises(Cancelled):
        loader_options(tiny_spec, config, CPU, reporter)
    assert not [p for p in plan_folder.iterdir() if p.name.endswith(".tmp")]
    # A temp file left by a killed build is not a cache: the next run builds.
    (plan_folder / ".left-over.tlsimg.0123456789ab.tmp").write_bytes(b"half")
    reporter = ListReporter()
    options, status = loader_options(tiny_spec, config, CPU, reporter)
    # A small cache is named in MB: 48 images at 40 px, 4,800 bytes each, and their crop strips.
    megabytes = options["image_cache"].nbytes / 1e6
    assert megabytes < 1 and status == f"decoded once (48 images, {megabytes:.1f} MB cache)"
    assert any(e.task == image_cache.BUILD_TASK for e in reporter.of_type(Progress))


def test_a_second_run_reuses_the_cache(tiny_spec, monkeypatch):
    config = _config(size=36)
    first, _ = loader_options(tiny_spec, config, CPU, ListReporter())
    built_at = first["image_cache"].path.stat().st_mtime_ns
    monkeypatch.setattr(image_cache, "build", lambda *a, **k: pytest.fail("built again"))
    reporter = ListReporter()
    again, _ = loader_options(tiny_spec, config, CPU, reporter)
    assert again["image_cache"].path == first["image_cache"].path
    assert again["image_cache"].path.stat().st_mtime_ns >= built_at
    assert not reporter.of_type(Progress)  # a small cache is checked too fast for a progress bar


def test_the_key_follows_size_method_and_the_images(tiny_spec, tmp_path):
    paths = [str(p) for p in tiny_spec.items]
    sizes = [(28, 28)] * len(paths)
    train = [s == "train" for s in tiny_spec.splits]

    def key(paths=paths, sizes=sizes, size=32, method="crop", train=train):
        return image_cache.plan_cache(paths, sizes, size, method, train).key

    base = key()
    assert key() == base
    assert key(size=48) != base
    assert key(method="pad") != base and key(method="squish") != base
    assert key(paths=paths[1:], sizes=sizes[1:], train=train[1:]) != base
    # A square image has no strip: its split does not matter. A wide one's does.
    assert key(train=[not t for t in train]) == base
    wide = [(56, 28)] * len(paths)
    assert key(sizes=wide) != key(sizes=wide, train=[not t for t in train])
    # A file changed on disk (new bytes, new time) is a new dataset.
    copy = tmp_path / "copy.png"
    copy.write_bytes(open(paths[0], "rb").read())
    changed = [str(copy)] + paths[1:]
    before = key(paths=changed)
    os.utime(copy, ns=(1, 1))
    assert key(paths=changed) != before
    # Labels are not part of it: relabelling reuses the cache.
    relabelled = DatasetSpec(tiny_spec.root, tiny_spec.layout, tiny_spec.items, ["bag"] * len(paths),
                             tiny_spec.splits, tiny_spec.classes)
    options_a, _ = loader_options(tiny_spec, _config(), CPU, ListReporter())
    options_b, _ = loader_options(relabelled, _config(), CPU, ListReporter())
    assert options_a["image_cache"].path == options_b["image_cache"].path


def test_over_the_budget_it_falls_back_to_todays_pipeline_and_says_so(tiny_spec):
    reporter = ListReporter()
    options, status = loader_options(tiny_spec, _config(size=44, image_cache_max_gb=1e-6), CPU, reporter)
    assert "dl_type" not in options
    (message,) = [m for m in reporter.of_type(Message)]
    assert message.text.startswith("Image cache not used: 48 images at 44 px need 0.0 GB, more than the 1e-06 GB "
                                   "image cache budget (image_cache_max_gb)")
    assert "decoding the images every epoch instead" in message.text and "\n" not in message.text
    assert status.startswith("decoded every epoch")
    dls = make_dataloaders(tiny_spec, AugmentConfig(size=44), bs=8, device=CPU, **options)
    assert not isinstance(dls.train, CachedImageDL)


def test_older_caches_make_room_within_the_budget(tmp_path):
    folder = tmp_path / "caches"
    folder.mkdir()
    for i, name in enumerate(("old", "mid", "new")):
        path = folder / f"{name}{image_cache.SUFFIX}"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1000 + i, 1000 + i))
    assert image_cache_budget.make_room(folder, needed=150, budget=300, keep="new.tlsimg")
    assert sorted(p.name for p in folder.iterdir()) == ["mid.tlsimg", "new.tlsimg"]
    assert not image_cache_budget.make_room(folder, needed=400, budget=300, keep="x")


def test_switched_off_it_is_todays_pipeline(tiny_spec):
    options, status = loader_options(tiny_spec, _config(image_cache=False), CPU, ListReporter())
    assert options == {} and status == "decoded every epoch (image cache off)"


def test_an_image_broken_since_the_scan_is_left_out_and_remembered(tmp_path, demo_dir):
    from fixtures_engine import make_tiny_spec
    from source_digest import damaged_data_png

    spec = make_tiny_spec(tmp_path / "data", demo_dir, per_class=8)
    bad = spec.items[5]
    damaged_data_png(bad, seed=0)
    options, _ = loader_options(spec, _config(size=30), CPU, ListReporter())
    cache = options["image_cache"]
    assert str(bad) in cache.failed and "cannot be decoded" in cache.failed[str(bad)]
    dls = make_dataloaders(spec, AugmentConfig(size=30), bs=8, device=CPU, **options)
    assert str(bad) not in set(dls.train.items["path"]) | set(dls.valid.items["path"])
    assert dls.train._lookup() is not None and dls.valid._lookup() is not None
    # Opened again (another process), it still knows.
    again = pickle.loads(pickle.dumps(cache))
    assert again.failed == cache.failed and np.array_equal(np.array(again.rows), np.array(cache.rows))

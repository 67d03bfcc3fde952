"""Images that pass the scan but fail to decode when training: dropped, counted and named, never replaced."""
from __future__ import annotations

import subprocess
import sys

import pytest
from fixtures_engine import make_tiny_spec
from source_digest import damaged_data_png, digest, huge_jpeg

from tlstudio.core.dataset.scan import scan
from tlstudio.core.dataset.image_check import DEFAULT_MAX_PIXELS, ImageProblem, decode_checked
from tlstudio.core.dataset.loaders import open_image, recording_decode_failures


@pytest.fixture
def spoiled(tmp_path, demo_dir):
    """The tiny set, scanned; then one training and one validation image spoiled
    the way the scan cannot see (intact header and end marker, garbage pixels)."""
    root = tmp_path / "photos"
    make_tiny_spec(root, demo_dir)
    bad_train = sorted((root / "train" / "bag").glob("*.png"))[0]
    bad_valid = sorted((root / "valid" / "sneaker").glob("*.png"))[0]
    for n, path in enumerate((bad_train, bad_valid)):
        damaged_data_png(path, seed=n)
    spec = scan(root)
    assert bad_train in spec.items and bad_valid in spec.items  # the scan reads headers only
    return spec, bad_train, bad_valid


def test_an_image_that_fails_to_decode_is_dropped_counted_and_named(spoiled, tmp_path):
    """`tlstudio train --export` end to end: the epoch events name the dropped
    files as they happen, the summary counts them and says the validation set
    lost one, and the export still verifies on the images that remain."""
    spec, bad_train, bad_valid = spoiled
    before = digest(spec.root)
    model = tmp_path / "out" / "model.pkl"
    run = subprocess.run(
        [sys.executable, "-m", "tlstudio", "train", str(spec.root), "--epochs", "1", "--freeze-epochs", "1",
         "--size", "32", "--bs", "8", "--device", "cpu", "--export", str(model)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    warnings = [line for line in run.stderr.splitlines() if "could not be decoded" in line]
    assert warnings[0] == ("warning: 2 images could not be decoded and were left out: "
                           f"{bad_train}, {bad_valid}") or warnings[0] == (
        f"warning: 2 images could not be decoded and were left out: {bad_valid}, {bad_train}")
    assert warnings[1].startswith("Completed 2 epochs; kept epoch 1 ") and warnings[1].endswith(
        f"; 2 images could not be decoded and were left out (train/bag/{bad_train.name}, "
        f"valid/sneaker/{bad_valid.name}); the validation metrics cover 11 of 12 validation images"
    ), warnings[1]
    assert len(warnings) == 2  # named once, when first dropped, and in the summary
    assert "exported and verified: reloaded in a fresh process" in run.stderr
    assert "it predicts like the model on 11 images" in run.stderr
    assert "Traceback" not in run.stderr
    assert digest(spec.root) == before


def test_the_opener_skips_rather_than_substitutes(spoiled):
    from fastai.data.load import SkipItemException

    _, bad_train, _ = spoiled
    record: dict[str, str] = {}
    with recording_decode_failures(record), pytest.raises(SkipItemException):
        open_image(bad_train)
    assert record == {str(bad_train): f"'{bad_train.name}' cannot be decoded "
                      "(OSError: broken data stream when reading image file)"}


def test_one_pixel_limit_and_no_decode_above_it(tmp_path, monkeypatch):
    """A 12000 x 12000 JPEG: refused from its header by scan, training and
    predict alike, and never handed to PIL's decoder."""
    from tlstudio.core.dataset import image_check

    big = huge_jpeg(tmp_path / "big.jpg")
    before = digest(tmp_path)
    assert 12000 * 12000 > DEFAULT_MAX_PIXELS
    assert image_check.check_image(str(big)).reason == "too-many-pixels"
    monkeypatch.setattr(image_check.Image, "open", lambda *a, **k: pytest.fail("decoded above the limit"))
    with pytest.raises(ImageProblem) as caught:
        decode_checked(big)
    assert caught.value.reason == "too-many-pixels"
    assert str(caught.value) == (f"'big.jpg' is 12000 x 12000 pixels, more than the limit of {DEFAULT_MAX_PIXELS:,} "
                                 "(a possible decompression bomb)")
    assert digest(tmp_path) == before

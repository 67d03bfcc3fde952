"""check_image: each real broken file gets its reason from headers alone; odd modes are accepted and load as RGB."""
from __future__ import annotations

import pytest
from broken_files import BROKEN, GOOD_NAMES, ODD_MODES, good_jpeg, good_png, huge_header_png, jpeg_bytes

from tlstudio.core.dataset.image_check import DEFAULT_MAX_PIXELS, check_image


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_file_gets_its_reason(tmp_path, name):
    writer, reason = BROKEN[name]
    path = writer(tmp_path / name)
    result = check_image(str(path))
    assert result.reason == reason, result
    assert name in result.detail  # the sentence names the file


@pytest.mark.parametrize("name", sorted(ODD_MODES))
def test_odd_modes_are_accepted_with_their_mode(tmp_path, name):
    writer, mode = ODD_MODES[name]
    result = check_image(str(writer(tmp_path / name)))
    assert result.ok, result
    assert (result.mode, result.width, result.height) == (mode, 24, 24)


def test_odd_modes_really_load_as_rgb_through_the_data_pipeline(tmp_path):
    from tlstudio.core.dataset.loaders import open_image

    for name, (writer, _) in ODD_MODES.items():
        img = open_image(writer(tmp_path / name))
        assert img.mode == "RGB" and img.size == (24, 24), name
        # a real picture, not the blank placeholder open_image substitutes for broken files
        assert max(hi for _, hi in img.getextrema()) > 0, name


def test_names_with_spaces_and_non_ascii_characters(tmp_path):
    for i, name in enumerate(GOOD_NAMES):
        writer = good_jpeg if name.endswith(".jpg") else good_png
        assert check_image(str(writer(tmp_path / name, seed=i))).ok, name


def test_pixel_limit_is_read_from_the_header(tmp_path):
    path = good_png(tmp_path / "small.png", size=40)
    assert check_image(str(path), max_pixels=40 * 40).ok
    over = check_image(str(path), max_pixels=40 * 40 - 1)
    assert over.reason == "too-many-pixels" and "40 x 40" in over.detail


def test_a_header_claiming_ten_gigapixels_is_refused_without_decoding(tmp_path):
    path = huge_header_png(tmp_path / "bomb.png")
    assert path.stat().st_size < 100
    result = check_image(str(path))
    assert result.reason == "too-many-pixels" and (result.width, result.height) == (100_000, 100_000)
    assert DEFAULT_MAX_PIXELS < 100_000 * 100_000


def test_jpeg_with_trailing_bytes_after_the_end_marker_is_still_whole(tmp_path):
    path = tmp_path / "trailer.jpg"
    path.write_bytes(jpeg_bytes(7) + b"\x00" * 100 + b"camera trailer")
    assert check_image(str(path)).ok
    path.write_bytes(jpeg_bytes(7) + b"SEFT" + bytes(range(256)) * 200)  # a phone's 50 kB trailer
    assert check_image(str(path)).ok


def test_jpeg_larger_than_one_read_and_with_big_metadata(tmp_path):
    import numpy as np
    from PIL import Image

    big = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    path = tmp_path / "exif.jpg"
    big.save(path, "JPEG", quality=95, icc_profile=b"\x00" * 70_000)  # header spans several reads
    result = check_image(str(path))
    assert result.ok and (result.width, result.height) == (300, 300)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 5000])
    assert check_image(str(path)).reason == "truncated"


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_other_formats_go_through_pil(tmp_path):
    from PIL import Image

    for fmt, ext in (("BMP", "bmp"), ("GIF", "gif"), ("TIFF", "tif"), ("WEBP", "webp")):
        path = tmp_path / f"x.{ext}"
        Image.new("RGB", (12, 10), (200, 10, 10)).save(path, fmt)
        result = check_image(str(path))
        assert result.ok and (result.width, result.height) == (12, 10), (fmt, result)
    (tmp_path / "broken.tif").write_bytes(b"II*\x00" + b"\xff" * 40)
    assert check_image(str(tmp_path / "broken.tif")).reason == "unreadable-header"

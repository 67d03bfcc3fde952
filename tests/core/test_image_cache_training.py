"""Training, the LR finder, evaluation and the doctor through the image cache
give what today's pipeline gives; the device summary says how a run computes."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from tlstudio.core.config import AugmentConfig, TrainConfig
from tlstudio.core.dataset.cached_loader import CachedImageDL
from tlstudio.core.dataset.scan import scan
from tlstudio.core.training import device_setup
from tlstudio.core.training import run as training
from tlstudio.core.events import DeviceSummary, ListReporter

DEMO_CONFIG = TrainConfig(augment=AugmentConfig(size=32), bs=32, freeze_epochs=1, epochs=1, device="cpu", seed=42)


@pytest.fixture(scope="module")
def demo_runs(demo_dir):
    """The demo set (600 images) trained once with the cache and once without, one seed."""
    spec = scan(demo_dir)
    runs = {}
    for cached in (True, False):
        reporter = ListReporter()
        result = training.run(spec, DEMO_CONFIG.with_(image_cache=cached), reporter)
        assert result.status == "completed", result.message
        runs[cached] = (result, reporter)
    return spec, runs


def test_training_with_the_cache_gives_todays_validation_metrics(demo_runs):
    """Same seed, same metrics. Seed noise on this run is far larger (seed 43
    instead of 42 moved the final accuracy by 0.07), but the cache makes
    every random draw today's pipeline makes, so the runs agree to float
    rounding: a looser test would hide a cache that changed what is trained on."""
    _, runs = demo_runs
    (with_cache, events_on), (without, events_off) = runs[True], runs[False]
    assert isinstance(with_cache.learn.dls.train, CachedImageDL)
    assert not isinstance(without.learn.dls.train, CachedImageDL)
    (on,) = events_on.of_type(DeviceSummary)
    (off,) = events_off.of_type(DeviceSummary)
    assert on.images.startswith("decoded once (600 images") and off.images.startswith("decoded every epoch")
    assert [e.stage for e in with_cache.history] == [1, 2]
    for a, b in zip(with_cache.history, without.history):
        assert a.valid_loss == pytest.approx(b.valid_loss, abs=1e-4)
        assert a.train_loss == pytest.approx(b.train_loss, abs=1e-4)
        for name in ("accuracy", "f1_macro"):
            assert a.metrics[name] == pytest.approx(b.metrics[name], abs=1e-4)


def test_evaluation_through_the_cache_is_todays(demo_runs):
    from tlstudio.core.delivery.interpret import interpret

    spec, runs = demo_runs
    learn = runs[True][0].learn
    cached = interpret(learn, spec, "valid")
    dl = learn.dls.valid
    assert dl._lookup() is not None  # the pass read the cache
    # The same weights through today's decode-every-time loaders.
    plain = runs[False][0].learn
    plain.model.load_state_dict(learn.model.state_dict())
    decoded = interpret(plain, spec, "valid")
    assert [p.name for p in cached.paths] == [p.name for p in decoded.paths]
    assert np.allclose(cached.probs, decoded.probs, atol=1e-6)
    assert cached.accuracy == decoded.accuracy


def test_a_loaded_model_is_evaluated_through_the_cache_its_training_left(trained_result, tiny_spec, tmp_path,
                                                                         monkeypatch):
    from tlstudio.core.delivery.export import export_model, load_model
    from tlstudio.core.delivery.interpret import _split_dl, interpret

    export_model(trained_result.learn, tmp_path / "m.tlsmodel", spec=tiny_spec, config=trained_result.config,
                 verify=False)
    loaded = load_model(tmp_path / "m.tlsmodel")
    dl = _split_dl(loaded.learn, tiny_spec, "valid")
    assert isinstance(dl, CachedImageDL) and dl._lookup() is not None
    through_cache = interpret(loaded.learn, tiny_spec, "valid")
    monkeypatch.setenv("TLSTUDIO_CACHE_DIR", str(tmp_path / "no-cache-here"))
    assert not isinstance(_split_dl(loaded.learn, tiny_spec, "valid"), CachedImageDL)  # never built for it
    decoded = interpret(loaded.learn, tiny_spec, "valid")
    assert through_cache.paths == decoded.paths
    np.testing.assert_allclose(through_cache.probs, decoded.probs, atol=1e-6)


def test_oversampling_draws_the_same_batches_through_the_cache(tiny_spec, tiny_config):
    from fastai.callback.data import WeightedDL

    from tlstudio.core.dataset import imbalance

    config = tiny_config.with_(imbalance="oversample")
    runs = {}
    for cached in (True, False):
        result = training.run(tiny_spec, config.with_(image_cache=cached), ListReporter())
        assert result.status == "completed", result.message
        train_dl = result.learn.dls.train
        assert isinstance(train_dl, CachedImageDL) is cached
        assert isinstance(train_dl, WeightedDL) and imbalance.oversamples(train_dl)
        runs[cached] = result.history
    assert [e.stage for e in runs[True]] == [1, 2]
    for a, b in zip(runs[True], runs[False]):
        assert a.train_loss == pytest.approx(b.train_loss, abs=1e-4)
        assert a.valid_loss == pytest.approx(b.valid_loss, abs=1e-4)


def test_the_evaluate_job_on_a_loaded_model_reads_the_cache(trained_result, tiny_spec, tmp_path, monkeypatch):
    from tlstudio.core.delivery.export import export_model, load_model
    from tlstudio.core.delivery.interpret import interpret
    from tlstudio.core.jobs import held
    from tlstudio.core.jobs.delivery import EvaluateJob

    export_model(trained_result.learn, tmp_path / "m.tlsmodel", spec=tiny_spec, config=trained_result.config,
                 verify=False)
    loaded = load_model(tmp_path / "m.tlsmodel")
    batches = []
    lookup = CachedImageDL.create_batch
    monkeypatch.setattr(CachedImageDL, "create_batch", lambda self, b: batches.append(len(b)) or lookup(self, b))
    through_job = EvaluateJob(held.hold(loaded, "file"), tiny_spec, "valid")(ListReporter())
    assert sum(batches) == len(tiny_spec.indices("valid"))  # every item came from the cache
    monkeypatch.setenv("TLSTUDIO_CACHE_DIR", str(tmp_path / "no-cache-here"))
    decoded = interpret(loaded.learn, tiny_spec, "valid")
    assert through_job.paths == decoded.paths
    np.testing.assert_allclose(through_job.probs, decoded.probs, atol=1e-6)


def test_the_lr_finder_probes_the_same_curve_through_the_cache(tiny_spec, tiny_config):
    from tlstudio.core.training.lr_find import find_lr

    results = {}
    for cached in (True, False):
        config = tiny_config.with_(image_cache=cached)
        learn = training.prepare_learner(tiny_spec, config)
        assert isinstance(learn.dls.train, CachedImageDL) is cached
        results[cached] = find_lr(tiny_spec, config, learn=learn, num_it=20)
        results[f"stage2-{cached}"] = find_lr(tiny_spec, config, learn=learn, stage=2, unfreeze_depth=1, num_it=8)
    assert np.allclose(results[True].losses, results[False].losses, atol=1e-5)
    assert np.allclose(results["stage2-True"].losses, results["stage2-False"].losses, atol=1e-4)


def test_the_doctors_feature_pass_reads_the_cache_and_gets_todays_features(tiny_spec):
    from tlstudio.core.doctor.feature_pass import FeatureConfig, backbone_features

    reporter = ListReporter()
    cached = backbone_features(tiny_spec, FeatureConfig(size=32, bs=16, device="cpu", image_cache=True), reporter)
    (summary,) = reporter.of_type(DeviceSummary)
    assert summary.images.startswith("decoded once")
    decoded = backbone_features(tiny_spec, FeatureConfig(size=32, bs=16, device="cpu", image_cache=False), ListReporter())
    assert cached.shape == decoded.shape == (len(tiny_spec.items), cached.shape[1])
    assert np.allclose(cached, decoded, atol=1e-5)


def test_images_broken_after_the_scan_are_named_in_the_runs_summary(tmp_path, demo_dir):
    from fixtures_engine import make_tiny_spec
    from source_digest import damaged_data_png

    spec = make_tiny_spec(tmp_path / "data", demo_dir)
    bad = [p for p in spec.items if p.parent.parent.name == "train"][0]
    damaged_data_png(bad, seed=0)
    config = TrainConfig(augment=AugmentConfig(size=32), bs=8, freeze_epochs=1, epochs=0, device="cpu")
    result = training.run(spec, config, ListReporter())
    assert result.status == "completed"
    assert result.dropped == (str(bad),)
    assert "1 image could not be decoded and was left out" in result.message


# ------------------------------------------------------------------ device

def test_batch_size_from_free_memory_is_the_largest_power_of_two_that_fits():
    gib = 2**30
    assert device_setup.batch_size_for_memory(80 * gib, 100e6, fraction=0.75) == 512  # capped
    assert device_setup.batch_size_for_memory(8 * gib, 40e6, fraction=0.75) == 128  # 161 fit
    assert device_setup.batch_size_for_memory(8 * gib, 40e6, fixed_bytes=2 * gib, fraction=0.75) == 64  # 107 fit
    assert device_setup.batch_size_for_memory(8 * gib, 40e6, fraction=0.75, n_train=100) == 100
    assert device_setup.batch_size_for_memory(1 * gib, 4 * gib) == 1  # nothing fits: one image at a time
    assert device_setup.batch_size_for_memory(10**9, 10**6, fraction=1.0, cap=10**6) == 512  # 1000 fit
    with pytest.raises(ValueError):
        device_setup.batch_size_for_memory(gib, 0)


def test_precision_is_bf16_where_the_gpu_has_it_else_fp16_and_fp32_off_cuda():
    cuda = torch.device("cuda")
    assert device_setup.precision_for(cuda, bf16_supported=True) == "bf16"
    assert device_setup.precision_for(cuda, bf16_supported=False) == "fp16"
    assert device_setup.precision_for(torch.device("cpu")) == "fp32"
    assert device_setup.precision_for(torch.device("mps")) == "fp32"


def test_on_the_cpu_a_learner_trains_in_float32_and_says_so(tiny_spec, tiny_config):
    reporter = ListReporter()
    learn = training.prepare_learner(tiny_spec, tiny_config, reporter)
    (summary,) = reporter.of_type(DeviceSummary)
    assert (summary.device, summary.precision, summary.channels_last, summary.bs) == ("cpu", "fp32", False, 8)
    assert not hasattr(learn, "mixed_precision") and not hasattr(learn, "channels_last")
    assert summary.text().startswith("Device: cpu (CPU, ") and ", fp32, batch 8, images decoded once (48 images" in summary.text()


def test_passes_outside_fit_run_under_the_learners_own_mixed_precision(tiny_spec, tiny_config):
    learn = training.prepare_learner(tiny_spec, tiny_config)
    assert device_setup.autocast(learn).__class__.__name__ == "nullcontext"
    learn.to_bf16()
    ctx = device_setup.autocast(learn)
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16 and ctx.device == "cpu"
    learn.remove_cb(learn.mixed_precision)
    learn.to_fp16()
    assert device_setup.autocast(learn).fast_dtype == torch.float16


def test_the_summary_names_gpu_choices():
    e = DeviceSummary("cuda:0", "NVIDIA H200", "bf16 mixed precision", True, 256,
                      "chosen from 130 GiB free GPU memory", "decoded once (8000 images, 1.20 GB cache)")
    assert e.text() == ("Device: cuda:0 (NVIDIA H200), bf16 mixed precision, channels_last, batch 256 "
                        "(chosen from 130 GiB free GPU memory), images decoded once (8000 images, 1.20 GB cache)")


def test_the_cli_prints_the_device_line_and_takes_the_switches(tiny_spec, tmp_path):
    from tlstudio.cli import build_parser
    from tlstudio.commands.train import config_from_args

    parser = build_parser()
    assert config_from_args(parser.parse_args(["train", "d"])).image_cache is True
    off = config_from_args(parser.parse_args(["train", "d", "--no-image-cache", "--image-cache-max-gb", "3"]))
    assert (off.image_cache, off.image_cache_max_gb) == (False, 3.0)
    auto = config_from_args(parser.parse_args(["train", "d", "--bs", "auto"]))
    assert auto.auto_bs is True and auto.bs == TrainConfig().bs
    assert config_from_args(parser.parse_args(["lr-find", "d", "--bs", "16"])).auto_bs is False
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "d", "--bs", "zero"])
    run = subprocess.run(
        [sys.executable, "-m", "tlstudio", "train", str(tiny_spec.root), "--freeze-epochs", "1", "--epochs", "0",
         "--size", "32", "--bs", "8", "--device", "cpu"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (line,) = [line for line in run.stderr.splitlines() if line.startswith("Device: ")]
    assert ", fp32, batch 8, images decoded once (48 images, " in line


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the GPU path runs only where CUDA is present")
def test_on_cuda_mixed_precision_channels_last_and_a_batch_from_free_memory(tiny_spec, tiny_config):
    reporter = ListReporter()
    learn = training.prepare_learner(tiny_spec, tiny_config.with_(device="cuda", auto_bs=True), reporter)
    (summary,) = reporter.of_type(DeviceSummary)
    assert summary.precision in ("bf16 mixed precision", "fp16 mixed precision") and summary.channels_last
    assert summary.bs == len(learn.dls.train.dataset)  # the tiny set fits many times over
    xb, _ = learn.dls.train.one_batch()
    assert xb.device.type == "cuda" and xb.is_contiguous(memory_format=torch.channels_last)
    result = training.run(tiny_spec, tiny_config.with_(device="cuda"), ListReporter(), learn=learn)
    assert result.status == "completed", result.message
    assert [e.stage for e in result.history] == [1, 2]

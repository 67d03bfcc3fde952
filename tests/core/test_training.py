"""The training runner on a tiny real dataset: event stream, schedule, reproducibility, usable result."""
from __future__ import annotations

import math

from fixtures_engine import best_epoch

from tlstudio.core.events import BatchEnd, EpochEnd, FitEnd, ListReporter, Message, Progress, StageEnd, StageStart
from tlstudio.core.training import run as training

METRICS = {"accuracy", "error_rate", "f1_macro"}


def _stage_events(events):
    return [e for e in events if isinstance(e, (StageStart, BatchEnd, EpochEnd, StageEnd, FitEnd))]


def test_events_arrive_in_order_with_sane_values(trained_run, tiny_config):
    events = _stage_events(trained_run.events)
    starts = [e for e in events if isinstance(e, StageStart)]
    assert [s.stage for s in starts] == [1, 2]
    n1, n2 = starts[0].n_batches, starts[1].n_batches
    kinds = [type(e) for e in events]
    assert kinds[0] is StageStart and kinds[-1] is FitEnd and kinds.count(FitEnd) == 1
    assert kinds.index(StageEnd) < kinds.index(StageStart, 1), "stage 1 ends before stage 2 starts"

    for stage, start, n in ((1, starts[0], n1), (2, starts[1], n2)):
        ours = [e for e in events if getattr(e, "stage", None) == stage]
        assert isinstance(ours[0], StageStart) and isinstance(ours[-1], StageEnd)
        batches = [e for e in ours if isinstance(e, BatchEnd)]
        epochs = [e for e in ours if isinstance(e, EpochEnd)]
        assert len(epochs) == start.epochs == ours[-1].epochs_completed
        assert len(batches) == start.epochs * n
        # Every epoch's batches come before its EpochEnd, numbered 0..n-1.
        for ep in epochs:
            mine = [b.batch for b in batches if b.epoch == ep.epoch]
            assert mine == list(range(n))
            assert ours.index(ep) > ours.index(next(b for b in batches if b.epoch == ep.epoch and b.batch == n - 1))
        assert all(math.isfinite(b.smooth_loss) and b.smooth_loss > 0 and b.images_per_s > 0 for b in batches)
        assert len(start.lrs) == start.total_groups

    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert [b.iteration for b in batches] == list(range(1, len(batches) + 1))

    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.global_epoch for e in epochs] == list(range(len(epochs)))
    for e in epochs:
        assert set(e.metrics) == METRICS
        assert math.isfinite(e.train_loss) and math.isfinite(e.valid_loss)
        assert abs(e.metrics["accuracy"] + e.metrics["error_rate"] - 1) < 1e-6
        assert 0 <= e.metrics["f1_macro"] <= 1 and e.elapsed_s > 0

    end = events[-1]
    assert end.status == "completed" and end.kept_epoch == best_epoch(epochs)  # keep-best is the default
    result = trained_run.result
    assert result.status == "completed" and result.kept_epoch == end.kept_epoch
    assert result.history == epochs
    assert result.message.startswith(f"Completed 2 epochs; kept epoch {end.kept_epoch + 1} (")
    assert "the highest validation accuracy" in result.message


def test_learning_rates_follow_the_one_cycle_schedule(trained_run, tiny_config):
    batches = [e for e in trained_run.events if isinstance(e, BatchEnd)]
    stage1 = [b.lr for b in batches if b.stage == 1]
    stage2 = [b.lr for b in batches if b.stage == 2]
    # Stage 1 warms up over 99% of its steps (fine_tune's pct_start): rising throughout.
    assert stage1 == sorted(stage1) and stage1[0] < stage1[-1] <= tiny_config.stage1_lr
    # Stage 2 warms up over 30%, then anneals: one peak, below base_lr, ends low.
    peak = stage2.index(max(stage2))
    assert 0 < peak < len(stage2) - 1
    assert stage2[: peak + 1] == sorted(stage2[: peak + 1])
    assert stage2[peak:] == sorted(stage2[peak:], reverse=True)
    assert max(stage2) <= tiny_config.base_lr * (1 + 1e-9)
    # The head (last group) gets base_lr, the first group base_lr / lr_mult.
    start2 = next(e for e in trained_run.events if isinstance(e, StageStart) and e.stage == 2)
    assert math.isclose(start2.lrs[-1], tiny_config.base_lr)
    assert math.isclose(start2.lrs[0], tiny_config.base_lr / tiny_config.lr_mult)
    assert list(start2.lrs) == sorted(start2.lrs)


def test_fast_head_reports_feature_caching_progress(trained_run):
    progress = [e for e in trained_run.events if isinstance(e, Progress)]
    assert progress, "stage 1 ran on cached features, so caching progress was reported"
    assert [p.done for p in progress] == list(range(1, progress[-1].total + 1))
    first_stage = next(i for i, e in enumerate(trained_run.events) if isinstance(e, StageStart))
    assert trained_run.events.index(progress[-1]) < first_stage


def test_seeded_runs_are_reproducible_on_cpu(trained_run, tiny_spec, tiny_config):
    # The second run stops after two unfrozen batches: enough to cover both
    # stages, augmentation and the unfrozen body, for less time.
    again = ListReporter(cancel_when=lambda e: isinstance(e, BatchEnd) and e.stage == 2 and e.batch == 1)
    training.run(tiny_spec, tiny_config, again)

    def numbers(events):
        return [
            (e.stage, e.smooth_loss, e.lr) if isinstance(e, BatchEnd) else (e.stage, e.train_loss, e.valid_loss, e.metrics)
            for e in events
            if isinstance(e, (BatchEnd, EpochEnd))
        ]

    ours = numbers(again.events)
    assert [n[0] for n in ours].count(2) == 2
    assert ours == numbers(trained_run.events)[: len(ours)]


def test_result_can_be_evaluated_and_exported(trained_result, tiny_spec, tmp_path):
    from fastai.learner import load_learner

    learn = trained_result.learn
    probs, targets = learn.get_preds(dl=learn.dls.valid)
    assert probs.shape == (len(tiny_spec.indices("valid")), len(tiny_spec.classes))
    assert not learn.cbs.filter(lambda cb: type(cb).__name__ == "ReporterCallback"), "reporter left attached"
    learn.export(tmp_path / "model.pkl")
    loaded = load_learner(tmp_path / "model.pkl")
    assert list(loaded.dls.vocab) == tiny_spec.classes


def test_final_metrics_are_those_of_the_kept_epoch(trained_result):
    kept = trained_result.history[best_epoch(trained_result.history)]
    assert trained_result.final_metrics == dict(kept.metrics, valid_loss=kept.valid_loss, train_loss=kept.train_loss)


def test_each_architecture_gets_the_normalisation_its_weights_expect(tiny_spec, tiny_config):
    from fastai.vision.all import Normalize

    def stats(arch):
        learn = training.prepare_learner(tiny_spec, tiny_config.with_(arch=arch, pretrained=False))
        norm = next(t for t in learn.dls.after_batch.fs if isinstance(t, Normalize))
        return [round(float(v), 3) for v in norm.mean.flatten()], [round(float(v), 3) for v in norm.std.flatten()]

    assert stats("mobilenet_v2") == ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    assert stats("tf_efficientnet_lite0") == ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])


def test_stage2_trains_the_recommended_depth_and_says_why(trained_run, tiny_spec):
    from tlstudio.core.training.advice import recommend_depth

    head = [e for e in trained_run.events if isinstance(e, EpochEnd) and e.stage == 1][-1]
    advice = recommend_depth(tiny_spec, 5, head_accuracy=head.metrics["accuracy"])
    start2 = next(e for e in trained_run.events if isinstance(e, StageStart) and e.stage == 2)
    # 12 images per class is small (2 groups), one more when the head separates the classes poorly.
    assert start2.trainable_groups == advice.value == (3 if head.metrics["accuracy"] < 0.6 else 2)
    said = [e.text for e in trained_run.events if isinstance(e, Message) and "Unfreeze depth" in e.text]
    assert said == [f"Unfreeze depth chosen for this data: {advice.reason} (set a depth to override)"]
    assert trained_run.result.config.unfreeze_depth == advice.value and not trained_run.result.config.auto_depth


def test_a_depth_set_by_hand_is_trained_as_set(tiny_spec, tiny_config):
    config = tiny_config.with_(unfreeze_depth=3, freeze_epochs=1, epochs=1)
    reporter = ListReporter(cancel_when=lambda e: isinstance(e, BatchEnd) and e.stage == 2)
    training.run(tiny_spec, config, reporter)
    start2 = next(e for e in reporter.events if isinstance(e, StageStart) and e.stage == 2)
    assert start2.trainable_groups == 3
    assert not [e for e in reporter.of_type(Message) if "Unfreeze depth" in e.text]

"""The per-architecture speed figure stops when asked (the Model page test measures a real one)."""
from __future__ import annotations

import pytest
from fixtures_preview import preview_spec  # noqa: F401  (fixture)

from tlstudio.core.config import AugmentConfig
from tlstudio.core.events import Cancelled, ListReporter, Progress
from tlstudio.core.training.speed import measure_speed


@pytest.fixture(scope="module")
def dls(preview_spec):
    from tlstudio.core.dataset.previews import preview_loaders

    return preview_loaders(preview_spec, AugmentConfig(size=32))


def test_speed_measurement_stops_when_cancelled(dls):
    import torch

    reporter = ListReporter(cancel_when=lambda e: isinstance(e, Progress) and e.done >= 1)
    with pytest.raises(Cancelled):
        measure_speed(dls, "mobilenet_v2", batch_size=4, min_seconds=60, max_batches=1000,
                      device=torch.device("cpu"), reporter=reporter)
    progress = reporter.of_type(Progress)
    assert progress[0].message == "Building mobilenet_v2…"
    assert max(e.done for e in progress) == 1  # stopped after the batch that asked

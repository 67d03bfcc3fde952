#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite headless.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export QT_QPA_PLATFORM=offscreen
.venv/bin/lint-imports --config pyproject.toml || exit 1
# A hung test must end the run with its stack printed, not hold CI to its own limit.
timeout --signal=ABRT --kill-after=30 "${TLSTUDIO_TEST_LIMIT_S:-3600}" .venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 134 ]; then
    echo "the test suite ran past ${TLSTUDIO_TEST_LIMIT_S:-3600} s and was stopped" >&2
fi
# pytest exits 5 when it collected no tests: that is a failure, not a pass.
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit "$rc"

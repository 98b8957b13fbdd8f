#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source (this zip's root) when it builds
# the autograder's image. Two steps:
#   1. install: Python, bubblewrap and the pinned requirements in a virtual environment
#      ($AUTOGRADER_ROOT/venv), torch and torchvision as CPU wheels from download.pytorch.org;
#   2. the unprivileged user 'kitworker' (the worker runs as it where bubblewrap cannot);
#   3. data: CIFAR-10 in ./data/cifar-10-batches-py, checked when the zip ships it (built with
#      --with-data), else downloaded through torchvision.
# KIT_SETUP_SKIP_INSTALL=1 skips step 1: the python3 on PATH already has the requirements
# (the kit's tests do this, offline, with the kit's own virtual environment).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
cd "$(dirname "${BASH_SOURCE[0]}")"

if [ "${KIT_SETUP_SKIP_INSTALL:-0}" != "1" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap
    python3 -m venv "$ROOT/venv"
    "$ROOT/venv/bin/pip" install --upgrade pip
    # torch and torchvision at the pinned versions, as CPU wheels (the checks run on the CPU)
    "$ROOT/venv/bin/pip" install --index-url https://download.pytorch.org/whl/cpu \
        $(grep -E '^(torch|torchvision)==' requirements.txt)
    "$ROOT/venv/bin/pip" install -r requirements.txt
fi

# The worker's own unprivileged user, for containers where bubblewrap cannot run
# (instructor/verdicts/unprivileged.py): the autograder then closes this source to it.
if [ "$(id -u)" = 0 ] && ! id -u kitworker >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin kitworker
fi

PYTHON="$ROOT/venv/bin/python3"
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" -m instructor.autograder prepare-data

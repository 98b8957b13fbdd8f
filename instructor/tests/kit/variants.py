"""Run the self-check on many variants of a student kit's files, in one process (instructor only).

A *variant* is a dict ``{"id", "files": {relpath: text}, "parts": [...], "functions": [...]}``:
the kit's files with some replaced (e.g. ``assignment/metrics.py`` with only one function
filled in, or with a deliberately wrong one). :func:`run_variants` writes them in turn into a
kit and runs ``helpers.check.run_checks(parts, functions=functions)`` on each, in ONE
subprocess that imports torch once. Isolation: before each variant every module loaded from
the kit (assignment, helpers, the checks, conftest) is dropped from ``sys.modules`` and no
bytecode is written, so each variant imports its own files afresh; the files are restored
afterwards.

    python instructor/tests/kit/variants.py VARIANTS_JSON RESULTS_JSON     (run with the kit as cwd)
"""
import io
import json
import os
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path


def run_variants(kit, variants, timeout=900):
    """Results of every variant, dict id -> {"functions": {name: {"status", "waiting",
    "failures"}}, "errors": [...], "seconds": float}. Runs in a subprocess in ``kit``."""
    kit = Path(kit)
    request, answer = kit / ".variants.json", kit / ".variant-results.json"
    request.write_text(json.dumps(variants))
    env = {k: v for k, v in os.environ.items() if k not in ("KIT_SAVED_DIR", "KIT_RESULTS_DIR")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [sys.executable, str(Path(__file__).resolve()), str(request), str(answer)]
    result = subprocess.run(command, cwd=kit, capture_output=True, text=True, timeout=timeout,
                            env=env)
    assert result.returncode == 0, \
        f"the variant runner failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return json.loads(answer.read_text())


def _forget_kit_modules(kit):
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if path and Path(path).resolve().is_relative_to(kit) or name.split(".")[0] in (
                "assignment", "helpers", "tests", "conftest"):
            del sys.modules[name]


def _run_one(kit, variant):
    originals = {relpath: (kit / relpath).read_text() for relpath in variant["files"]}
    try:
        for relpath, text in variant["files"].items():
            (kit / relpath).write_text(text)
        _forget_kit_modules(kit)
        from helpers.check import run_checks

        start = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            results, errors = run_checks(variant["parts"], functions=variant.get("functions"))
        return {"functions": {r.name: {"status": r.status, "waiting": r.waiting,
                                       "failures": r.failures} for r in results},
                "errors": errors, "seconds": time.perf_counter() - start}
    finally:
        for relpath, text in originals.items():
            (kit / relpath).write_text(text)


def main(request_path, answer_path):
    sys.dont_write_bytecode = True
    kit = Path.cwd().resolve()
    sys.path.insert(0, str(kit))
    import torch  # noqa: F401  (imported once for every variant)

    variants = json.loads(Path(request_path).read_text())
    results = {variant["id"]: _run_one(kit, variant) for variant in variants}
    Path(answer_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

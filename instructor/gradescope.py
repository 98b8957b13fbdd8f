"""Build the Gradescope autograder: ``OUT_DIR/autograder.zip`` (instructor only).

    python -m instructor.gradescope OUT_DIR [--with-data DIR] [--timeout S] [--call-timeout S]
                                    [--memory-mb M] [--time-limit S]

Gradescope unpacks the zip into ``/autograder/source/``, runs ``setup.sh`` once to build its
image, and for each submission runs ``run_autograder``. The zip's root holds:

- ``setup.sh``: installs Python, bubblewrap and the pinned requirements (torch and torchvision
  as CPU wheels) and prepares CIFAR-10 (checks the copy shipped with ``--with-data``, or
  downloads it through torchvision);
- ``run_autograder``: grades ``/autograder/submission/`` with the local grader's code
  (``instructor/autograder.py`` over ``instructor.grade``) and writes
  ``/autograder/results/results.json``;
- ``autograder.json``: the grading settings chosen here (time per part and per call, memory,
  Gradescope's time limit);
- the instructor source the grader needs (reference solutions, helpers, rubric, visible and
  hidden checks, these tools) and ``student_release/``, the student release built now;
- ``data/cifar-10-batches-py/`` with ``--with-data``.
"""
import argparse
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from helpers.data import FOLDER, load_cifar10
from helpers.utils import KIT_ROOT
from instructor import release
from instructor.autograder import DATA_FOLDER, DEFAULT_SETTINGS, RELEASE_FOLDER, SETTINGS_FILE

# What the grader needs of the instructor source (relative to it), copied as they are.
SOURCE_PATHS = (
    "requirements.txt",
    "pytest.ini",
    "conftest.py",
    "assignment",
    "helpers",
    "notebooks",          # the questions and reference answers (instructor.grading.written)
    "instructor",
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/assignment",
)
SCRIPTS = ("setup.sh", "run_autograder")      # from instructor/gradescope_files/, executable
SCRIPTS_FOLDER = Path(__file__).with_name("gradescope_files")
ZIP_NAME = "autograder.zip"


def source_files(source=KIT_ROOT):
    """Archive name -> path of every file of ``SOURCE_PATHS`` (no caches, no build files)."""
    files = {}
    for relpath in SOURCE_PATHS:
        base = Path(source) / relpath
        for path in sorted([base] if base.is_file() else base.rglob("*")):
            name = path.relative_to(source).as_posix()
            junk = any(part in release.JUNK_NAMES for part in path.relative_to(source).parts)
            if path.is_file() and not junk and not name.endswith(release.JUNK_SUFFIXES):
                files[name] = path
    return files


def tree_files(folder, prefix):
    """Archive name (under ``prefix``) -> path of every file under ``folder``."""
    return {f"{prefix}/{path.relative_to(folder).as_posix()}": path
            for path in sorted(Path(folder).rglob("*")) if path.is_file()}


def data_folder(with_data):
    """The ``cifar-10-batches-py`` folder of ``--with-data DIR`` (DIR holds it or is it),
    checked by loading it; raises ``FileNotFoundError`` or ``ValueError`` otherwise."""
    folder = Path(with_data)
    if folder.name != FOLDER:
        folder = folder / FOLDER
    load_cifar10(root=folder.parent, download=False)
    return folder


def add_bytes(archive, name, data, executable=False, stored=False):
    """Add ``data`` as the regular file ``name``, with the Unix mode that unzip keeps."""
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def add_file(archive, name, path, executable=False, stored=False):
    """Add the file at ``path`` as ``name`` (``add_bytes``)."""
    add_bytes(archive, name, Path(path).read_bytes(), executable, stored)


def write_autograder_zip(path, settings, files, data_files):
    """Write the zip at ``path`` atomically: scripts, settings, ``files`` (name -> path) and
    ``data_files`` (stored: CIFAR-10 batches do not compress)."""
    partial = path.with_name(f".{path.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for script in SCRIPTS:
            add_file(archive, script, SCRIPTS_FOLDER / script, executable=True)
        add_bytes(archive, SETTINGS_FILE, json.dumps(settings, indent=1) + "\n")
        for name, source in sorted(files.items()):
            add_file(archive, name, source)
        for name, source in sorted(data_files.items()):
            add_file(archive, name, source, stored=True)
    os.replace(partial, path)
    return path


def build_autograder(out_dir, with_data=None, settings=None, source=KIT_ROOT):
    """Write ``out_dir/autograder.zip``; returns its path. ``settings`` overrides the
    defaults of ``instructor.autograder.DEFAULT_SETTINGS``."""
    settings = {**DEFAULT_SETTINGS, **(settings or {})}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data_files = {}
    if with_data is not None:
        data_files = tree_files(data_folder(with_data), f"{DATA_FOLDER}/{FOLDER}")
    with tempfile.TemporaryDirectory(prefix="autograder-build-") as workdir:
        student_release = Path(workdir) / RELEASE_FOLDER
        release.build_release(student_release, source)
        files = {**source_files(source), **tree_files(student_release, RELEASE_FOLDER)}
        return write_autograder_zip(out_dir / ZIP_NAME, settings, files, data_files)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m instructor.gradescope",
        description="Build autograder.zip for Gradescope from the kit's grading core.")
    parser.add_argument("out_dir", type=Path, help="folder to write autograder.zip into")
    parser.add_argument("--with-data", type=Path, metavar="DIR",
                        help="ship CIFAR-10 in the zip: DIR holds cifar-10-batches-py/ "
                             "(default: setup.sh downloads it)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_SETTINGS["timeout"],
                        help="seconds of student code allowed for each part's checks")
    parser.add_argument("--call-timeout", type=float, default=None,
                        help="seconds for each call into student code (default: --timeout / 4)")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_SETTINGS["memory_mb"],
                        help="memory limit of each process running student code")
    parser.add_argument("--allow-unprotected", action="store_true",
                        help="grade even where neither bubblewrap nor the unprivileged worker "
                             "user is available (the worker then runs as root; default: refuse)")
    parser.add_argument("--time-limit", type=int, default=DEFAULT_SETTINGS["time_limit"],
                        help="the autograder time limit set on Gradescope, in seconds; "
                             "grading stops a minute before it, with a results file")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    settings = {"timeout": args.timeout, "call_timeout": args.call_timeout,
                "memory_mb": args.memory_mb, "time_limit": args.time_limit,
                "allow_unprotected": args.allow_unprotected}
    try:
        path = build_autograder(args.out_dir, args.with_data, settings)
    except (FileNotFoundError, ValueError, release.ReleaseError) as err:
        print(f"gradescope: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB); upload it on Gradescope "
          "(docs/gradescope.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

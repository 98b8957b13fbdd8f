"""The grading sandbox (instructor/sandbox.py) against what hostile code tries.

Each test runs a small Python program inside a real bubblewrap sandbox and
checks from outside what it could reach. Without a working bwrap these tests
are skipped, unless KIT_REQUIRE_SANDBOX=1 (CI) makes that a failure.
"""
import os
import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest

from instructor import sandbox

REASON = sandbox.unavailable_reason()
if REASON and os.environ.get("KIT_REQUIRE_SANDBOX") == "1":
    raise RuntimeError(f"KIT_REQUIRE_SANDBOX=1 but the sandbox does not work: {REASON}")
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def inside(code, limits=sandbox.Limits(seconds=30), **options):
    """Run Python ``code`` in a sandbox; returns the Result with ``text`` (decoded output)."""
    result = sandbox.run([sys.executable, "-c", textwrap.dedent(code)], limits=limits, **options)
    result.text = result.output.decode(errors="replace")
    return result


def processes_with(token):
    """Host pids whose command line holds ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


DAEMON = """
    import os, subprocess, sys, time
    token, marker, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    if os.fork() == 0:  # a daemon: double fork, new session, then it waits and writes
        os.setsid()
        if os.fork() == 0:
            subprocess.Popen(["setsid", "sleep", "30", token])
            time.sleep(delay)
            open(marker, "w").write("still alive")
        os._exit(0)
    print("started", flush=True)
"""


def test_no_process_survives_the_sandbox(tmp_path):
    token = f"kit-daemon-{os.urandom(4).hex()}"
    marker = tmp_path / "marker"
    result = sandbox.run([sys.executable, "-c", textwrap.dedent(DAEMON), token, str(marker), "1.5"],
                         writable=[tmp_path], limits=sandbox.Limits(seconds=30))
    assert result.returncode == 0 and b"started" in result.output, result.output
    assert processes_with(token) == [], "a setsid process outlived the sandbox"
    time.sleep(2)
    assert not marker.exists(), "a daemonised grandchild wrote after the run"


def test_no_process_survives_a_time_out(tmp_path):
    token = f"kit-daemon-{os.urandom(4).hex()}"
    marker = tmp_path / "marker"
    code = textwrap.dedent(DAEMON) + "while True:\n    pass\n"
    began = time.monotonic()
    result = sandbox.run([sys.executable, "-c", code, token, str(marker), "3.5"],
                         writable=[tmp_path], limits=sandbox.Limits(seconds=2))
    assert result.timed_out and time.monotonic() - began < 3.5
    assert processes_with(token) == []
    time.sleep(max(0.0, began + 5 - time.monotonic()))
    assert not marker.exists()


def test_proc_shows_only_the_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_GRADER_SECRET", "hunter2-canary")
    (tmp_path / "grader-cwd-marker").write_text("")
    monkeypatch.chdir(tmp_path)
    result = inside("""
        import os
        secret = ('hunter' + '2-canary').encode()  # never spelled out in this command line
        pids = [p for p in os.listdir('/proc') if p.isdigit()]
        print('pid1', open('/proc/1/cmdline', 'rb').read().split(b'\\0')[0].decode())
        print('count', len(pids))
        for pid in pids:
            for name in ('environ', 'cmdline'):
                try:
                    if secret in open(f'/proc/{pid}/{name}', 'rb').read():
                        print('LEAK', pid, name)
                except OSError:
                    pass
            try:
                if 'grader-cwd-marker' in os.listdir(f'/proc/{pid}/cwd'):
                    print('LEAK cwd', pid)
            except OSError:
                pass
        print('env', sorted(os.environ))
    """)
    assert result.returncode == 0, result.text
    assert "LEAK" not in result.text and "hunter2-canary" not in result.text
    assert "pid1 " in result.text and result.text.split("pid1 ")[1].split()[0].endswith("bwrap")
    assert int(result.text.split("count ")[1].split()[0]) <= 3, "only bwrap, the launcher/python"
    assert "KIT_GRADER_SECRET" not in result.text


def test_environment_is_an_allow_list(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary")
    result = inside("import os; print(sorted(os.environ))", env={"KIT_QUICK": "1"})
    names = set(eval(result.text))  # noqa: S307 - our own program printed a list of names
    assert names <= set(sandbox.BASE_ENV) | {"PATH", "PWD", "KIT_QUICK"}, names
    assert "KIT_QUICK" in names and os.environ.get("AWS_SECRET_ACCESS_KEY") == "canary"


def test_host_unix_sockets_are_unreachable(tmp_path):
    path = tmp_path / "host.sock"
    abstract = f"\0kit-test-{os.urandom(4).hex()}"
    with socket.socket(socket.AF_UNIX) as listener, socket.socket(socket.AF_UNIX) as hidden:
        listener.bind(str(path))
        listener.listen()
        hidden.bind(abstract)
        hidden.listen()
        result = inside(f"""
            import socket
            for address in ({str(path)!r}, {abstract!r}):
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(address)
                    print('CONNECTED', repr(address))
                except OSError as err:
                    print('refused', type(err).__name__)
        """)
    assert result.text.count("refused") == 2 and "CONNECTED" not in result.text, result.text


def test_tcp_to_host_loopback_and_dns_fail():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = inside(f"""
            import _socket, socket, subprocess, sys
            try:
                _socket.socket().connect(('127.0.0.1', {port}))
                print('CONNECTED')
            except OSError as err:
                print('tcp', type(err).__name__)
            try:
                socket.getaddrinfo('pypi.org', 443)
                print('RESOLVED')
            except OSError as err:
                print('dns', type(err).__name__)
            child = [sys.executable, '-c',
                     'import socket; socket.create_connection(("127.0.0.1", {port}), timeout=2)']
            print('child', subprocess.run(child, capture_output=True).returncode)
        """)
    assert "tcp ConnectionRefusedError" in result.text, result.text
    assert "dns " in result.text and "child 1" in result.text
    assert "CONNECTED" not in result.text and "RESOLVED" not in result.text


def test_writes_outside_scratch_fail(tmp_path):
    scratch, kit = tmp_path / "scratch", tmp_path / "kit"
    scratch.mkdir()
    kit.mkdir()
    (kit / "check.py").write_text("original\n")
    targets = ["/usr/evil", "/evil", "/etc/evil", f"{sys.prefix}/evil", f"{kit}/check.py",
               f"{kit}/new.py", str(Path.cwd() / "evil"), "/root/evil"]
    result = inside(f"""
        import os
        for target in {targets!r}:
            try:
                open(target, 'a').write('x')
                print('WROTE', target)
            except OSError as err:
                print('refused', target, type(err).__name__)
        open('{scratch}/ok', 'w').write('ok')
        open('/tmp/private', 'w').write('ok')
    """, read_only=[kit], writable=[scratch])
    assert result.returncode == 0 and "WROTE" not in result.text, result.text
    assert result.text.count("refused") == len(targets)
    assert (kit / "check.py").read_text() == "original\n" and not (kit / "new.py").exists()
    assert (scratch / "ok").read_text() == "ok" and not Path("/tmp/private").exists()


def test_memory_limit():
    result = inside("""
        try:
            hoard = bytearray(1 << 30)
            print('ALLOCATED')
        except MemoryError:
            print('memory refused')
    """, limits=sandbox.Limits(seconds=30, memory_mb=512))
    assert "memory refused" in result.text, result.text


def test_process_limit():
    result = inside("""
        import os, time
        children = 0
        try:
            for _ in range(200):
                if os.fork() == 0:
                    time.sleep(3)
                    os._exit(0)
                children += 1
        except OSError as err:
            print('stopped', children, type(err).__name__)
    """, limits=sandbox.Limits(seconds=30, processes=16))
    assert "stopped" in result.text, result.text
    assert int(result.text.split("stopped ")[1].split()[0]) < 16


def test_time_limit_kills_the_sandbox():
    began = time.monotonic()
    result = inside("import time; time.sleep(60)", limits=sandbox.Limits(seconds=1))
    assert result.timed_out and time.monotonic() - began < 8


def test_output_is_capped():
    result = inside("while True:\n    print('x' * 1000)",
                    limits=sandbox.Limits(seconds=30, output_bytes=100_000))
    assert result.flooded and len(result.output) == 100_000


def test_pipes_talk_to_a_long_running_worker():
    code = "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)\n"
    with sandbox.start([sys.executable, "-c", code], limits=sandbox.Limits(seconds=30)) as box:
        box.stdin.write(b"ping\n")
        box.stdin.flush()
        assert box.stdout.readline() == b"PING\n"
        box.stdin.close()
        assert box.wait(timeout=10) == 0


def test_missing_bwrap_is_explained(monkeypatch):
    monkeypatch.setattr(sandbox, "BWRAP", "bwrap-that-does-not-exist")
    sandbox.unavailable_reason.cache_clear()
    try:
        reason = sandbox.unavailable_reason()
    finally:
        monkeypatch.undo()
        sandbox.unavailable_reason.cache_clear()
    assert "not installed" in reason and "apt-get install bubblewrap" in reason
    assert "--no-sandbox" in reason


def test_unprotected_mode_still_limits_time_and_output():
    result = sandbox.run([sys.executable, "-c", "while True: print('y' * 100)"], protected=False,
                         limits=sandbox.Limits(seconds=20, output_bytes=10_000))
    assert result.flooded and len(result.output) == 10_000


def test_two_threads_may_kill_one_sandbox_at_once():
    """The grader's watchdog thread and its caller both kill a worker that broke a limit: each
    kill must end cleanly and close the sandbox's pidfd once (a second close could hit a new
    sandbox's pipe that reused the number: its worker then "did not start")."""
    import threading

    for _ in range(10):
        box = sandbox.start([sys.executable, "-c", "import time; time.sleep(60)"],
                            limits=sandbox.Limits(seconds=30))
        errors, start = [], threading.Barrier(2)

        def kill():
            start.wait()
            try:
                box.kill()
            except Exception as err:  # noqa: BLE001 - the assertion below shows it
                errors.append(repr(err))

        threads = [threading.Thread(target=kill) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        bystander_read, bystander_write = os.pipe()
        try:
            assert errors == []
            assert box.poll() is not None
            os.fstat(bystander_read)  # still open
        finally:
            os.close(bystander_read)
            os.close(bystander_write)

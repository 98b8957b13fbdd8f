"""instructor/verdicts/inputs.py: the worker gets copies of a call's arguments, but those the
contract lets a function change; instructor/verdicts/watchdog.py: sums over a process tree."""
import os
import subprocess
import sys
import time

import torch

from instructor.verdicts import inputs, watchdog


def stub(name, signature_of):
    """A function like a proxy stub: the reference's signature and its verdict name."""
    signature_of.__verdict_name__ = name
    return signature_of


def test_arguments_are_copied_but_the_ones_the_contract_changes():
    def nn_sgd_step(params, grads, learning_rate):
        pass

    target = stub("two_layer_net:nn_sgd_step", nn_sgd_step)
    params, grads = {"W1": torch.ones(2)}, {"W1": torch.ones(2)}
    args, kwargs, originals = inputs.guard(target, None, (params,), {"grads": grads,
                                                                     "learning_rate": 0.1},
                                           lambda value: False)
    assert args[0] is params, "nn_sgd_step changes params in place: the check's own dict"
    assert kwargs["grads"] is not grads and kwargs["grads"]["W1"] is not grads["W1"]
    assert torch.equal(kwargs["grads"]["W1"], grads["W1"])
    assert originals[id(kwargs["grads"]["W1"])] is grads["W1"]
    kwargs["grads"]["W1"].zero_()
    assert torch.equal(grads["W1"], torch.ones(2)), "the check's tensor is untouched"


def test_copies_keep_sharing_and_leave_callbacks_alone():
    def accuracy(y_true, y_pred):
        pass

    target = stub("metrics:accuracy", accuracy)
    shared = torch.arange(3)

    def callback():
        pass

    args, _, _ = inputs.guard(target, None, ([shared, shared], callback), {}, lambda v: False)
    assert args[0][0] is args[0][1] and args[0][0] is not shared
    assert args[1] is callback
    assert inputs.mutable_names(target, None) == ()
    assert inputs.mutable_names(target, "loss") == (), "a method changes only its object"


def test_the_watchdog_sums_the_whole_process_tree():
    code = ("import subprocess, sys, time\n"
            "kids = [subprocess.Popen([sys.executable, '-c', "
            "\"b = b'x' * (64 << 20); import time; time.sleep(30)\"]) for _ in range(3)]\n"
            "time.sleep(30)\n")
    process = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and watchdog.tree_memory(process.pid) < 3 * 64 << 20:
            time.sleep(0.2)
        assert len(watchdog.process_tree(process.pid)) == 4
        assert watchdog.tree_memory(process.pid) >= 3 * 64 << 20
    finally:
        os.killpg(process.pid, 9)
        process.wait()


def test_a_warning_from_the_worker_opens_no_file(tmp_path):
    """A frame's warning names a FIFO (the worker's frames are the student's to forge):
    re-emitted and formatted in the grader, it must not open it (that would block)."""
    import threading
    import warnings

    from instructor.verdicts.session import STUDENT_CODE_FILE, WorkerSession

    fifo = tmp_path / "warning.py"
    os.mkfifo(fifo)
    session = WorkerSession.__new__(WorkerSession)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session.incoming({"warnings": [["UserWarning", "look at my source", str(fifo), 1]]})
    (warning,) = caught
    assert warning.filename == STUDENT_CODE_FILE and str(fifo) in str(warning.message)
    formatted = []
    thread = threading.Thread(target=lambda: formatted.append(warnings.formatwarning(
        warning.message, warning.category, warning.filename, warning.lineno)), daemon=True)
    thread.start()
    thread.join(timeout=10)
    if thread.is_alive():  # unblock the reader before failing
        with open(fifo, "w"):
            pass
    assert formatted, "formatting the warning opened the FIFO and blocked"

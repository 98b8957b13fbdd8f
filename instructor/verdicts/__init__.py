"""Trusted verdicts for grading (instructor only): the checks run in a process that runs no
student code; the student's functions run in a worker that only returns values.

wire.py     the frame format (JSON + raw tensor bytes; nothing in it can run code)
peer.py     the conversation: calls both ways, returns, errors, random state, write-backs
worker.py   the worker program, the only process that imports the student's files
session.py  the grader's end of the worker: launcher, deadlines, restarts
sandboxed.py  the launcher grading uses: the worker in the bubblewrap sandbox
proxy.py    proxy ``assignment.<part>`` modules built from the reference modules
runner.py   ``run_trusted_checks``: pytest in a trusted process, and grade.py's step 3
"""

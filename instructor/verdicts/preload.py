"""Imported by the forkserver that starts the trusted check processes (runner.py), before any
student code runs: everything those processes use is then in memory, never read again from
files that a worker could have written meanwhile."""
from .runner import warm_up

warm_up()

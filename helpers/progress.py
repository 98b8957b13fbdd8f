"""Progress of long notebook cells: one text line that updates while the cell runs.

Cells that run for more than a few seconds (cross-validation, searches, retraining) show a
line such as ``search: run 3/16 [00:25<01:40, best val acc 0.4123]``, written with tqdm's
text form (never its Jupyter widget) to standard output. While the cell runs the line is
redrawn in place (with ``\\r``), at most every ``REDRAW_SECONDS`` and after each step; Jupyter
and the HTML reports show only its final state. ``KIT_PROGRESS=0`` turns every line off (the
kit's tests do).
"""
import itertools
import os
import sys

from tqdm.std import tqdm

from helpers.i18n import _

REDRAW_SECONDS = 2.0
FORMAT = "{desc}: {unit} {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"


def progress_shown():
    """False when ``$KIT_PROGRESS`` is ``0`` (or ``false``/``no``): no progress lines."""
    return os.environ.get("KIT_PROGRESS", "1").strip().lower() not in ("0", "false", "no")


def progress_line(iterable=None, *, total=None, what="work", unit="step", shown=True):
    """A tqdm progress line over ``iterable`` (or ``total`` steps, advanced by ``update()``).

    Shows ``<what>: <unit> n/total [elapsed<remaining]`` and any ``set_postfix_str``;
    nothing when ``shown`` is False or ``progress_shown()`` is.
    """
    return tqdm(iterable, total=total, desc=what, unit=unit, bar_format=FORMAT, file=sys.stdout,
                mininterval=REDRAW_SECONDS, disable=not (shown and progress_shown()))


class SearchProgress:
    """The combinations of a hyperparameter search, with a progress line.

    ``SearchProgress((learning_rates, hidden_sizes, ...))`` iterates over every combination
    (``itertools.product`` of the lists), in order. Call :meth:`record` with each run's
    validation accuracy: the line shows ``run 3/16`` and the best accuracy so far::

        grid = SearchProgress((learning_rates, hidden_sizes))
        for learning_rate, hidden_size in grid:
            ...                                  # train and score one net
            grid.record(accuracy_of_this_run)
    """

    def __init__(self, value_lists, what="search"):
        self.value_lists = [list(values) for values in value_lists]
        self.total = 1
        for values in self.value_lists:
            self.total *= len(values)
        self.what = what
        self.best = None
        self._line = None

    def __len__(self):
        return self.total

    def __iter__(self):
        self._line = progress_line(total=self.total, what=self.what, unit="run")
        try:
            for combination in itertools.product(*self.value_lists):
                yield combination
        finally:
            self._line.close()

    def record(self, val_acc):
        """Count one finished run with validation accuracy ``val_acc`` (a float)."""
        self.best = val_acc if self.best is None else max(self.best, val_acc)
        if self._line is not None:
            self._line.set_postfix_str(_("best val acc so far {best:.4f}").format(best=self.best),
                                       refresh=False)
            self._line.update()

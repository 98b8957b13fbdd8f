"""Short errors for functions not written yet, in a notebook.

Every function a student writes starts in the release as a stub that raises
``NotImplementedError("<name>: not implemented yet; write your code in <file>")``
(``helpers.submission.STUB_MARK``). IPython would show it with the whole call chain:
the kit's own loops, list comprehensions and the stub's TODO comments, some 40 lines.
After :func:`install` (the set-up cell of every notebook calls it) such an error shows
three lines instead: the message, the line of the cell that called it, and the function
and file to write. Any other error keeps IPython's full traceback.
"""
import linecache

from helpers.i18n import _
from helpers.submission import STUB_MARK
from helpers.utils import shown_path

RED, BOLD, RESET = "\x1b[0;31m", "\x1b[1m", "\x1b[0m"


def is_stub_error(error):
    """True for the ``NotImplementedError`` of a stub of the release."""
    return isinstance(error, NotImplementedError) and STUB_MARK in str(error)


def _frames(tb):
    """``[(code, line number, globals), ...]`` of a traceback, outermost first."""
    frames = []
    while tb is not None:
        frames.append((tb.tb_frame.f_code, tb.tb_lineno, tb.tb_frame.f_globals))
        tb = tb.tb_next
    return frames


def brief_stub_error(error, tb, cell_globals):
    """The lines that show a stub's error: message, calling cell line, function to write.

    ``tb`` is the exception's traceback and ``cell_globals`` the namespace the notebook's
    cells run in (``get_ipython().user_ns``): the innermost frame running in it is the
    student's line. Returns a list of strings without newlines (at most four); paths are
    relative to the kit, never the machine's.
    """
    frames = _frames(tb)
    lines = [f"{RED}{BOLD}NotImplementedError{RESET}: {error}"]
    cell_frames = [(code, number) for code, number, namespace in frames
                   if namespace is cell_globals]
    if cell_frames:
        code, number = cell_frames[-1]
        called = linecache.getline(code.co_filename, number).strip()
        # Translators: {code} is the line of the notebook cell that called the stub.
        lines.append("  " + _("called in your cell, line {number}: {code}").format(
            number=number, code=called))
    if frames:
        code, number, _globals = frames[-1]
        # Translators: {function} is the function to write, {path} its file.
        lines.append("  " + _("write {function} in {path} (the stub is at line {number})").format(
            function=f"{BOLD}{code.co_name}{RESET}", path=shown_path(code.co_filename),
            number=number))
    lines.append("  " + _("(python -m helpers.check lists every function still to write)"))
    return lines


def _handle(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler: brief for stubs, IPython's traceback otherwise.

    IPython (9.x) leaves the display to the handler; ``showtraceback`` uses an exception's
    ``_render_traceback_`` when it has one, so the stub's error gets its brief lines there.
    """
    if is_stub_error(value):
        lines = brief_stub_error(value, tb, shell.user_ns)
        value._render_traceback_ = lambda: lines
    shell.showtraceback(running_compiled_code=True)


def install():
    """Show stub errors briefly in this IPython session (no-op outside IPython).

    Returns nothing, so a notebook cell ending with it shows no value.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((NotImplementedError,), _handle)

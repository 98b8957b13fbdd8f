"""Gradebook and feedback text that a submission cannot forge (instructor only).

Everything a submission controls (its name, ids, messages, its own output)
passes through ``clean``: control characters and line breaks go, length is
capped. CSV cells are also escaped against spreadsheet formulas. Hidden
checks appear as PASS/FAIL with a generic line, and lines of their source are
removed from any output shown.
"""
import csv
import io
import os
import unicodedata
from pathlib import Path

MAX_CELL = 1000
MAX_LINE = 200
MAX_LINES = 15
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HIDDEN_FAIL = "a hidden check failed (hidden checks are not shown; test your function more widely)"
MIN_SECRET_LINE = 12


def clean(text, limit=MAX_LINE):
    """One line of plain text: control and format characters removed, at most ``limit`` long."""
    out = []
    for char in str(text):
        category = unicodedata.category(char)
        if char in "\t\n\r\x0b\x0c":
            out.append(" ")
        elif category not in ("Cc", "Cf", "Cs", "Zl", "Zp", "Co"):
            out.append(char)
    line = "".join(out).strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


def csv_cell(value):
    """A CSV cell: numbers as they are; text cleaned, capped and kept from being a formula."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = clean(value, MAX_CELL)
    return "'" + text if text.startswith(FORMULA_START) else text


def secret_lines(sources):
    """Stripped lines (long enough to be telling) of the hidden checks' source texts."""
    lines = set()
    for source in sources:
        lines.update(line.strip() for line in source.splitlines()
                     if len(line.strip()) >= MIN_SECRET_LINE)
    return lines


def shown_output(text, secrets=frozenset()):
    """The last ``MAX_LINES`` lines of a submission's output, cleaned, capped, with every
    line that holds a line of the hidden checks replaced."""
    lines = [line for line in str(text).splitlines() if line.strip()][-MAX_LINES:]
    shown = []
    for line in lines:
        hidden = any(secret in line for secret in secrets)
        shown.append("[line removed: it quotes a hidden check]" if hidden else clean(line))
    return shown


def function_line(function):
    """One line per checked function: its verdict and, for visible checks, why it failed."""
    if function.get("hidden"):
        why = f": {HIDDEN_FAIL}" if function["status"] == "FAIL" else ""
        return f"hidden check of {clean(function['name'], 80)}: {function['status']}{why}"
    failures = function.get("failures") or []
    why = f": {clean(failures[0])}" if function["status"] == "FAIL" and failures else ""
    return f"{clean(function['name'], 80)}: {function['status']}{why}"


def part_lines(entry, secrets):
    """Feedback lines of one part: function verdicts, errors, capped output of a failed run."""
    lines = [f"  {function_line(function)}" for function in entry.get("functions", [])]
    errors = entry.get("errors", []) + ([entry["sandbox"]] if entry.get("sandbox") else [])
    lines += [f"  error: {clean(error)}" for error in errors]
    if entry.get("log"):
        shown = shown_output(entry["log"], secrets)
        lines += ["  last output:"] + [f"    {line}" for line in shown]
    return lines


def points_lines(function_points):
    """One line per student function: ``points for <function>: earned / possible``."""
    return [f"  points for {name}: {float(earned):.4g} / {float(possible):.4g}"
            for name, earned, possible in function_points]


def feedback_text(sub, report, part_scores, model_scores, total, maximum, parts, secrets=(),
                  function_points=None):
    """The feedback file of one submission; ``function_points``: part -> ``[(function, earned,
    possible)]`` (``instructor.grade.function_points``)."""
    function_points = function_points or {}
    lines = [f"Feedback for {clean(sub.student_id, 80)} ({clean(sub.name, 100) or 'no name'}), "
             f"{clean(sub.zip_name, 100)}", f"Total: {total:g} / {maximum:g}", ""]
    if sub.problems:
        lines += ["Problems:"] + [f"  - {clean(p)}" for p in sub.problems] + [""]
    for part in parts:
        lines.append(f"{part}: {part_scores.get(part, 0):g} points")
        lines += points_lines(function_points.get(part, []))
        lines += part_lines(report.get(part, {}), secrets)
    if model_scores:
        lines.append("saved models:")
        for filename, (_, points, note) in model_scores.items():
            lines.append(f"  {filename}: {points:g} points ({clean(note)})")
    return "\n".join(lines) + "\n"


def write_feedback(folder, file_id, text):
    """Write ``<folder>/<file_id>.txt`` atomically; ``file_id`` must be a plain file name."""
    folder = Path(folder)
    if not file_id or "/" in file_id or file_id.startswith("."):
        raise ValueError(f"refusing to write feedback under the name {file_id!r}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_id}.txt"
    partial = folder / f".{file_id}.txt.partial"
    partial.write_text(text)
    os.replace(partial, path)
    return path


def write_csv(path, rows):
    """Write the gradebook atomically, every cell through ``csv_cell``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(buffer.getvalue())
    os.replace(partial, path)

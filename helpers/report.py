"""Your lab report: one self-contained ``report.html`` from your executed notebooks.

    python -m helpers.report [--out report.html] [--student-id ID] [--name NAME] [--self-check]

The report holds a header (name, student id, date, run mode, device, the self-check summary),
then per task: the task's requirements, the headline results recorded in
``results/metrics.json``, every figure of the notebook under its section's heading, and every
written question with your answer rendered from Markdown (formulas as MathML: no network
needed). Figures are embedded in the file, so it opens anywhere; *Print -> Save as PDF* puts
each question on a page of its own. ``collect_submission.py`` builds it and puts it in your zip.
"""
import argparse
import base64
import binascii
import html
import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from helpers.i18n import _
from helpers.markdown_html import STYLE as MARKDOWN_STYLE
from helpers.markdown_html import markdown_block
from helpers.questions import (  # noqa: F401  (answers_from_notebooks: the public entry)
    answers_from_notebooks,
    cell_text,
    questions_in,
    read_notebook,
)
from helpers.submission import NOTEBOOKS, run_mode_records
from helpers.utils import KIT_ROOT, results_dir

REPORT_NAME = "report.html"
# An answer longer than this is cut in the page (with a note): a huge paste stays readable.
MAX_ANSWER_CHARS = 20_000
HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*$", re.MULTILINE)
DEVICE_LINE = re.compile(r"^device: ([^;\n]+)", re.MULTILINE)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

PAGE_STYLE = """
body { font-family: "Noto Sans", "Noto Sans CJK SC", "Helvetica Neue", Arial, sans-serif;
       max-width: 60em; margin: 1.5em auto; padding: 0 1em; line-height: 1.45; color: #222; }
header.report-header table, table.results { border-collapse: collapse; margin: 0.5em 0; }
header.report-header td, header.report-header th, table.results td, table.results th {
  border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
figure { margin: 0.8em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
section.question { border-top: 2px solid #446; margin-top: 2em; padding-top: 0.5em; }
.answer { background: #f6f8fa; padding: 0.5em 1em; border-left: 4px solid #446; }
.blank { color: #a00; font-style: italic; }
code { background: #f0f0f0; padding: 0 0.2em; }
@media print {
  body { max-width: none; margin: 0; }
  section.task { break-before: page; }
  section.question { break-before: page; border-top: none; }
  figure { break-inside: avoid; }
}
"""


@dataclass
class Header:
    """The report's header fields (all plain text; the page escapes them)."""

    student_id: str = ""
    name: str = ""
    created: str = ""
    run_mode: str = ""
    device: str = ""
    self_check: str = ""


def escape(text):
    return html.escape(str(text), quote=True)


def png_outputs(cell):
    """The base64 text of every ``image/png`` output of a code cell that is a real PNG."""
    images = []
    for output in cell.get("outputs", []):
        data = output.get("data", {}) if isinstance(output, dict) else {}
        encoded = data.get("image/png") if isinstance(data, dict) else None
        if isinstance(encoded, list):
            encoded = "".join(encoded)
        if not isinstance(encoded, str):
            continue
        encoded = "".join(encoded.split())
        try:
            if base64.b64decode(encoded[:24], validate=True).startswith(PNG_MAGIC):
                images.append(encoded)
        except (binascii.Error, ValueError):
            continue
    return images


def figures_by_section(notebook):
    """list of ``(heading, [png base64, ...])``: every figure of the notebook under the last
    Markdown heading before it (sections without figures left out)."""
    sections, heading = [], "Set-up"
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            headings = HEADING.findall(cell_text(cell))
            if headings:
                heading = headings[-1][1]
        elif cell.get("cell_type") == "code":
            images = png_outputs(cell)
            if not images:
                continue
            if sections and sections[-1][0] == heading:
                sections[-1][1].extend(images)
            else:
                sections.append((heading, images))
    return sections


def output_text(notebook):
    """All the stream and plain-text outputs of a notebook, joined (str)."""
    parts = []
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            parts.append("".join(text) if isinstance(text, list) else str(text))
    return "\n".join(parts)


def run_mode_of(notebooks):
    """How the notebooks were run, in words: "full", "quick (...)", or what is unknown."""
    modes = []
    for name, notebook in notebooks.items():
        records = run_mode_records(notebook)
        if not records:
            # Translators: the run mode of a notebook in the lab report's header.
            modes.append(_("{notebook}: not run").format(notebook=name))
        elif any(record.get("quick_mode") is not False for record in records):
            modes.append(_("{notebook}: quick (KIT_QUICK=1, a subsample)").format(notebook=name))
    # Translators: the run mode in the lab report's header: every notebook run in full.
    return "; ".join(modes) if modes else _("full (every notebook)")


def device_of(notebooks):
    """The devices the notebooks report in their set-up output (``device: ...``)."""
    devices = []
    for notebook in notebooks.values():
        devices += [d.strip() for d in DEVICE_LINE.findall(output_text(notebook))]
    # Translators: the device in the lab report's header, when no notebook names it.
    return ", ".join(dict.fromkeys(devices)) or _("not recorded")


def format_value(value):
    """A recorded figure as text: numbers to 4 significant digits, dicts as ``k=v``."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items())
    return str(value)


def metrics_table(figures):
    """HTML table of one notebook's recorded figures (dict); lists (e.g. every search run)
    are left out, they are in the notebook's figures."""
    rows = [(key, value) for key, value in sorted(figures.items())
            if not isinstance(value, list) and key != "quick_mode"]
    if not rows:
        return ('<p class="blank">'
                + escape(_("No results recorded (run the notebook to the end).")) + "</p>\n")
    body = "".join(f"<tr><th>{escape(key)}</th><td>{escape(format_value(value))}</td></tr>\n"
                   for key, value in rows)
    return f'<table class="results">\n{body}</table>\n'


def question_html(question):
    """One question and its answer, as a ``<section>``."""
    if question.answer:
        answer = markdown_block(question.answer, MAX_ANSWER_CHARS)
    else:
        answer = '<p class="blank">' + escape(_("No answer written.")) + "</p>\n"
    # Translators: a heading of the lab report; {id} is e.g. linear_classifier/q1.
    heading = _("Question {id}").format(id=question.id)
    return (f'<section class="question" id="{escape(question.id)}" '
            f'data-question-id="{escape(question.id)}">\n'
            f"<h3>{escape(heading)}</h3>\n"
            f'<div class="question-text">{markdown_block(question.text)}</div>\n'
            f'<div class="answer">{answer}</div>\n</section>\n')


def section_heading(text):
    """A section's heading (``<h2>``) of a task in the report."""
    return f"<h2>{escape(text)}</h2>\n"


def task_html(name, notebook, figures):
    """The report's section for one notebook: requirements, results, figures, questions."""
    cells = notebook.get("cells", [])
    intro = cell_text(cells[0]) if cells else ""
    title_match = HEADING.search(intro)
    title = title_match.group(2) if title_match else name
    requirements = HEADING.sub("", intro, count=1) if title_match else intro
    parts = [f'<section class="task" id="task-{escape(name)}">\n<h1>{escape(title)}</h1>\n',
             # Translators: a section of the lab report: what the task asks, on which data
             # (the course calls it 数据和要求).
             section_heading(_("Requirements")), markdown_block(requirements),
             # Translators: a section of the lab report: the figures the notebook recorded
             # (the course calls it 实验结果与分析).
             section_heading(_("Results")), metrics_table(figures)]
    sections = figures_by_section(notebook)
    if sections:
        # Translators: a section of the lab report: the plots of the notebook.
        parts.append(section_heading(_("Figures")))
    for heading, images in sections:
        parts.append(f"<h3>{escape(heading)}</h3>\n")
        for number, image in enumerate(images, start=1):
            # Translators: the alternative text of a plot; {heading} is its section's heading.
            alt = _("{heading}, figure {number}").format(heading=heading, number=number)
            parts.append(f'<figure><img alt="{escape(alt)}" '
                         f'src="data:image/png;base64,{image}"></figure>\n')
    # Translators: a section of the lab report: the written questions and their answers.
    parts.append(section_heading(_("Written questions")))
    parts += [question_html(question) for question in questions_in(notebook, name)]
    parts.append("</section>\n")
    return "".join(parts)


def header_html(header):
    # Translators: a field of the lab report's header left empty by the student.
    not_given = _("(not given)")
    # Translators: the self-check's summary in the lab report's header: it was not run.
    not_run = _("not run")
    rows = [(_("Name"), header.name or not_given),
            (_("Student id"), header.student_id or not_given),
            (_("Date (UTC)"), header.created), (_("Run mode"), header.run_mode),
            (_("Device"), header.device), (_("Self-check"), header.self_check or not_run)]
    body = "".join(f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>\n"
                   for label, value in rows)
    title = escape(_("Lab report: CIFAR-10 image classification"))
    return (f'<header class="report-header">\n<h1>{title}'
            f"</h1>\n<table>\n{body}</table>\n</header>\n")


def build_report(notebook_paths, metrics, header):
    """The report's HTML (str).

    Inputs: ``notebook_paths``, the executed notebooks in task order; ``metrics``, the dict of
    ``results/metrics.json`` (notebook name -> figures); ``header``, a ``Header`` whose
    run mode and device are filled in from the notebooks when empty.
    """
    notebooks = {Path(path).stem: read_notebook(path) for path in notebook_paths}
    header.run_mode = header.run_mode or run_mode_of(notebooks)
    header.device = header.device or device_of(notebooks)
    body = "".join(task_html(name, notebook, metrics.get(name, {}))
                   for name, notebook in notebooks.items())
    title = _("Lab report: {name}").format(name=header.name) if header.name else _("Lab report")
    # Translators: the language code of the report's page (HTML lang): zh-CN for Chinese.
    language = _("en")
    return (f"<!DOCTYPE html>\n<html lang=\"{escape(language)}\">\n<head>\n"
            "<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n"
            f"<style>{PAGE_STYLE}{MARKDOWN_STYLE}</style>\n</head>\n<body>\n"
            f"{header_html(header)}{body}</body>\n</html>\n")


def read_metrics(path):
    """The dict in ``results/metrics.json``, or {} when it is missing or unreadable."""
    try:
        metrics = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def write_report(out, kit_root=KIT_ROOT, student_id="", name="", self_check="",
                 metrics_path=None):
    """Build the report from ``kit_root``'s notebooks and write it to ``out``; returns the path.

    ``metrics_path`` defaults to ``results/metrics.json`` (``$KIT_RESULTS_DIR``)."""
    kit_root = Path(kit_root)
    paths = [kit_root / "notebooks" / name for name in NOTEBOOKS
             if (kit_root / "notebooks" / name).exists()]
    metrics = read_metrics(metrics_path or results_dir() / "metrics.json")
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
    header = Header(student_id=student_id, name=name, created=created, self_check=self_check)
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(build_report(paths, metrics, header), encoding="utf-8")
    partial.replace(out)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m helpers.report",
                                     description=_("Build report.html from your executed "
                                                   "notebooks."))
    parser.add_argument("--out", type=Path, default=KIT_ROOT / REPORT_NAME)
    parser.add_argument("--student-id", default="")
    parser.add_argument("--name", default="")
    parser.add_argument("--self-check", action="store_true",
                        help=_("run python -m helpers.check and put its summary in the "
                               "header"))
    args = parser.parse_args(argv)
    summary = ""
    if args.self_check:
        from helpers.submission import self_check_summary

        summary = self_check_summary()["summary"]
    path = write_report(args.out, student_id=args.student_id, name=args.name,
                        self_check=summary)
    # Translators: "Print -> Save as PDF" names the browser's menu items.
    print(_("Wrote {path}: open it in a browser; Print -> Save as PDF gives one page per "
            "question.").format(path=path))
    return 0


if __name__ == "__main__":
    sys.exit(main())

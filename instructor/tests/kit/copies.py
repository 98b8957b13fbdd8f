"""Submissions with planted copies, for the similarity report's tests and benchmark.

Every submission is a real zip (``hostile.pack``, as collect_submission.py writes it) of a
release whose ``assignment/*.py`` files and notebook answers were set by one of:

- ``reference``: this source's solutions (the answers: the reference answers);
- ``renamed_copy``: the same code with every local name and argument renamed, a comment
  above each function and the functions in reverse order;
- ``single_function``: the release with only ``SINGLE_FUNCTION`` filled in from the reference;
- the release untouched (stubs only);
- ``independent``: the release with ``INDEPENDENT``'s functions written anew here, in
  another style (the honest pair of the reference);
- ``varied``: for the benchmark, a reference whose names are renamed with a per-student
  salt and some functions left as stubs, so that every submission differs.
"""
import ast
import io
import json
import random
import shutil
import tokenize
from pathlib import Path

from helpers import submission
from helpers.utils import KIT_ROOT
from instructor import release
from instructor.similarity.collect import release_code
from instructor.tests.kit.hostile import pack

SINGLE_FUNCTION = ("two_layer_net", "nn_forward_backward")

# Functions of linear_classifier.py written independently of the reference, in another style.
INDEPENDENT = {
    "svm_loss_naive": """
n_examples, n_classes = X.shape[0], W.shape[1]
for n in range(n_examples):
    row = X[n] @ W
    target = int(y[n])
    for c in range(n_classes):
        if c != target and row[c] - row[target] + 1.0 > 0:
            loss = loss + (row[c] - row[target] + 1.0)
            dW[:, c] = dW[:, c] + X[n]
            dW[:, target] = dW[:, target] - X[n]
""",
    "svm_loss_vectorized": """
N = len(y)
S = X @ W
true_scores = S[torch.arange(N), y].unsqueeze(1)
hinge = torch.relu(S - true_scores + 1.0)
hinge[torch.arange(N), y] = 0
loss = hinge.sum() / N + reg * (W ** 2).sum()
active = (hinge > 0).double().to(X.dtype)
active[torch.arange(N), y] = -active.sum(1)
dW = (X.T @ active) / N + 2 * reg * W
""",
    "softmax_loss_vectorized": """
N = len(y)
logits = X @ W
logits = logits - logits.amax(1, keepdim=True)
logsumexp = torch.logsumexp(logits, 1, keepdim=True)
logp = logits - logsumexp
loss = -logp[torch.arange(N), y].mean() + reg * (W ** 2).sum()
probs = torch.softmax(logits, 1)
probs[torch.arange(N), y] = probs[torch.arange(N), y] - 1
dW = X.T @ probs / N + 2 * reg * W
""",
    "sample_batch": """
picks = torch.randint(0, num_train, size=(batch_size,), device=X.device)
X_batch, y_batch = X[picks], y[picks.to(y.device)]
""",
}

ANSWER_COPY_EDITS = (("the ", "a "), (" is ", " becomes "), ("because", "since"))
CHINESE_ANSWER = ("学习率太大时，一次更新可能把某个隐藏单元的偏置推得很负，此后它对每一张训练图像的"
                  "输入都小于零，ReLU 输出恒为零，梯度也恒为零，这个单元再也无法恢复，成为死单元。")
CHINESE_COPY = ("学习率过大时，一次更新可能把某个隐藏单元的偏置推得很负，此后它对每一张训练图像的"
                "输入都小于零，ReLU 输出恒为零，梯度也恒为零，这个单元再也不能恢复，成为死单元。")
CHINESE_OWN = ("如果某个单元在所有样本上的预激活都是负数，那么反向传播时经过 ReLU 的梯度为零，"
               "它的权重列只受正则项影响而缩小。步长过大会让权重一步跳到这种区域。")


# ------------------------------------------------------------------ code ---

def reference_code():
    """dict part -> this source's ``assignment/<part>.py`` (the reference solutions)."""
    return {part: (KIT_ROOT / "assignment" / f"{part}.py").read_text()
            for part in submission.PARTS}


def _local_names(function):
    """Arguments and assigned names of a function node (``self`` kept)."""
    names = {arg.arg for arg in function.args.args + function.args.kwonlyargs}
    names |= {n.id for n in ast.walk(function) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Store)}
    return names - {"self"}


def _renames(text, salt):
    """``[(row, start column, end column, new name)]``: every use of a function's local names
    in ``text`` (not attributes, keyword names of calls, strings or comments)."""
    tree = ast.parse(text)
    scopes = [(node.lineno, node.end_lineno, node.body[0].lineno, _local_names(node))
              for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    edits, previous, depth = [], None, 0
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    for index, token in enumerate(tokens):
        depth += token.string in "([{" and token.type == tokenize.OP
        depth -= token.string in ")]}" and token.type == tokenize.OP
        following = tokens[index + 1].string if index + 1 < len(tokens) else ""
        row = token.start[0]
        if token.type == tokenize.NAME and (previous is None or previous.string != "."):
            inner = [s for s in scopes if s[0] <= row <= s[1] and token.string in s[3]]
            keyword = depth > 0 and following == "=" and not any(s[0] <= row < s[2]
                                                                 for s in inner)
            if inner and not keyword:
                edits.append((row, token.start[1], token.end[1],
                              f"{salt}{token.string[::-1]}"))
        previous = token
    return edits


def renamed_copy(text, salt="v", reorder=True, comment=True):
    """``text`` with the local names of every function renamed, a comment above each
    function and the top-level functions in reverse order; the rest (docstrings, given code,
    layout) as it was."""
    lines = text.splitlines(keepends=True)
    for row, begin, end, new in sorted(_renames(text, salt), reverse=True):
        lines[row - 1] = lines[row - 1][:begin] + new + lines[row - 1][end:]
    tree = ast.parse(text)
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    blocks = [(node.lineno - 1 - len(node.decorator_list), node.end_lineno)
              for node in functions]
    chunks = ["".join(lines[begin:end]) for begin, end in blocks]
    if comment:
        chunks = [f"# my own helper, see lecture notes ({salt})\n" + chunk for chunk in chunks]
    order = list(reversed(chunks)) if reorder else chunks
    out, cursor = [], 0
    for (begin, end), chunk in zip(blocks, order):
        out.append("".join(lines[cursor:begin]) + chunk)
        cursor = end
    return "".join(out) + "".join(lines[cursor:])


def single_function(part=SINGLE_FUNCTION[0], function=SINGLE_FUNCTION[1]):
    """dict part -> file: the release, with only ``function`` of ``part`` filled in."""
    files = release_code()
    files[part] = release.fill_stubs(files[part], reference_code()[part], function)
    return files


def independent():
    """dict part -> file: the release with ``INDEPENDENT``'s functions written anew."""
    files = release_code()
    source = reference_code()["linear_classifier"]
    text = files["linear_classifier"]
    for function, code in INDEPENDENT.items():
        text = release.fill_stubs(text, release.replace_region(source, function, code), function)
    files["linear_classifier"] = text
    return files


def varied(seed):
    """dict part -> file: the reference renamed with a salt of ``seed``, a third of its
    functions left as stubs and, for a few seeds, not reordered."""
    rng = random.Random(seed)
    files = {}
    for part, text in reference_code().items():
        functions = [f for f in dict.fromkeys(_functions_with_regions(text))]
        kept = release.transform_python(text, f"assignment/{part}.py")
        for function in functions:
            if rng.random() < 2 / 3:
                kept = release.fill_stubs(kept, text, function)
        files[part] = renamed_copy(kept, salt=f"s{seed}_", reorder=rng.random() < 0.5)
    return files


def _functions_with_regions(text):
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        begin = release.BEGIN.match(line.rstrip("\n"))
        if begin:
            yield release.enclosing_function(lines, index, begin["indent"])


# --------------------------------------------------------------- answers ---

def notebooks_with_answers(answers):
    """dict notebook name -> the release notebook's JSON with ``answers`` (question id ->
    text) written into its answer cells (found by cell id, as a student's Jupyter keeps it)."""
    from instructor.similarity.answers import source_questions

    out = {}
    for name in submission.NOTEBOOKS:
        notebook = json.loads(release.transform_notebook(
            (KIT_ROOT / "notebooks" / name).read_text(), f"notebooks/{name}"))
        ids = {cell_id: f"{Path(name).stem}/q{k}"
               for k, (cell_id, _) in enumerate(source_questions(name), start=1)}
        for cell in notebook["cells"]:
            question = ids.get(cell.get("id"))
            if question in answers:
                cell["source"] = answers[question].splitlines(keepends=True)
        out[name] = json.dumps(notebook)
    return out


def reference_answers():
    """dict question id -> the reference answer (the solution region of each answer cell)."""
    from instructor.similarity.answers import source_questions

    answers = {}
    for name in submission.NOTEBOOKS:
        cells = {c.get("id"): c for c in json.loads((KIT_ROOT / "notebooks" / name).read_text())
                 ["cells"]}
        for k, (cell_id, _) in enumerate(source_questions(name), start=1):
            text = "".join(cells[cell_id]["source"])
            body = release.HTML_MARKER.split(text)
            answers[f"{Path(name).stem}/q{k}"] = "**Your answer:** " + (
                body[2] if len(body) > 2 else text).strip()
    return answers


def edited(answer):
    """A lightly edited copy of an answer (a few words swapped)."""
    for old, new in ANSWER_COPY_EDITS:
        answer = answer.replace(old, new, 1)
    return answer


# ------------------------------------------------------------------ zips ---

def write_zip(folder, work, student_id, files, notebooks=None):
    """A real submission zip of the release with ``files`` (part -> text) as its assignment
    files and ``notebooks`` (name -> JSON text, default: the release's) in ``folder``."""
    kit = Path(work) / student_id
    shutil.rmtree(kit, ignore_errors=True)
    (kit / "assignment").mkdir(parents=True)
    (kit / "notebooks").mkdir()
    for part, text in files.items():
        (kit / "assignment" / f"{part}.py").write_text(text)
    for name, text in (notebooks or notebooks_with_answers({})).items():
        (kit / "notebooks" / name).write_text(text)
    path = pack(kit, Path(folder), student_id)
    shutil.rmtree(kit)
    return path


def class_of(folder, work, size, seed=0):
    """``size`` zips of ``varied`` submissions (ids ``v000``...) in ``folder``."""
    notebooks = notebooks_with_answers({})
    return [write_zip(folder, work, f"v{index:03d}", varied(seed + index), notebooks)
            for index in range(size)]

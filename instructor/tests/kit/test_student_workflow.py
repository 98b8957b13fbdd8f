"""The student side, end to end, on a real release of this kit.

- the release as students get it: it imports, every student function is a
  stub that names itself, the self-check reports every function NOT
  IMPLEMENTED, no solution survives, notebooks carry no outputs,
  collect_submission refuses it, and a notebook stops at the first stub;
- a finished release (the reference solutions copied in, the notebooks run
  in quick mode and then marked as a full run): the self-check passes and the
  submission zip is right;
- every refusal of collect_submission, each with its exit code and message.
"""
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from helpers import submission
from helpers.utils import KIT_ROOT, RUN_MODE_MIME
from instructor import release
from instructor.run_notebooks import environment, execute_notebook
from instructor.tests.kit.runner import run_in, set_run_mode

pytestmark = pytest.mark.long  # the long tier (pytest --all): see conftest.py


def functions_with_regions():
    """'module.function' for every function of assignment/ that holds a solution region."""
    names = set()
    for path in sorted((KIT_ROOT / "assignment").glob("*.py")):
        lines = path.read_text().splitlines(keepends=True)
        for index, line in enumerate(lines):
            match = release.BEGIN.match(line.rstrip("\n"))
            if match:
                names.add(
                    f"{path.stem}.{release.enclosing_function(lines, index, match['indent'])}"
                )
    return names


@pytest.fixture
def kit_copy(finished_kit, tmp_path):
    """A private copy of the finished kit that a test may break."""
    copy = tmp_path / "student_kit"
    shutil.copytree(finished_kit, copy)
    return copy


# ------------------------------------------------------ the release as is ---

def test_release_imports(student_kit):
    modules = [f"assignment.{p.stem}" for p in (student_kit / "assignment").glob("*.py")]
    result = run_in(student_kit, "-c", f"import {', '.join(modules)}; print('ok')")
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


def test_every_student_function_is_a_stub_naming_itself(student_kit):
    expected = functions_with_regions()
    assert expected, "the source has solution regions"
    stubs = set()
    for path in (student_kit / "assignment").glob("*.py"):
        text = path.read_text()
        for name in submission.stubbed_functions(text):
            stubs.add(f"{path.stem}.{name}")
            assert f'raise NotImplementedError("{name}: not implemented yet' in text, \
                f"{path.name}: the stub of {name} does not name it"
    assert stubs == expected


def test_self_check_reports_every_function_not_implemented(student_kit):
    result = run_in(student_kit, "-m", "helpers.check")
    assert result.returncode != 0
    lines = result.stdout.strip().splitlines()
    function_lines = lines[:-1]
    assert function_lines, result.stdout + result.stderr
    assert all(line.endswith(": NOT IMPLEMENTED") for line in function_lines), \
        "\n".join(line for line in function_lines if not line.endswith("NOT IMPLEMENTED"))
    reported = {line.split(":")[0] for line in function_lines}
    assert reported == functions_with_regions(), "one line per student function"
    assert lines[-1].startswith(f"0 of {len(function_lines)} functions pass")


def test_no_solution_line_or_marker_survives(student_kit):
    secret = release.solution_lines(KIT_ROOT, release.student_files(KIT_ROOT))
    assert len(secret) > 50, "the kit's regions hold real solutions"
    for path in student_kit.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path
            survivors = secret & {line.strip() for line in text.splitlines()}
            assert not survivors, f"{path}: {sorted(survivors)[:3]}"


def test_release_notebooks_carry_no_outputs(student_kit):
    for path in (student_kit / "notebooks").glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            assert not cell.get("outputs") and cell.get("execution_count") is None, path.name


def test_collect_submission_refuses_the_release_and_lists_the_stubs(student_kit):
    result = run_in(student_kit, "collect_submission.py", "s123")
    assert result.returncode == 2
    for name in functions_with_regions():
        module, function = name.split(".", 1)
        assert (
            f"assignment/{module}.py: {function} still raises NotImplementedError" in result.stderr
        )
    assert not list(student_kit.glob("*.zip"))


def test_release_notebook_stops_at_the_first_stub(student_kit, tmp_path):
    with environment(KIT_QUICK="1", KIT_SAVED_DIR=tmp_path, KIT_RESULTS_DIR=tmp_path):
        failure = execute_notebook(student_kit / "notebooks" / "linear_classifier.ipynb",
                                   tmp_path / "executed.ipynb", timeout=600)
    assert failure is not None and "NotImplementedError" in failure
    assert "not implemented yet; write your code in assignment/" in failure


# The commands every student-facing text uses: one per job.
CHECK_COMMAND = "python -m helpers.check"
RUN_COMMAND = "jupyter nbconvert --to notebook --execute --inplace notebooks/"


def test_student_readme_describes_the_workflow(student_kit):
    readme = (student_kit / "README.md").read_text()
    for command in ("pip install -r requirements.txt", CHECK_COMMAND, RUN_COMMAND,
                    "KIT_QUICK=1", "python collect_submission.py", "WAITING for"):
        assert command in readme, f"the student README does not mention {command!r}"
    assert "pytest" not in readme, "students check their work with one command"


def test_notebooks_name_the_same_commands(student_kit):
    for path in sorted((student_kit / "notebooks").glob("*.ipynb")):
        text = "".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"])
        assert f"`{CHECK_COMMAND} " in text, f"{path.name} does not name {CHECK_COMMAND!r}"
        assert "pytest" not in text, f"{path.name} names pytest; students use {CHECK_COMMAND!r}"
        assert "KIT_QUICK=1" in text and "utils.show_run_mode()" in text, \
            f"{path.name} must explain quick mode and record the run mode"


# ------------------------------------------------------ a finished release ---

def test_round_trip_self_check_and_submission(kit_copy):
    result = run_in(kit_copy, "-m", "helpers.check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(line.endswith(": PASS") for line in result.stdout.strip().splitlines()[:-1])

    # Things that must never be packed: hidden files, caches, data.
    (kit_copy / "assignment" / ".notes.py").write_text("secret = 1\n")
    (kit_copy / "data").mkdir(exist_ok=True)
    (kit_copy / "data" / "big.bin").write_bytes(b"0" * 1000)
    result = run_in(kit_copy, "collect_submission.py", "s123", "--name", "Ada Lovelace")
    assert result.returncode == 0, result.stdout + result.stderr
    zip_path = kit_copy / "s123_submission.zip"
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read(submission.MANIFEST))
        expected = ({f"assignment/{p.name}" for p in (KIT_ROOT / "assignment").glob("*.py")}
                    | {f"notebooks/{n}" for n in submission.NOTEBOOKS}
                    | {f"saved/{n}" for n in submission.SAVED_MODELS}
                    | {submission.MANIFEST, submission.REPORT})
        assert names == expected
        for name, digest in manifest["files"].items():
            assert submission.hashlib.sha256(archive.read(name)).hexdigest() == digest, name
    assert manifest["student_id"] == "s123" and manifest["name"] == "Ada Lovelace"
    assert manifest["created_utc"].endswith("+00:00")
    assert manifest["self_check"]["exit_code"] == 0
    assert " 0 fail, 0 waiting, 0 not implemented" in manifest["self_check"]["summary"]
    assert "14 written answer(s) still blank" in result.stderr, "a warning, not a refusal"


# ------------------------------------------------- refusals, one at a time ---

def refused(kit, *args):
    """Run collect_submission expecting a refusal; returns its stderr."""
    result = run_in(kit, "collect_submission.py", "s123", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "No submission written" in result.stderr
    assert not (kit / "s123_submission.zip").exists() or "exists" in result.stderr
    return result.stderr


def test_refuses_a_missing_file(kit_copy):
    (kit_copy / "assignment" / "metrics.py").unlink()
    assert "assignment/metrics.py: missing" in refused(kit_copy)


def test_refuses_a_notebook_never_run(kit_copy, student_kit):
    shutil.copy(student_kit / "notebooks" / "two_layer_net.ipynb", kit_copy / "notebooks")
    assert "notebooks/two_layer_net.ipynb: was never run" in refused(kit_copy)


def test_refuses_a_notebook_run_in_quick_mode(kit_copy):
    set_run_mode(kit_copy / "notebooks" / "two_layer_net.ipynb", quick=True)
    message = refused(kit_copy)
    assert "notebooks/two_layer_net.ipynb: was run in quick mode (KIT_QUICK=1)" in message
    assert "Re-run it without KIT_QUICK" in message
    assert "linear_classifier.ipynb" not in message, "only the quick-mode notebook is named"


def test_refuses_a_notebook_that_does_not_record_its_run_mode(kit_copy):
    path = kit_copy / "notebooks" / "linear_classifier.ipynb"
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        cell["outputs"] = [output for output in cell.get("outputs", [])
                           if RUN_MODE_MIME not in output.get("data", {})]
    path.write_text(json.dumps(notebook))
    assert "notebooks/linear_classifier.ipynb: does not record how it was run" in refused(kit_copy)


def test_refuses_a_notebook_with_an_error_output(kit_copy):
    path = kit_copy / "notebooks" / "linear_classifier.ipynb"
    notebook = json.loads(path.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    code[2]["outputs"].append({"output_type": "error", "ename": "ValueError",
                               "evalue": "bad shape", "traceback": []})
    path.write_text(json.dumps(notebook))
    message = refused(kit_copy)
    assert (
        "notebooks/linear_classifier.ipynb: cell" in message and "ValueError: bad shape" in message
    )


def test_refuses_functions_that_still_raise(kit_copy, student_kit):
    shutil.copy(student_kit / "assignment" / "metrics.py", kit_copy / "assignment")
    message = refused(kit_copy)
    for function in ("accuracy", "confusion_matrix", "precision_recall"):
        assert f"assignment/metrics.py: {function} still raises NotImplementedError" in message


def test_refuses_a_missing_or_broken_model(kit_copy):
    (kit_copy / "saved" / "softmax_best.pt").unlink()
    (kit_copy / "saved" / "fc_net_best.pt").write_bytes(b"not a model")
    message = refused(kit_copy)
    assert "saved/softmax_best.pt: missing; run the notebook that saves it" in message
    assert "saved/fc_net_best.pt: does not load" in message


def test_refuses_a_zip_over_40_mb(kit_copy):
    torch.save(
        {"W": torch.rand(11_000_000)}, kit_copy / "saved" / "fc_net_best.pt"
    )  # 44 MB of noise
    assert "over the 40 MB limit" in refused(kit_copy)
    assert not list(kit_copy.glob("*.zip*")) and not list(kit_copy.glob(".*.zip-*"))


def test_refuses_to_overwrite_without_the_flag(kit_copy):
    zip_path = kit_copy / "s123_submission.zip"
    zip_path.write_bytes(b"earlier submission")
    assert "exists; pass --overwrite to replace it" in refused(kit_copy)
    assert zip_path.read_bytes() == b"earlier submission", "a refusal loses nothing"


def test_refuses_a_link_out_of_the_kit(kit_copy, tmp_path):
    outside = tmp_path / "elsewhere.py"
    shutil.copy(kit_copy / "assignment" / "metrics.py", outside)
    (kit_copy / "assignment" / "metrics.py").unlink()
    (kit_copy / "assignment" / "metrics.py").symlink_to(outside)
    assert "assignment/metrics.py: is a link to outside the kit" in refused(kit_copy)


def test_refuses_a_bad_student_id(kit_copy):
    result = run_in(kit_copy, "collect_submission.py", "../evil")
    assert result.returncode == 2 and "use only letters, digits" in result.stderr
    assert not list(Path(kit_copy).parent.glob("*.zip"))

"""helpers.progress: one text line per long step, quiet under KIT_PROGRESS=0."""
from helpers import progress


def test_search_progress_counts_runs_and_shows_the_best_so_far(capsys, monkeypatch):
    monkeypatch.setenv("KIT_PROGRESS", "1")
    search = progress.SearchProgress(([0.1, 0.2], [10, 20, 30]))
    assert len(search) == 6
    seen = []
    for lr, hidden in search:
        seen.append((lr, hidden))
        search.record(lr * hidden / 10)
    assert seen == [(0.1, 10), (0.1, 20), (0.1, 30), (0.2, 10), (0.2, 20), (0.2, 30)]
    out = capsys.readouterr().out
    final = out.split("\r")[-1]
    assert final.startswith("search: run 6/6 [")
    assert final.endswith(", best val acc so far 0.6000]\n")
    assert "HBox" not in out and out.count("\r") <= 6 + 1, "text form, redrawn at most per run"


def test_progress_lines_are_quiet_under_kit_progress_0(capsys, monkeypatch):
    monkeypatch.setenv("KIT_PROGRESS", "0")
    search = progress.SearchProgress(([1, 2],))
    for (value,) in search:
        search.record(value)
    line = progress.progress_line(total=2, what="training", unit="epoch")
    line.update(2)
    line.close()
    assert capsys.readouterr().out == ""

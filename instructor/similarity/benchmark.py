"""Time the similarity report on a generated class: ``python -m instructor.similarity.benchmark N``.

The N submissions are real zips made by the kit test's generator
(``instructor/tests/kit/copies.py``: the reference renamed with a per-student salt, a third of
its functions left as stubs, half of them reordered), so every pair of parts is compared and
many are similar (the slow case: the pages of every flagged pair are written). The report runs
in one process (one core); prints the seconds to build the zips and to write the report
(wall clock, and the report's CPU time, which a busy machine does not inflate).
"""
import argparse
import tempfile
import time
from pathlib import Path

from instructor.similarity.run import similarity_report
from instructor.tests.kit.copies import class_of


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m instructor.similarity.benchmark")
    parser.add_argument("size", type=int, help="number of submissions to generate")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="similarity-benchmark-") as folder:
        folder = Path(folder)
        (folder / "zips").mkdir()
        start = time.perf_counter()
        class_of(folder / "zips", folder / "work", args.size)
        built = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        pairs = similarity_report(folder / "zips", folder / "out")
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        flagged = sum(pair.match is not None for pair in pairs)
    print(f"{args.size} submissions: zips built in {built:.0f} s; report in {seconds:.0f} s "
          f"({cpu:.0f} s of CPU; {len(pairs)} pairs of parts, {flagged} flagged)")


if __name__ == "__main__":
    main()

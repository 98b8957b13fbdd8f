"""``python -m instructor.similarity ZIPS_DIR --out DIR [--threshold T]``."""
import argparse
import sys
from pathlib import Path

from instructor.similarity.pairs import DEFAULT_THRESHOLD
from instructor.similarity.run import similarity_report


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m instructor.similarity",
        description="Rank pairs of submissions by the similarity of their code and written "
                    "answers (a lead for a person to read, never a verdict).")
    parser.add_argument("folder", type=Path, help="folder holding *_submission.zip files")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for pairs.csv, index.html and the pair pages")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="similarity (0 to 1) from which a pair is listed in index.html "
                             f"(default {DEFAULT_THRESHOLD})")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not 0 <= args.threshold <= 1:
        print("similarity: error: --threshold must be between 0 and 1", file=sys.stderr)
        return 2
    try:
        pairs = similarity_report(args.folder, args.out, args.threshold)
    except FileNotFoundError as err:
        print(f"similarity: error: {err}", file=sys.stderr)
        return 2
    flagged = sum(pair.match is not None for pair in pairs)
    print(f"compared {len(pairs)} pairs of parts; {flagged} at or above {args.threshold:g}; "
          f"wrote {args.out / 'pairs.csv'} and {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m instructor.i18n {update,check} LANG: keep a language's catalogs in step."""
import argparse
import sys

from helpers.utils import KIT_ROOT

from . import catalogs, check


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m instructor.i18n",
        description="Keep a language's translation catalogs (i18n/<locale>/) in step with the "
                    "English source (docs/translations.md).")
    parser.add_argument("command", choices=("update", "check"),
                        help="update: add new entries, mark changed ones fuzzy; "
                             "check: list what is missing, stale or inconsistent")
    others = [name for name in catalogs.LANGUAGES if name != "en"]
    parser.add_argument("lang", choices=others, help=f"one of {', '.join(others)}")
    args = parser.parse_args(argv)
    try:
        if args.command == "update":
            for relpath, (entries, todo) in catalogs.update(args.lang, KIT_ROOT).items():
                print(f"{catalogs.catalog_dir(args.lang).relative_to(KIT_ROOT)}/{relpath}: "
                      f"{entries} entries, {todo} to translate")
            return 0
        found = check.problems(args.lang)
    except catalogs.TranslationError as err:
        print(f"i18n: error: {err}", file=sys.stderr)
        return 2
    for problem in found:
        print(problem)
    print(f"i18n: {len(found)} problem(s) in {args.lang}" if found else
          f"i18n: {args.lang} is complete and in step with the English")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

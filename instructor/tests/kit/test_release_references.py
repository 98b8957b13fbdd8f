"""Every reference a released file makes resolves in the release: README sections, the kit's
files, and the folders pytest.ini names (instructor only)."""
import configparser
import re

import pytest

README_SECTION = re.compile(r'README(?:\.md)?, (?:section )?"(?P<quoted>[^"]+)"'
                            r"|\(README, (?P<bare>[A-Z][\w ]+)\)"
                            r"|“(?P<chinese>[^”\n]{1,40})”一节")   # the Chinese release
KIT_FILE = re.compile(r"\b(?:helpers|assignment|tests|notebooks)/[\w/]+\.(?:py|ipynb|md)\b")
TEXT_SUFFIXES = (".py", ".ipynb", ".md", ".ini", ".txt")


def released_texts(kit):
    return {path.relative_to(kit): path.read_text(encoding="utf-8")
            for path in kit.rglob("*") if path.is_file() and path.suffix in TEXT_SUFFIXES}


def heading_names(line):
    """The names a README heading answers to: ``## 结果 (Results)`` to both of its names (the
    Chinese release's headings keep the English, which the shared code's messages name)."""
    text = line.lstrip("#").strip().lower()
    translated, _, english = text.partition(" (")
    return {text, translated, english.rstrip(")")} - {""}


@pytest.fixture(params=["en", "zh-CN"])
def released(request):
    """The English and the Chinese student release."""
    return request.getfixturevalue("student_kit" if request.param == "en" else "chinese_kit")


def test_every_readme_section_a_released_file_names_exists(released):
    student_kit = released
    headings = {name for line in (student_kit / "README.md").read_text().splitlines()
                if line.startswith("#") for name in heading_names(line)}
    missing = [f"{path}: README section {name!r}"
               for path, text in released_texts(student_kit).items()
               for match in README_SECTION.finditer(text.replace("\\n", " ").replace("\\", ""))
               for name in [match["quoted"] or match["bare"] or match["chinese"]]
               if name.lower() not in headings]
    assert not missing, "sections the release's README.md does not have:\n" + "\n".join(missing)


def test_every_kit_file_a_released_file_names_exists(released):
    student_kit = released
    missing = sorted({f"{path}: {name}" for path, text in released_texts(student_kit).items()
                      for name in KIT_FILE.findall(text) if not (student_kit / name).exists()})
    assert not missing, "files the release does not have:\n" + "\n".join(missing)


def test_pytest_ini_names_only_released_folders(student_kit):
    settings = configparser.ConfigParser()
    settings.read(student_kit / "pytest.ini")
    folders = settings["pytest"]["testpaths"].split()
    assert folders and all((student_kit / folder).is_dir() for folder in folders), folders
    assert "instructor" not in (student_kit / "pytest.ini").read_text()

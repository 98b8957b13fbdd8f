"""Issue 25: the Chinese release is built from the English source and kept in step with it
(instructor/i18n): every entry translated, a changed English cell caught, each translation
carrying the same math, code, numbers and links, and the terminology of the glossary."""
import csv
import json
import re
import shutil

import pytest

from helpers import questions
from helpers.utils import KIT_ROOT
from instructor import release
from instructor.i18n import catalogs, check, translate

LANG = "zh-CN"
# The copy of the source a catalog check reads: the English texts and the catalogs.
CHECKED = ("notebooks", "STUDENT_README.md", "i18n", "helpers", "tests", "collect_submission.py")


def copy_of_source(tmp_path, names=CHECKED):
    root = tmp_path / "kit"
    for name in names:
        path = KIT_ROOT / name
        if path.is_dir():
            shutil.copytree(path, root / name, ignore=shutil.ignore_patterns(
                "__pycache__", ".ipynb_checkpoints", "locale"))
        else:
            root.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, root / name)
    return root


def edit_first_sentence(notebook_path):
    """Change the text of the notebook's second Markdown cell; returns (cell id, old, new)."""
    document = json.loads(notebook_path.read_text(encoding="utf-8"))
    cell = [c for c in document["cells"] if c["cell_type"] == "markdown"][1]
    old = questions.cell_text(cell)
    new = old.rstrip("\n") + "\nThis sentence was added to the English after translation.\n"
    questions.set_cell_text(cell, new)
    notebook_path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    return cell["id"], old, new


def test_every_english_text_has_a_chinese_translation_in_step():
    found = check.problems(LANG)
    assert not found, f"{len(found)} problem(s); run `python -m instructor.i18n check zh-CN`:\n" \
                      + "\n".join(found[:20])


def test_an_edited_english_cell_fails_with_the_cell_and_both_texts(tmp_path):
    root = copy_of_source(tmp_path)
    cell_id, old, new = edit_first_sentence(root / "notebooks" / "linear_classifier.ipynb")
    found = check.problems(LANG, root)
    assert len(found) == 1, found
    problem = found[0]
    assert f"linear_classifier.po [{cell_id}]: stale" in problem, problem
    assert "added to the English after translation" in problem, "the English now"
    assert old.splitlines()[0] in problem, "the English it was translated from"
    translation = catalogs.read(root / "i18n/zh_CN/notebooks/linear_classifier.po",
                                "zh_CN").get(old, context=cell_id).string
    assert translation.splitlines()[0] in problem, "the translation"

    # `update` keeps the old translation as fuzzy, with the English it was made from ...
    catalogs.update(LANG, root)
    text = (root / "i18n/zh_CN/notebooks/linear_classifier.po").read_text(encoding="utf-8")
    assert "#, fuzzy" in text and f"# {catalogs.TRANSLATED_FROM}" in text
    refreshed = check.problems(LANG, root)
    assert len(refreshed) == 1 and "stale" in refreshed[0], refreshed
    assert old.splitlines()[0] in refreshed[0] and "added to the English" in refreshed[0]
    # ... and the release refuses to mix it in.
    with pytest.raises(catalogs.TranslationError, match="stale"):
        translate.require_complete(LANG, root)


def test_the_release_refuses_an_untranslated_cell(tmp_path):
    root = copy_of_source(tmp_path, CHECKED + ("assignment", "requirements.txt", "pytest.ini",
                                               "conftest.py"))
    path = root / "i18n/zh_CN/notebooks/two_layer_net.po"
    catalog = catalogs.read(path, "zh_CN")
    emptied = next(m for m in catalog if m.id and m.context)
    emptied.string = ""
    catalogs.write(path, catalog)
    with pytest.raises(release.ReleaseError) as raised:
        release.build_release(tmp_path / "out", source=root, lang=LANG)
    assert f"two_layer_net.po [{emptied.context}]: not translated" in str(raised.value)
    assert not (tmp_path / "out").exists(), "nothing written"


@pytest.mark.parametrize("english, chinese, complaint", [
    ("the loss $L_i$ of `W`", "`W` 的损失 $L_i$", None),
    ("the loss $L_i$ of `W`", "`W` 的损失 $L$", "math: missing $L_i$; extra $L$"),
    ("train for 20 epochs", "训练二十轮", "number: missing 20"),
    ("train for 20 epochs", "训练 20 轮，共 3 次", "number: extra 3"),
    ("see [the docs](https://pytorch.org)", "见[文档](https://pytorch.org)", None),
    ("see [the docs](https://pytorch.org)", "见文档", "link: missing https://pytorch.org"),
    ("run `python -m helpers.check`", "运行 python -m helpers.check",
     "inline code: missing `python -m helpers.check`"),
    ("{count} functions pass", "{n} 个函数通过", "placeholder: missing {count}; extra {n}"),
])
def test_a_translation_carries_the_same_math_code_numbers_and_links(english, chinese, complaint):
    found = check.differences(english, chinese)
    assert found == ([] if complaint is None else [complaint])


def test_an_unknown_language_is_named_with_the_choices():
    with pytest.raises(catalogs.TranslationError, match="choose one of en, zh-CN"):
        catalogs.locale_code("fr")
    assert catalogs.locale_code("zh-CN") == catalogs.locale_code("zh_CN") == "zh_CN"
    assert catalogs.locale_code("en") is None


def test_the_placeholder_of_either_language_is_no_answer():
    for placeholder in questions.ANSWER_PLACEHOLDERS.values():
        assert questions.answer_text({"cell_type": "markdown", "source": placeholder}) == ""
    assert questions.answer_text({"cell_type": "markdown", "source": "我的答案"}) == "我的答案"


# The field's standard terms (issue 25): where the English prose uses the term, the
# translation uses the standard Chinese one, and never a competing name.
STANDARD_TERMS = {
    "loss function": ("损失函数", ()),
    "cross-entropy": ("交叉熵", ()),
    "stochastic gradient descent": ("随机梯度下降", ()),
    "precision": ("精确率", ("查准率",)),
    "recall": ("召回率", ("查全率",)),
    "cross-validation": ("交叉验证", ()),
    "backpropagation": ("反向传播", ("反传",)),
    "regularization": ("正则化", ()),
    "learning rate decay": ("学习率衰减", ()),
    "dropout": ("丢弃法", ("随机失活",)),
    "inline question": ("随堂问题", ("内嵌问题",)),
    "autograd": (None, ("自动求导",)),   # 自动微分 (autograd), or the name itself
}
CODE_OR_MATH = re.compile(r"```.*?```|`[^`\n]+`|\$\$.+?\$\$|\$[^$\n]+\$|\]\([^)]*\)|\{[^{}\s]+\}",
                          re.S)
# Messages name the dropout layer and its parameter ``dropout`` as the code does.
KEPT_IN_MESSAGES = {"dropout"}


def translated_pairs():
    loaded = catalogs.load(LANG)
    for relpath, catalog in loaded.items():
        for message in catalog:
            if message.id and message.string and not message.fuzzy:
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                strings = message.string if isinstance(message.string, tuple) else (
                    message.string,)
                yield relpath, message.context or ids[0][:40], ids[0], strings[0]


def test_the_standard_terms_are_used_consistently():
    misuses = []
    for relpath, key, english, chinese in translated_pairs():
        prose, translated = CODE_OR_MATH.sub(" ", english).lower(), CODE_OR_MATH.sub(" ", chinese)
        for term, (standard, competing) in STANDARD_TERMS.items():
            kept = relpath == "kit.po" and term in KEPT_IN_MESSAGES and term in translated
            if (standard and re.search(rf"\b{re.escape(term)}\b", prose)
                    and standard not in translated and not kept):
                misuses.append(f"{relpath} [{key}]: {term!r} is not translated as {standard}")
            misuses += [f"{relpath} [{key}]: {word} (use {standard})" for word in competing
                        if word in translated]
    assert not misuses, "\n".join(misuses)


def test_the_glossary_lists_each_standard_term_with_its_english():
    rows = list(csv.DictReader((KIT_ROOT / "i18n/zh_CN/glossary.csv").open(encoding="utf-8")))
    assert rows and all(row["english"] and row["chinese"] for row in rows)
    listed = " ".join(row["chinese"] for row in rows)
    assert all(standard in listed for standard, _ in STANDARD_TERMS.values() if standard)
    section = translate.glossary(KIT_ROOT / "i18n/zh_CN", "zh_CN")
    assert section.startswith("## 术语表 (Glossary)")
    assert section.count("\n|") == len(rows) + 2

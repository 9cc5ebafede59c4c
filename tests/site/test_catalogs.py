"""The zh_Hans catalogs are complete, and the check that says so can fail."""

from __future__ import annotations

from pathlib import Path

import polib

from heygem_site.catalogs import check_catalog, check_catalogs, compile_catalogs


def test_every_zh_hans_entry_is_translated() -> None:
    problems = [p for p in check_catalogs() if not p.ok]
    assert problems == [], problems


def _catalog(tmp_path: Path, *entries: polib.POEntry) -> Path:
    po = polib.POFile()
    po.metadata = {
        "Content-Type": "text/plain; charset=UTF-8",
        "Plural-Forms": "nplurals=1; plural=0;",
    }
    for entry in entries:
        po.append(entry)
    path = tmp_path / "zh_Hans" / "LC_MESSAGES" / "django.po"
    path.parent.mkdir(parents=True)
    po.save(str(path))
    return path


def test_the_check_catches_untranslated_fuzzy_and_broken_placeholders(tmp_path: Path) -> None:
    path = _catalog(
        tmp_path,
        polib.POEntry(msgid="Done", msgstr=""),
        polib.POEntry(msgid="Failed", msgstr="失败", flags=["fuzzy"]),
        polib.POEntry(msgid="Deleted “%(name)s”.", msgstr="已删除“%(nom)s”。"),
        polib.POEntry(msgid="%(n)s video", msgid_plural="%(n)s videos", msgstr_plural={0: ""}),
        polib.POEntry(msgid="Queued", msgstr="排队中"),
    )
    problems = check_catalog(path)
    assert problems.untranslated == ["Done", "%(n)s video"]
    assert problems.fuzzy == ["Failed"]
    assert problems.placeholders == ["Deleted “%(name)s”."]
    assert not problems.ok


def test_catalogs_compile_without_gnu_gettext(tmp_path: Path) -> None:
    path = _catalog(tmp_path, polib.POEntry(msgid="Queued", msgstr="排队中"))
    assert compile_catalogs(tmp_path) == [path.with_suffix(".mo")]
    assert polib.mofile(str(path.with_suffix(".mo"))).find("Queued").msgstr == "排队中"

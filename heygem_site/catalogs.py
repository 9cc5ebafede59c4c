"""Translation catalogs without GNU gettext: compile .po to .mo and check them, in pure Python.

``scripts/run.sh`` and the test suite compile the committed ``locale/*/LC_MESSAGES/*.po``
files with polib, so a fresh machine needs no ``msgfmt``. CI checks that the Simplified
Chinese catalogs (server ``django.po`` and JavaScript ``djangojs.po``) have no untranslated or
fuzzy entry and no placeholder that differs from its English original (``manage.py catalogs
check``). Extracting new strings (``manage.py catalogs update``) still uses Django's
``makemessages``, which needs GNU gettext: a developer tool, and installed in CI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
# Catalogs that must be complete (the English source strings need no catalog).
CHECKED_LOCALES = ("zh_Hans",)
DOMAINS = ("django", "djangojs")

# Python %-format ("%(name)s", "%d", "%s") and the JavaScript catalog's interpolate() use the
# same syntax; brace placeholders are not used in our strings.
_PLACEHOLDER = re.compile(r"%(?:\([a-zA-Z_][a-zA-Z0-9_]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")


def compile_catalogs(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Write a .mo beside every .po whose .mo is missing or older; returns what was written."""
    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        catalog = polib.pofile(str(po_path))
        tmp = mo_path.with_name(f".{mo_path.name}.partial")
        catalog.save_as_mofile(str(tmp))
        tmp.replace(mo_path)
        written.append(mo_path)
    return written


@dataclass
class CatalogProblems:
    path: Path
    untranslated: list[str] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.untranslated or self.fuzzy or self.placeholders)


def _placeholders(text: str) -> list[str]:
    return sorted(p for p in _PLACEHOLDER.findall(text) if p != "%%")


def check_catalog(po_path: Path) -> CatalogProblems:
    catalog = polib.pofile(str(po_path))
    problems = CatalogProblems(path=po_path)
    for entry in catalog:
        if entry.obsolete:
            continue
        label = entry.msgid if not entry.msgctxt else f"{entry.msgctxt}|{entry.msgid}"
        if "fuzzy" in entry.flags:
            problems.fuzzy.append(label)
            continue
        if entry.msgid_plural:
            translations = [entry.msgstr_plural.get(i, "") for i in sorted(entry.msgstr_plural)]
            if not translations or not all(translations):
                problems.untranslated.append(label)
                continue
            # Chinese has one plural form: it must carry the plural original's placeholders.
            # A form may leave out a bare count, as English "one" forms do ("a minute").
            wanted = set(_placeholders(entry.msgid_plural)) | set(_placeholders(entry.msgid))
            for text in translations:
                if not set(_placeholders(text)) <= wanted:
                    problems.placeholders.append(label)
                    break
            continue
        if not entry.msgstr:
            problems.untranslated.append(label)
            continue
        if _placeholders(entry.msgid) != _placeholders(entry.msgstr):
            problems.placeholders.append(label)
    return problems


def check_catalogs(locale_dir: Path = LOCALE_DIR) -> list[CatalogProblems]:
    results = []
    for locale in CHECKED_LOCALES:
        for domain in DOMAINS:
            path = locale_dir / locale / "LC_MESSAGES" / f"{domain}.po"
            if not path.exists():
                missing = CatalogProblems(path=path)
                missing.untranslated.append(f"(the catalog {path} does not exist)")
                results.append(missing)
                continue
            results.append(check_catalog(path))
    return results


def msgids(po_path: Path) -> set[tuple[str, str]]:
    return {
        (entry.msgctxt or "", entry.msgid)
        for entry in polib.pofile(str(po_path))
        if not entry.obsolete
    }

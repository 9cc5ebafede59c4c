"""``manage.py catalogs compile|check|update``: the translation catalogs (heygem_site.catalogs)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from heygem_site import catalogs

# What makemessages must not read: the virtualenv, the running service's files, tests.
IGNORE = [".venv", "var", "tests", "bench", "test-artifacts", "node_modules", "build", "docs"]


def _extract(locale_dir: Path) -> None:
    for domain in catalogs.DOMAINS:
        call_command(
            "makemessages",
            locale=list(catalogs.CHECKED_LOCALES),
            domain=domain,
            ignore_patterns=IGNORE,
            no_obsolete=True,
            no_location=False,
            add_location="file",
            verbosity=0,
        )


class Command(BaseCommand):
    help = (
        "compile: .po -> .mo in pure Python (no GNU gettext). check: fail on untranslated, "
        "fuzzy or mismatched entries in the zh_Hans catalogs (--extract also fails when the "
        "code holds strings the catalogs lack; needs GNU gettext). update: extract new strings."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["compile", "check", "update"])
        parser.add_argument(
            "--extract",
            action="store_true",
            help="with check: also re-extract the strings and fail on any the catalogs lack",
        )

    def handle(self, *args: Any, action: str, extract: bool, **options: Any) -> None:
        if action == "compile":
            written = catalogs.compile_catalogs()
            self.stdout.write(f"compiled {len(written)} catalog(s)")
            return
        if action == "update":
            _extract(catalogs.LOCALE_DIR)
            self.stdout.write("catalogs updated; translate the new entries, then run check")
            return
        failures = []
        for result in catalogs.check_catalogs():
            for kind in ("untranslated", "fuzzy", "placeholders"):
                for label in getattr(result, kind):
                    failures.append(f"{result.path.name}: {kind}: {label!r}")
        if extract:
            failures += self._missing_from_catalogs()
        if failures:
            for line in failures:
                self.stderr.write(line)
            raise CommandError(
                f"{len(failures)} catalog problem(s). Run `manage.py catalogs update`, translate "
                "every new or fuzzy entry in locale/zh_Hans/LC_MESSAGES/*.po, and run this again."
            )
        self.stdout.write("catalogs complete: every zh_Hans entry is translated")

    def _missing_from_catalogs(self) -> list[str]:
        """Extract into the real locale folder, compare, and put the committed files back."""
        if shutil.which("xgettext") is None:
            raise CommandError(
                "--extract needs GNU gettext (xgettext); install the gettext package."
            )
        locale_dir = catalogs.LOCALE_DIR
        with tempfile.TemporaryDirectory() as saved:
            backup = Path(saved) / "locale"
            shutil.copytree(locale_dir, backup)
            try:
                _extract(locale_dir)
                problems = []
                for locale in catalogs.CHECKED_LOCALES:
                    for domain in catalogs.DOMAINS:
                        name = f"{locale}/LC_MESSAGES/{domain}.po"
                        committed = catalogs.msgids(backup / name)
                        for ctxt, msgid in sorted(catalogs.msgids(locale_dir / name) - committed):
                            label = f"{ctxt}|{msgid}" if ctxt else msgid
                            problems.append(f"{domain}.po: not in the catalog: {label!r}")
                return problems
            finally:
                shutil.rmtree(locale_dir)
                shutil.copytree(backup, locale_dir)

"""Sizes, durations and status words as users read them, in the active language.

Sizes use **decimal units** (1 KB = 1,000 bytes, 1 MB = 1,000 KB, 1 GB = 1,000 MB), as disk
and cloud-storage vendors do: a 10 GB quota reads "10 GB", not Django's binary "9.3 GB".
static/js/common.js formats sizes by the same rule, so a page never shows two numbers for one
file.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext, pgettext

from rendering.engines import ENGINES

_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def _number(value: float) -> str:
    """One decimal, without a trailing ".0" (9.6, 10, 476.8)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def size_label(num_bytes: int | float | None) -> str:
    """'9.6 MB' for 9_600_000 bytes (decimal units)."""
    value = float(num_bytes or 0)
    if value < 1000:
        return f"{int(value)}\xa0B"
    unit = 0
    while value >= 999.95 and unit < len(_UNITS) - 1:
        value /= 1000.0
        unit += 1
    return f"{_number(value)}\xa0{_UNITS[unit]}"


_FACTORS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}
_BINARY = {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


def parse_size(text: str) -> int:
    """'10 GB' -> 10_000_000_000 (decimal units; 'GiB' and friends are binary, as labelled).
    A bare number is bytes. Raises ValueError on anything else."""
    match = re.fullmatch(r"\s*([0-9]+(?:[.,][0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    if match is None:
        raise ValueError(text)
    number = float(match.group(1).replace(",", "."))
    unit = match.group(2).upper()
    factor = (
        _FACTORS.get(unit)
        or _BINARY.get(unit)
        or {"K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}.get(unit)
    )
    if factor is None:
        raise ValueError(text)
    return round(number * factor)


def duration_label(seconds: float | None) -> str:
    """'4.2 s', '1 min 5 s', '2 h 3 min', in the active language."""
    if seconds is None:
        return ""
    seconds = max(0.0, float(seconds))
    if 0 < seconds < 1:
        return pgettext("duration", "%(ms)s ms") % {"ms": round(seconds * 1000)}
    if seconds < 10 and seconds != int(seconds):
        return pgettext("duration", "%(s)s s") % {"s": f"{seconds:.1f}"}
    whole = round(seconds)
    if whole < 60:
        return pgettext("duration", "%(s)s s") % {"s": whole}
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        if secs == 0:
            return pgettext("duration", "%(m)s min") % {"m": minutes}
        return pgettext("duration", "%(m)s min %(s)s s") % {"m": minutes, "s": secs}
    hours, minutes = divmod(minutes, 60)
    return pgettext("duration", "%(h)s h %(m)s min") % {"h": hours, "m": minutes}


def batch_status_label(status: str) -> str:
    """The words for a batch status code (jobs.selectors.BatchStatus)."""
    labels = {
        "queued": gettext("Queued"),
        "running": gettext("Rendering"),
        "done": gettext("Done"),
        "done with failures": gettext("Done with failures"),
        "canceled": gettext("Canceled"),
    }
    return labels.get(str(status), str(status))


def percent_label(value: float | None) -> str:
    """'0.2 %' with one decimal below 10 %, whole numbers above; never '0 %' for a non-zero part."""
    value = float(value or 0)
    if 0 < value < 0.1:
        return "< 0.1 %"
    if value < 10:
        return f"{_number(value)} %"
    return f"{round(value)} %"


def engine_label(engine: str) -> str:
    """'classic' -> 'Classic (CPU)' (its record in rendering.engines.ENGINES); an engine this
    site does not know keeps its name."""
    spec = ENGINES.get(engine)
    return gettext(spec.label) if spec is not None else engine

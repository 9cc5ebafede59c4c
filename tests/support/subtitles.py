"""Reading ASS subtitles back in tests, the way ASS readers read them."""

from __future__ import annotations


def parse_ass(text: str) -> tuple[dict[str, str], dict[str, dict[str, str]], list[dict[str, str]]]:
    """Script info, styles by name and events, read the way ASS readers read them: each
    section's Format line names the fields, and an event's Text is everything after the
    ninth comma."""
    info: dict[str, str] = {}
    styles: dict[str, dict[str, str]] = {}
    events: list[dict[str, str]] = []
    section, fields = "", [""]
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if not line or line.startswith(";") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if section == "Script Info":
            info[key] = value
        elif key == "Format":
            fields = [f.strip() for f in value.split(",")]
        elif section == "V4+ Styles" and key == "Style":
            style = dict(zip(fields, value.split(","), strict=True))
            styles[style["Name"]] = style
        elif section == "Events" and key == "Dialogue":
            events.append(dict(zip(fields, value.split(",", len(fields) - 1), strict=True)))
    return info, styles, events


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)

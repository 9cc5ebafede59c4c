"""Units, script alignment, cue building and the SRT / WebVTT writers (no model needed)."""

from __future__ import annotations

import io
import itertools

import pytest
import srt as srt_parser
import webvtt

from rendering.audio import Word
from rendering.subtitles import (
    SubtitleRules,
    align_script,
    build_cues,
    full_width,
    split_units,
    srt,
    subtitle_words,
    timed_units,
    vtt,
    word_starts,
    write_subtitles,
)


def _words(text: str, step: float = 0.4, start: float = 0.0) -> list[Word]:
    return [
        Word(w, start + i * step, start + i * step + step * 0.8, 0.9)
        for i, w in enumerate(text.split())
    ]


def test_it_cuts_chinese_into_characters_and_english_into_words() -> None:
    units = split_units("大家好，我是“小明”。Today we ship v2.0, OK?")

    assert units == [
        "大",
        "家",
        "好，",
        "我",
        "是",
        "“小",
        "明”。",
        "Today",
        "we",
        "ship",
        "v2.0,",
        "OK?",
    ]


def test_it_shares_a_recognised_chinese_word_between_its_characters() -> None:
    units = timed_units([Word("今天", 1.0, 1.4, 0.8)])

    assert [u.text for u in units] == ["今", "天"]
    assert units[0].start == 1.0 and units[1].end == pytest.approx(1.4)
    assert units[0].end == pytest.approx(units[1].start) == pytest.approx(1.2)


def test_a_script_keeps_its_own_word_where_whisper_heard_another() -> None:
    heard = _words("the quick red fox jumps over the lazy dog")

    aligned = align_script("The quick brown fox jumps over the lazy dog.", heard)

    assert [w.text for w in aligned] == [
        "The",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "the",
        "lazy",
        "dog.",
    ]
    brown = aligned[2]
    assert (brown.start, brown.end) == (heard[2].start, heard[2].end)
    assert brown.probability == 0.0  # a guess, not a match
    assert aligned[3].start == heard[3].start


def test_a_chinese_script_keeps_its_characters_and_punctuation() -> None:
    heard = [
        Word("大家", 0.0, 0.5, 1),
        Word("好", 0.5, 0.7, 1),
        Word("我是", 1.5, 1.9, 1),
        Word("小明", 1.9, 2.4, 1),
        Word("今天", 2.5, 2.9, 1),
    ]

    aligned = align_script("大家好！我是小红，今天", heard)

    assert "".join(w.text for w in aligned) == "大家好！我是小红，今天"
    red = next(w for w in aligned if w.text.startswith("红"))
    assert red.start == pytest.approx(2.15) and red.end == pytest.approx(2.4)


def test_script_words_nobody_said_fill_the_silence_around_them() -> None:
    heard = [Word("hello", 0.0, 0.5, 1), Word("world", 2.0, 2.5, 1)]

    aligned = align_script("hello there world", heard)

    there = aligned[1]
    assert there.text == "there"
    assert 0.5 <= there.start < there.end <= 2.0


def test_without_a_script_the_recognised_words_are_used() -> None:
    heard = _words("one two three")

    assert [w.text for w in subtitle_words(heard, None)] == ["one", "two", "three"]
    assert [w.text for w in subtitle_words(heard, "  ")] == ["one", "two", "three"]


def test_cues_end_at_sentences_and_pauses() -> None:
    words = _words("Hello there. How are you", step=0.3) + _words("Fine thanks", start=4.0)

    cues = build_cues(words)

    assert [c.text for c in cues] == ["Hello there.", "How are you", "Fine thanks"]
    for earlier, later in itertools.pairwise(cues):
        assert earlier.end <= later.start


def test_long_english_is_cut_into_readable_two_line_cues() -> None:
    text = " ".join(["word"] * 60)
    rules = SubtitleRules()

    cues = build_cues(_words(text, step=0.25), rules)

    assert len(cues) > 1
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2
        assert all(len(line) <= rules.latin_line for line in cue.lines)
        assert cue.end - cue.start <= rules.max_duration + 1e-6
        assert not any(line.startswith(" ") or line.endswith(" ") for line in cue.lines)


def test_long_chinese_is_cut_by_characters_and_drops_trailing_commas() -> None:
    text = "今天我们来介绍一款新的相机，它拍照非常清楚，价格也很便宜，欢迎大家购买"
    units = split_units(text)
    words = [Word(u, i * 0.22, i * 0.22 + 0.2, 1) for i, u in enumerate(units)]

    cues = build_cues(words)

    assert len(cues) >= 2
    for cue in cues:
        assert all(len(line) <= 16 for line in cue.lines)
        assert all(not line.endswith("，") for line in cue.lines)
        assert " " not in cue.text
    assert "".join(c.text.replace("\n", "") for c in cues).replace("，", "") == text.replace(
        "，", ""
    )


def test_chinese_lines_and_cues_never_break_inside_a_word() -> None:
    """Unpunctuated Chinese (what a script without commas or Whisper gives): every line and
    every cue starts where a word starts, and never at a lone 的 / 了."""
    import jieba

    text = (
        "甚至自然了珍惜所有的遇见笑对离开你的人也笑对所有的不完美"
        "我们今天来聊一聊人工智能如何改变短视频内容创作的方式和效率"
    )
    units = split_units(text)
    words = [Word(u, i * 0.25, i * 0.25 + 0.2, 1.0) for i, u in enumerate(units)]
    cues = build_cues(words)
    lines = [line for cue in cues for line in cue.lines]
    assert "".join(lines) == text and len(lines) >= 4
    boundaries: set[int] = set()
    position = 0
    for word in jieba.lcut(text):
        boundaries.add(position)
        position += len(word)
    position = 0
    for line in lines:
        assert position in boundaries, (line, lines)  # begins where a word begins
        assert line[0] not in "的了", lines
        position += len(line)
    # The rule in units: starts only at word starts, and punctuation always allows one.
    units = split_units("珍惜所有的遇见，笑对离开你的人。")
    begins = [u for u, start in zip(units, word_starts(units), strict=True) if start]
    assert begins == ["珍", "所", "遇", "笑", "对", "离", "你", "人。"]


def test_chinese_lines_are_written_with_full_width_punctuation() -> None:
    assert full_width("你好,世界.这是3.5秒?") == "你好，世界。这是3.5秒？"
    assert full_width("Hello, world. 3.5") == "Hello, world. 3.5"
    cues = build_cues(_words("大家好, 欢迎 收看"))
    assert cues[0].lines == ("大家好，欢迎收看",)


def test_a_short_cue_stays_up_long_enough_to_read() -> None:
    cues = build_cues([Word("Hi.", 1.0, 1.1, 1), Word("Next", 5.0, 5.3, 1)])

    assert cues[0].end - cues[0].start >= 0.8


def test_srt_and_vtt_parse_with_independent_readers(tmp_path) -> None:
    words = [*_words("Hello <world> & friends. Second sentence here"), Word("你好。", 5.0, 5.5, 1)]
    cues = build_cues(words)

    srt_path, vtt_path = write_subtitles(tmp_path, cues)

    parsed = list(srt_parser.parse(srt_path.read_text(encoding="utf-8")))
    assert [p.content for p in parsed] == [c.text for c in cues]
    assert [p.start.total_seconds() for p in parsed] == [
        pytest.approx(c.start, abs=1e-3) for c in cues
    ]
    assert srt_path.read_text(encoding="utf-8").startswith("1\n00:00:00,000 --> ")

    captions = webvtt.from_buffer(io.StringIO(vtt_path.read_text(encoding="utf-8")))
    assert len(captions) == len(cues)
    assert captions[0].raw_text == "Hello &lt;world&gt; &amp; friends."
    assert captions[-1].text == "你好"  # Chinese lines drop a closing full stop
    assert captions[-1].start == "00:00:05.000"


def test_timestamps_pass_an_hour() -> None:
    cues = build_cues([Word("late", 3725.5, 3726.0, 1)])

    assert "01:02:05,500 --> 01:02:06,300" in srt(cues)
    assert "01:02:05.500 --> 01:02:06.300" in vtt(cues)


def test_nothing_heard_gives_no_subtitles_even_with_a_script() -> None:
    assert subtitle_words([], "A script nobody said.") == []
    assert build_cues([]) == []

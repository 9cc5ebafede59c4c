"""Rendering errors carry a code and parameters, so the web layer can say them in any language."""

from __future__ import annotations

from rendering.errors import FaceError, MediaError, RenderCanceled, RenderingError


def test_every_error_has_a_code_even_when_the_raise_site_names_none() -> None:
    assert RenderingError("x").code == "rendering_failed"
    assert MediaError("x").code == "media_invalid"
    assert FaceError("x").code == "no_face"
    assert RenderCanceled().code == "canceled"
    assert RenderCanceled().params == {}


def test_a_raise_site_can_name_its_code_and_parameters() -> None:
    exc = MediaError(
        "This video runs at 240 frames per second.",
        code="fps_too_high",
        params={"fps": 240, "max_fps": 120},
    )
    assert (exc.code, exc.params, exc.message) == (
        "fps_too_high",
        {"fps": 240, "max_fps": 120},
        "This video runs at 240 frames per second.",
    )
    # The detail stays for logs; the message stays English for the library's own users.
    assert str(MediaError("Bad.", detail="demuxer 'txt'")) == "Bad. (demuxer 'txt')"

"""One unit system everywhere: decimal sizes (1 GB = 1,000 MB), as storage vendors count."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from heygem_site.formats import duration_label, percent_label, size_label


@pytest.mark.parametrize(
    ("num_bytes", "label"),
    [
        (0, "0\xa0B"),
        (999, "999\xa0B"),
        (2_200, "2.2\xa0KB"),
        (9_600_000, "9.6\xa0MB"),
        (500 * 1000**2, "500\xa0MB"),
        (10 * 1000**3, "10\xa0GB"),
        (999_999_999, "1\xa0GB"),
    ],
)
def test_sizes_are_decimal(num_bytes: int, label: str) -> None:
    assert size_label(num_bytes) == label


def test_durations_read_in_the_active_language() -> None:
    with translation.override("en"):
        assert [duration_label(s) for s in (4.24, 42, 65, 600, 3720)] == [
            "4.2 s",
            "42 s",
            "1 min 5 s",
            "10 min",
            "1 h 2 min",
        ]
    with translation.override("zh-hans"):
        assert duration_label(65) == "1 分 5 秒"


def test_a_tiny_share_is_not_rounded_to_nothing() -> None:
    assert percent_label(0.02) == "< 0.1 %"
    assert percent_label(0.2) == "0.2 %"
    assert percent_label(57.4) == "57 %"


def test_the_header_shows_a_10_gb_quota_as_10_gb_with_its_share(
    owner: User, owner_client: Client
) -> None:
    User.objects.filter(pk=owner.pk).update(
        storage_quota_bytes=10 * 1000**3, storage_used_bytes=20 * 1000**2
    )
    html = owner_client.get(reverse("dashboard")).content.decode()
    assert "Storage 20\xa0MB / 10\xa0GB" in html
    assert "0.2 %" in html
    # The bar's width is the share of the quota, not a full bar.
    assert 'style="width: 0.200%"' in html


def test_the_account_page_bar_has_a_legend(owner_client: Client) -> None:
    html = owner_client.get(reverse("accounts:account")).content.decode()
    assert 'data-testid="usage-legend"' in html
    for label in ("Audio", "Templates", "Results", "Free"):
        assert f"</i>{label} " in html
    assert "decimal units" in html


def test_staff_type_sizes_as_the_pages_show_them() -> None:
    from heygem_site.formats import parse_size

    assert parse_size("10 GB") == 10 * 1000**3
    assert parse_size("500mb") == 500 * 1000**2
    assert parse_size("2,5 GB") == 2_500_000_000
    assert parse_size("1 GiB") == 1024**3  # binary only when labelled so
    assert parse_size("123") == 123
    with pytest.raises(ValueError):
        parse_size("lots")

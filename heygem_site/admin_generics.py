"""Let `admin.ModelAdmin[Model]` and `admin.TabularInline[Model, Parent]` be written at run
time as django-stubs types them. Imported (for this effect) by the admin modules before they
define their classes, so only a process that loads the admin pays for it.

This is the one part of django_stubs_ext.monkeypatch() the code needs: QuerySet, Manager and
DRF's classes take subscripts themselves, and the whole patch imports syndication, sitemaps,
the test client, Jinja2 and requests into every process.
"""

from __future__ import annotations

from django.contrib.admin.options import BaseModelAdmin

if "__class_getitem__" not in BaseModelAdmin.__dict__:
    BaseModelAdmin.__class_getitem__ = classmethod(lambda cls, *args, **kwargs: cls)  # type: ignore[attr-defined]

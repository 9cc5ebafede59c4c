"""Benchmarks: each prints a small table of figures and asserts nothing about time.

Run from the repository root, e.g. ``.venv/bin/python bench/render.py``.
"""

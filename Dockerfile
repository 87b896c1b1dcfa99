# syntax=docker/dockerfile:1
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BRIDGE_ENV=production \
    PORT=10000

WORKDIR /srv

# Dependencies first so code changes do not invalidate the dependency layer: exactly the
# versions and files (hashes) of the lockfile, which ./scripts/lock makes from pyproject.toml.
COPY requirements/app.txt ./requirements.txt
RUN pip install --require-hashes -r requirements.txt

COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --no-create-home bridge
USER bridge

EXPOSE 10000
# `attio-bridge serve` runs uvicorn with the settings of app/serving.py (parser, header and
# time limits, no server banner), the same as anywhere else. Shell form so $PORT expands; `exec`
# makes it PID 1, so SIGTERM reaches uvicorn and in-flight requests finish (graceful timeout
# below Render's 30 s shutdown delay).
CMD exec attio-bridge serve --host 0.0.0.0 --port "$PORT" --proxy-headers

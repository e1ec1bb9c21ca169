# syntax=docker/dockerfile:1
# OneTrip 一趟办: one image for every production process; the command picks the role:
#   docker run onetrip:TAG api                  (the default: the HTTP API on port 8000)
#   docker run onetrip:TAG worker               (a Temporal worker; replicable)
#   docker run onetrip:TAG store migrate        (Alembic upgrade of the store; idempotent)
#   docker run onetrip:TAG definitions publish  (store the catalog's procedure versions)
# Configuration is ONETRIP_* environment variables at run time (docs/operations.md); the
# image holds no secrets and no .env file.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the project and its dependencies into a self-contained virtualenv ---
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/onetrip
WORKDIR /src
# .dockerignore keeps tests, docs, benchmarks, local state and secrets out of the context.
COPY . .
# The runtime dependencies only (no `test` extra). Every dependency ships wheels for
# Linux, so the slim image needs no compiler.
RUN /opt/onetrip/bin/pip install .

# --- assets: the pages' third-party scripts, pinned in web/package-lock.json (no CDN) ---
FROM node:20-bookworm-slim AS assets
WORKDIR /assets
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

# --- runtime: the virtualenv on a clean base, run as an unprivileged user ---
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/onetrip/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 onetrip \
    && useradd --system --uid 10001 --gid onetrip --home-dir /home/onetrip --create-home \
        --shell /usr/sbin/nologin onetrip
COPY --from=build /opt/onetrip /opt/onetrip
COPY --from=assets /assets/node_modules /opt/onetrip/assets
ENV ONETRIP_ASSETS_DIR=/opt/onetrip/assets
USER onetrip:onetrip
WORKDIR /home/onetrip
EXPOSE 8000
# `onetrip worker` drains in-flight activities on SIGTERM (ONETRIP_SHUTDOWN_GRACE_SECONDS);
# uvicorn finishes open requests. Give containers a stop timeout longer than the grace.
STOPSIGNAL SIGTERM
ENTRYPOINT ["onetrip"]
CMD ["api"]

# syntax=docker/dockerfile:1
# Three images from one file (docker-compose.yml builds them):
#   --target web      nginx with deploy/nginx.conf, the one public origin
#   --target builder  `portal build --watch`: keeps the built site on a volume up to date
#   --target service  the API and the widgets under uvicorn, as a non-root user (the default)
# No image contains the built site: it lives on a volume the builder refreshes, so a change
# of site/ (or a scheduled article's time) needs no image rebuild.

ARG PYTHON_IMAGE=python:3.11-slim
ARG NGINX_IMAGE=nginx:1.27-alpine

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements requirements
# Exact versions with hashes: two builds of one commit install the same bytes.
RUN pip install --no-deps --require-hashes -r requirements/portal.lock
COPY pyproject.toml README.md ./
COPY server server
COPY portal portal
COPY widgets widgets
# One wheel for the builder and the service: the site is built with the same widget files
# (and so the same ?v= versions) the service serves.
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM ${NGINX_IMAGE} AS web
# The image renders /etc/nginx/templates/*.template with envsubst into conf.d at start.
RUN rm -f /etc/nginx/conf.d/default.conf
COPY deploy/nginx.conf /etc/nginx/templates/portal.conf.template
# The site-build volume is mounted at /srv/portal (read-only); dist is a symlink in it to the
# newest build.
ENV NGINX_LISTEN=80 \
    PORTAL_UPSTREAM=service:8000 \
    PORTAL_STATIC_ROOT=/srv/portal/dist

# What the builder and the service images share: the runtime settings and the non-root user.
# /srv/portal: where compose mounts the site-build volume; a fresh volume takes this
# directory's owner, so the builder can write there.
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin portal \
    && mkdir -p /srv/portal && chown portal:portal /srv/portal

FROM runtime AS builder
# What `portal build` needs (requirements/portal.lock, with hashes), then the project's wheel.
COPY requirements/portal.lock /tmp/portal.lock
COPY --from=build /wheels /wheels
RUN pip install --no-deps --require-hashes -r /tmp/portal.lock \
    && pip install --no-deps /wheels/*.whl \
    && rm -rf /wheels /tmp/portal.lock
WORKDIR /app
USER portal
# Compose mounts the checkout's site/ at /app/site, read-only. Never exits: rebuilds on each
# change and at each scheduled time; SIGTERM stops it between builds or mid-build (a
# half-made build is never switched in).
CMD ["portal", "build", "/app/site", "-o", "/srv/portal/dist", "--watch"]

FROM runtime AS service
# Only what the service runs (requirements/service.in, locked with hashes): no builder, no
# embedded server, no test tools; then the project's wheel without its laptop dependencies.
COPY requirements/service.lock /tmp/service.lock
COPY --from=build /wheels /wheels
RUN pip install --no-deps --require-hashes -r /tmp/service.lock \
    && pip install --no-deps /wheels/*.whl \
    && pip uninstall -y -q setuptools wheel \
    && rm -rf /wheels /tmp/service.lock
WORKDIR /app
# The polls the API serves are those of the last build (PORTAL_BUILD_DIR, on the site-build
# volume at /srv/portal); this copy of site.toml is the fallback when there is no build.
COPY site/site.toml /app/site/site.toml
ENV PORTAL_SITE_DIR=/app/site \
    WEB_CONCURRENCY=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/portal-metrics
USER portal
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
# server.serving runs uvicorn exactly as `portal serve` does: $WEB_CONCURRENCY workers, the
# per-connection limits (PORTAL_HTTP_*: head size and time, keep-alive, pipelining), JSON logs,
# forwarded headers believed only from PORTAL_TRUSTED_PROXIES. The metrics directory is
# emptied at every start so counts from an earlier run never leak in.
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec python -m server.serving --host 0.0.0.0 --port 8000"]

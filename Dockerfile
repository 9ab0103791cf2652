# syntax=docker/dockerfile:1
# Two images from one file (docker-compose.yml builds both):
#   --target web      nginx with the built site and deploy/nginx.conf, the one public origin
#   --target service  the API and the widgets under uvicorn, as a non-root user (the default)
# The site is built once, here, at image build time; change site/ and rebuild both.

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
# One wheel for both: the site is built with the same widget files (and so the same ?v=
# versions) the service will serve.
RUN pip wheel --no-deps --wheel-dir /wheels . && pip install --no-deps /wheels/*.whl
COPY site site
RUN portal build site -o /dist --quiet

FROM ${NGINX_IMAGE} AS web
# The image renders /etc/nginx/templates/*.template with envsubst into conf.d at start.
RUN rm -f /etc/nginx/conf.d/default.conf
COPY deploy/nginx.conf /etc/nginx/templates/portal.conf.template
COPY --from=build /dist /usr/share/nginx/html
ENV NGINX_LISTEN=80 \
    PORTAL_UPSTREAM=service:8000 \
    PORTAL_STATIC_ROOT=/usr/share/nginx/html

FROM ${PYTHON_IMAGE} AS service
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin portal
# Only what the service runs (requirements/service.in, locked with hashes): no builder, no
# embedded server, no test tools; then the project's wheel without its laptop dependencies.
COPY requirements/service.lock /tmp/service.lock
COPY --from=build /wheels /wheels
RUN pip install --no-deps --require-hashes -r /tmp/service.lock \
    && pip install --no-deps /wheels/*.whl \
    && pip uninstall -y -q setuptools wheel \
    && rm -rf /wheels /tmp/service.lock
WORKDIR /app
# The polls the API serves are the [[polls]] of site.toml.
COPY site/site.toml /app/site/site.toml
ENV PORTAL_SITE_DIR=/app/site \
    WEB_CONCURRENCY=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/portal-metrics
USER portal
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
# uvicorn's workers default to $WEB_CONCURRENCY. Its own forwarded-header handling stays off:
# the app believes X-Forwarded-For only from PORTAL_TRUSTED_PROXIES. The metrics directory
# is emptied at every start so counts from an earlier run never leak in.
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec uvicorn --factory server.app:create_app_from_env --host 0.0.0.0 --port 8000 --no-proxy-headers --no-server-header --no-access-log --timeout-graceful-shutdown 10"]

# troupe in a container: `troupe serve` as a non-root user, config and data as volumes.
#
#   docker build -t troupe .
#   docker run -p 8000:8000 troupe                      # the bundled demo teams
#   docker run -p 8000:8000 -v ./teams.yaml:/config/teams.yaml:ro -v troupe-data:/data troupe
#
# BASE is any image with Python >= 3.11 and pip (python:3.12-slim by default);
# scripts/build-python-base makes a stand-in offline. EXTRAS picks the optional
# providers and stores (postgres for replicas on PostgreSQL).
ARG BASE=python:3.12-slim

FROM ${BASE} AS build
ARG EXTRAS=postgres,anthropic,ollama
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
# The source, and wheels/ when the context has one (an offline build: see docs/deployment.md).
COPY . ./
RUN python3 -m venv /opt/troupe \
    && if [ -d wheels ]; then \
         /opt/troupe/bin/pip install --no-compile --no-index --find-links wheels "troupe-server[${EXTRAS}]"; \
       else \
         /opt/troupe/bin/pip install --no-compile ".[${EXTRAS}]"; \
       fi \
    && /opt/troupe/bin/python -m compileall -q /opt/troupe/lib \
    && rm -rf /opt/troupe/lib/python3*/site-packages/pip*

FROM ${BASE}
# The user is written out directly: slim bases may have no useradd.
RUN echo 'troupe:x:10001:10001:troupe:/data:/usr/sbin/nologin' >>/etc/passwd \
    && echo 'troupe:x:10001:' >>/etc/group \
    && mkdir -p /data /config && chown 10001:10001 /data
COPY --from=build /opt/troupe /opt/troupe
ENV PATH=/opt/troupe/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TROUPE_HOST=0.0.0.0 \
    TROUPE_PORT=8000 \
    TROUPE_LOG_FORMAT=json \
    TROUPE_DATABASE_URL=sqlite:////data/troupe.db
# /config/teams.yaml is used when it exists (else the bundled demo teams): see the entrypoint.
VOLUME ["/config", "/data"]
WORKDIR /config
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('TROUPE_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["troupe", "serve"]

# The Inventory app: Flask in Gunicorn (2 workers, --preload), ONNX embedding model baked in.
#   docker build -t inventory-app .                          # model from the Hugging Face hub
#   docker build --build-arg MODEL_SOURCE=local -t inventory-app .   # from docker/model/
# Plain Dockerfile syntax on purpose: it builds with BuildKit and with the classic builder.

# Pinned to the Debian release, like the other base images: the bare tag moves between releases.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# The database image: the backup tools are taken from it, so they match the server's version.
ARG POSTGRES_IMAGE=pgvector/pgvector:0.8.0-pg16

# ---- pgclient: pg_dump, pg_restore and psql of the database's own major version ---------------
# (Debian's postgresql-client is older: pg_dump refuses a newer server.)
FROM ${POSTGRES_IMAGE} AS pgclient
COPY docker/pgclient/collect.sh /usr/local/bin/collect-pgclient
RUN collect-pgclient /opt/pgclient

# ---- builder: a virtualenv with the app and its pinned dependencies -------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
# Dependencies first, in their own layer, so code changes rebuild in seconds. pgserver (the
# embedded PostgreSQL for venv installs) is left out: the container always uses the postgres
# service, and pgserver has no arm64 wheel.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(d for d in deps if not d.startswith('pgserver')))" > requirements.txt \
 && pip install --constraint constraints.txt --requirement requirements.txt
COPY README.md ./
COPY src ./src
RUN pip install --no-deps --constraint constraints.txt . \
 && python -c "import inventory.app"

# ---- model: the ONNX embedding model, laid out as the app's model cache expects ---------------
FROM builder AS model
# hub: download the ONNX export from the Hugging Face hub (needs network at build time).
# local: copy docker/model/ (model.onnx + tokenizer.json, e.g. from `inventory model export-onnx`).
ARG MODEL_SOURCE=hub
ARG EMBEDDING_MODEL=all-MiniLM-L6-v2
COPY docker/model/ /tmp/model-src/
COPY docker/fetch-model.py /usr/local/bin/fetch-model.py
RUN python /usr/local/bin/fetch-model.py --source "$MODEL_SOURCE" --model "$EMBEDDING_MODEL" \
        --local-dir /tmp/model-src --cache /model --constraints constraints.txt

# ---- venv: what the final image gets (pip is not needed at run time) -------------------------
FROM builder AS venv
RUN python -m pip uninstall --yes --quiet pip

# ---- final: no compilers, no build tools, an unprivileged user --------------------------------
FROM ${PYTHON_IMAGE}
# tini as PID 1: forwards signals to Gunicorn and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 inventory \
 && useradd --system --uid 10001 --gid inventory --home-dir /var/lib/inventory \
        --shell /usr/sbin/nologin inventory \
 && mkdir -p /var/lib/inventory/images /var/lib/inventory/config /var/lib/inventory/backups \
 && chown inventory:inventory /var/lib/inventory /var/lib/inventory/images \
        /var/lib/inventory/config /var/lib/inventory/backups
COPY --from=venv /opt/venv /opt/venv
COPY --from=pgclient /opt/pgclient /opt/pgclient
# Data folder /var/lib/inventory: its config/ (volume config_data) keeps tunnel.env from
# `inventory device register`; backups/ holds `inventory backup` archives; images/ and
# ml_cache/ are volumes too.
# Baked into the model cache path: an empty ml_cache_data volume starts as a copy of it, and
# whatever the volume holds later wins.
COPY --from=model --chown=inventory:inventory /model /var/lib/inventory/ml_cache
ARG EMBEDDING_MODEL=all-MiniLM-L6-v2
ENV PATH=/opt/venv/bin:/opt/pgclient/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FLASK_ENV=production \
    INVENTORY_DATA_DIR=/var/lib/inventory \
    IMAGE_DIR=/var/lib/inventory/images \
    TRANSFORMERS_CACHE=/var/lib/inventory/ml_cache \
    HF_HOME=/var/lib/inventory/ml_cache \
    HF_HUB_OFFLINE=1 \
    EMBEDDING_BACKEND=onnx \
    EMBEDDING_MODEL=${EMBEDDING_MODEL}
# Numeric, so that runtimes that check for a non-root user (runAsNonRoot) can tell.
USER 10001:10001
WORKDIR /var/lib/inventory
EXPOSE 8000
# Ready = database reachable and migrations applied (/health answers 200 only then).
# urllib, since the slim image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
ENTRYPOINT ["tini", "--"]
CMD ["inventory", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

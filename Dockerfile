# The ledger: one image for the API (`ledger serve`), the projection runner
# (`ledger projections run`) and the CLI. Build: docker build -t ledger .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Exactly the locked, hash-checked dependencies: a changed or unpinned package fails the build.
COPY requirements/runtime.lock ./requirements/runtime.lock
RUN pip install --require-hashes --no-deps -r requirements/runtime.lock
# The code itself is not built into a package (that would fetch an unpinned build backend):
# it runs from /app, and `ledger` is the same entry point pyproject.toml declares.
COPY pyproject.toml README.md ./
COPY ledger ./ledger
COPY api ./api
ENV PYTHONPATH=/app
RUN printf '#!/bin/sh\nexec python -m ledger.cli "$@"\n' > /usr/local/bin/ledger \
    && chmod 755 /usr/local/bin/ledger && ledger --help > /dev/null

# An unprivileged user; the key directory is a volume it owns (keys are 0600).
RUN useradd --system --uid 10001 --home-dir /app ledger \
    && mkdir -p /keys && chown ledger /keys
USER ledger
ENV LEDGER_KEY_DIR=/keys
VOLUME ["/keys"]

EXPOSE 8000
CMD ["ledger", "serve", "--host", "0.0.0.0", "--port", "8000"]

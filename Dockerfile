# The ledger: one image for the API (`ledger serve`), the projection runner
# (`ledger projections run`) and the CLI. Build: docker build -t ledger .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ledger ./ledger
COPY api ./api
RUN pip install . && rm -rf /app/build

# An unprivileged user; the key directory is a volume it owns (keys are 0600).
RUN useradd --system --uid 10001 --home-dir /app ledger \
    && mkdir -p /keys && chown ledger /keys
USER ledger
ENV LEDGER_KEY_DIR=/keys
VOLUME ["/keys"]

EXPOSE 8000
CMD ["ledger", "serve", "--host", "0.0.0.0", "--port", "8000"]

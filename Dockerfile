# The production image: the service under gunicorn, its migrations and its scheduled jobs (same image, other
# commands: see compose.yaml). No Chromium (the browser only serves the tests) and no development dependencies.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FUND_ENV=production \
    PROMETHEUS_MULTIPROC_DIR=/tmp/fund-metrics

# WeasyPrint's Pango and HarfBuzz, the DejaVu fonts the PDFs name, pg_dump/psql for backups and checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
      fonts-dejavu-core postgresql-client \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The pinned dependencies first (a layer that changes only with pyproject.toml), then the code.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

COPY . .
RUN pip install --no-deps -e . \
 && for catalog in */translations; do \
      if [ -f "$catalog/fr/LC_MESSAGES/messages.po" ]; then pybabel -q compile -d "$catalog"; fi; done \
 && useradd --system --uid 10001 --home-dir /app fund

USER fund
EXPOSE 8000
# The metrics directory is emptied at each start (prometheus_client's multiprocess mode adds up the workers' files).
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec gunicorn --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-4} --timeout 120 wsgi:app"]

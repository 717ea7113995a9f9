# One image for every hth-registry component: `hth-ctl run registry|worker|beat|flower`.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HTH_CONFIG=/var/opt/hth/shared/hth.json
WORKDIR /opt/hth
COPY pyproject.toml README.md ./
COPY api ./api
COPY registry ./registry
COPY worker ./worker
COPY scheduler ./scheduler
COPY cli ./cli
# The folders volumes are mounted on exist in the image, owned by hth: a new named volume
# takes their ownership, so the unprivileged user can write storage, data and backups.
RUN pip install --no-cache-dir ".[cloud,postgres]" \
    && useradd --system --uid 1000 --home /var/opt/hth hth \
    && mkdir -p /var/opt/hth/shared/storage /var/opt/hth/data /var/opt/hth/backups \
    && chown -R hth /var/opt/hth
USER hth
EXPOSE 5000
ENTRYPOINT ["hth-ctl"]
CMD ["run", "registry"]

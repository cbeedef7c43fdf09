# mentionbot daemon image. Build: docker build -t mentionbot .
# Run:  docker run -d --name mentionbot -v mentionbot-data:/data -v $PWD/config.toml:/data/config.toml:ro \
#         --env-file mentionbot.env mentionbot
# The config's relative paths (store.path, report.folder) resolve next to /data/config.toml, inside the volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg MENTIONBOT_CONFIG=/data/config.toml
RUN useradd --system --create-home --home-dir /home/mentionbot mentionbot \
    && mkdir /data && chown mentionbot /data
WORKDIR /app
COPY pyproject.toml README.md constraints.txt config.toml ./
COPY bot ./bot
COPY connectors ./connectors
COPY responders ./responders
# The dependencies at the versions the tests ran with (constraints.txt); editable, so that `mentionbot init`
# finds the shipped config.toml beside the code: docker run --rm -v $PWD:/data mentionbot mentionbot init reddit
RUN pip install --no-cache-dir --constraint constraints.txt --editable .

USER mentionbot
WORKDIR /data
VOLUME ["/data"]
# SIGTERM (docker stop) lets the current job finish, then the daemon exits cleanly.
STOPSIGNAL SIGTERM
# Unhealthy (exit 1, the reasons in `docker inspect`) when Discord is configured but not connected, a connector is
# paused or failing, or the outbox is stuck: see `mentionbot status --check`.
HEALTHCHECK --interval=2m --timeout=30s --start-period=2m CMD ["mentionbot", "status", "--check"]
CMD ["mentionbot", "run"]

# The bot's own image: `ci-bot serve` with the engine beside it.
# It drives the host's Docker engine through the mounted socket:
#   docker run -v /var/run/docker.sock:/var/run/docker.sock \
#              -v /var/lib/ci-bot:/var/lib/ci-bot -p 8080:8080 ci-bot
# (Workspaces are bind-mounted into job containers, so the data dir must be the
# same path on the host and in this container.)
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/ci-bot
COPY pyproject.toml README.md ./
COPY ci_bot ./ci_bot
COPY integrations ./integrations
RUN pip install --no-cache-dir .

ENV CI_BOT_DATA_DIR=/var/lib/ci-bot
VOLUME ["/var/lib/ci-bot"]
EXPOSE 8080
ENTRYPOINT ["ci-bot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]

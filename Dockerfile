# The bot's own image: `ci-bot serve` (the default command) or `ci-bot worker`,
# with the scaled-out extras (Celery over Redis, PostgreSQL). docs/deploy.md shows
# it in use, alone or as serve + workers (deploy/compose.yaml).
#
#   docker build -t ci-bot .
#   docker run -d -p 8080:8080 \
#       -v /var/run/docker.sock:/var/run/docker.sock \
#       -v /var/lib/ci-bot:/var/lib/ci-bot \
#       --group-add "$(stat -c %g /var/run/docker.sock)" \
#       -e CI_BOT_GITHUB_WEBHOOK_SECRET=… ci-bot
#
# The data dir is bind-mounted at the same path as on the host: the engine asks the
# host's Docker engine to mount $CI_DATA and $CI_CACHE from it into job containers,
# and the host reads those paths as its own. It must be writable by the bot's user
# (uid 10001): `install -d -o 10001 -g 10001 /var/lib/ci-bot`.
#
# Build arguments:
#   BASE_IMAGE    a Debian-based image with Python 3.11 (default: the public one).
#   DOCKER_GID    the group id of the host's /var/run/docker.sock (`stat -c %g`); it
#                 differs per host. Or leave it and run with `--group-add GID`.
#   APT_PACKAGES  what the bot runs besides Python: git (mirrors, checkouts) and
#                 ssh-keygen (artifact signing). Empty: the base has what is needed.
#
# Offline (no package index reachable from the build, or a base without pip), make
# the wheels on the host first; the build then installs only from them:
#   pip wheel --wheel-dir wheels '.[scale]' pip
#   docker build --build-arg BASE_IMAGE=ci-bot/debian-python:bookworm \
#       --build-arg APT_PACKAGES= -t ci-bot .
# (The wheels must suit the base's Python: the same minor version, glibc-based.)

ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY . .
# wheels/ from the context when it has some, else every wheel from the index.
RUN if ! ls wheels/*.whl >/dev/null 2>&1; then \
        python3 -m pip wheel --no-cache-dir --wheel-dir wheels '.[scale]' pip; \
    fi
# A virtualenv without pip, filled by pip run from its own wheel, offline: the same
# on a base with pip and on Debian's Python, which has neither pip nor ensurepip.
RUN python3 -m venv --without-pip /opt/ci-bot \
 && set -- wheels/pip-*.whl \
 && /opt/ci-bot/bin/python "$1/pip" install --no-cache-dir --no-index \
        --find-links wheels 'ci-bot[scale]'

FROM ${BASE_IMAGE}
ARG APT_PACKAGES="git openssh-client"
RUN if [ -n "$APT_PACKAGES" ]; then \
        apt-get update \
     && apt-get install -y --no-install-recommends $APT_PACKAGES \
     && rm -rf /var/lib/apt/lists/*; \
    fi

# A user of its own, in a group with the Docker socket's id: the socket is all the
# power the bot needs, and a process that can use it is root on the host anyway.
ARG DOCKER_GID=999
RUN getent group "$DOCKER_GID" >/dev/null || groupadd --system --gid "$DOCKER_GID" docker-host \
 && groupadd --system --gid 10001 ci-bot \
 && useradd --system --uid 10001 --gid ci-bot --groups "$DOCKER_GID" \
        --home-dir /var/lib/ci-bot --shell /usr/sbin/nologin ci-bot \
 && install -d -o ci-bot -g ci-bot /var/lib/ci-bot

COPY --from=build /opt/ci-bot /opt/ci-bot
ENV PATH=/opt/ci-bot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CI_BOT_DATA_DIR=/var/lib/ci-bot
USER ci-bot
WORKDIR /var/lib/ci-bot
VOLUME ["/var/lib/ci-bot"]
EXPOSE 8080

# /healthz answers 200 while the store answers (503 when it does not). A worker
# serves no HTTP: compose turns this off for workers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

ENTRYPOINT ["ci-bot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]

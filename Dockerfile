# slackgpt: the Slack bot in a small image. Build: docker build -t slackgpt .
# Run:  docker run --rm --env-file .env --stop-timeout 40 slackgpt
# No secrets are baked in: the tokens come from the environment at run time.
# Python 3.11 or newer (pyproject.toml); constraints.txt is tested on 3.11 and 3.13.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Install the package (and its dependencies) into the image's Python, then drop the sources.
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY slackgpt ./slackgpt
RUN pip install -c constraints.txt '.[fast]' \
    && rm -rf /src \
    && useradd --system --uid 10001 --user-group --no-create-home \
        --shell /usr/sbin/nologin slackgpt

# The entry point, and the manifest that `python app.py --check` compares scopes with.
WORKDIR /app
COPY app.py manifest.json ./

# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001

# Socket Mode needs no port. HTTP mode (SLACK_MODE=http) listens on $PORT (default 3000).
EXPOSE 3000

# python is PID 1 and gets SIGTERM directly (exec form): it stops taking events and finishes
# the answers in flight within 30 s, so give it longer than that (docker --stop-timeout 40,
# Kubernetes terminationGracePeriodSeconds). No HEALTHCHECK here: with METRICS_PORT set, probe
# GET /healthz and /readyz on it (deploy/ does); `--check` would spend model tokens each time.
CMD ["python", "app.py"]

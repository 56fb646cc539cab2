"""The container and Kubernetes files keep their promises (checked as text: no Docker here)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(10)

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
DOCKERIGNORE = [
    line.strip()
    for line in (ROOT / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
KUBE = (ROOT / "deploy" / "kubernetes.yaml").read_text()
SHUTDOWN_GRACE_S = 30  # the bot's own grace period for answers in flight


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last match wins)."""
    result = False
    for pattern in DOCKERIGNORE:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.split("/")[0], pattern):
            result = not negate
    return result


def test_dockerfile_runs_the_app_as_a_non_root_user_from_a_slim_python():
    steps = instructions()
    assert steps[0][0] == "FROM" and re.fullmatch(r"python:3\.1[0-9]-slim", steps[0][1])
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert steps[-1] == ("CMD", '["python", "app.py"]')
    assert any(op == "RUN" and "pip install ." in arg for op, arg in steps)


def test_dockerfile_bakes_in_no_secrets_and_copies_only_what_it_needs():
    steps = instructions()
    env = " ".join(arg for op, arg in steps if op in ("ENV", "ARG"))
    assert not re.search(r"TOKEN|KEY|SECRET|xox|xapp|sk-", env)
    copied = [p for op, arg in steps if op == "COPY" for p in arg.split()[:-1]]
    assert sorted(copied) == ["README.md", "app.py", "manifest.json", "pyproject.toml", "slackgpt"]
    for path in copied:
        assert (ROOT / path).exists() and not ignored(path), path


def test_dockerignore_keeps_secrets_and_local_state_out():
    for path in (".env", ".env.production", ".venv", ".git", "tests", "slackgpt/__pycache__"):
        assert ignored(path), path
    assert not ignored(".env.example")


def field(name: str) -> list[str]:
    """Every value of ``name:`` in the Kubernetes file."""
    return re.findall(rf"^\s*-?\s*{name}:\s*([^#\n]+?)\s*(?:#.*)?$", KUBE, re.MULTILINE)


def test_kubernetes_deployment_rolls_without_gaps_and_outlives_the_shutdown_grace():
    assert field("kind") == ["Deployment", "PodDisruptionBudget"]
    assert 2 <= int(field("replicas")[0]) <= 3
    assert field("type")[0] == "RollingUpdate" and field("maxUnavailable") == ["0"]
    assert int(field("terminationGracePeriodSeconds")[0]) > SHUTDOWN_GRACE_S
    assert field("runAsNonRoot") == ["true"] and field("runAsUser") == ["10001"]
    assert "USER 10001:10001" in DOCKERFILE  # the same user as the image


def test_kubernetes_reads_tokens_from_a_secret_and_sizes_memory_for_the_bot():
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "OPENAI_API_KEY"):
        pattern = rf"- name: {name}\n\s+valueFrom:\n(?:\s+#.*\n)?\s+secretKeyRef: (.+)"
        entry = re.search(pattern, KUBE)
        assert entry and f"key: {name}" in entry.group(1), name
    assert not re.search(r"xox[bp]-\w|xapp-\w|sk-\w", KUBE.split("apiVersion", 1)[1])
    request, limit = (int(v.removesuffix("Mi")) for v in field("memory"))
    assert 120 < request <= limit <= 512


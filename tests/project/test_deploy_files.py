"""The container, Kubernetes and Compose files keep their promises (parsed, as no Docker or
cluster runs here)."""

from __future__ import annotations

import fnmatch
import json
import re

import pytest
import yaml

from slackgpt.config.settings import load_settings
from slackgpt.metrics.prometheus import NAMES, PrometheusMetrics
from slackgpt.metrics.server import ALIVE_WITHIN, READY_WITHIN
from tests.helpers import ROOT

pytestmark = pytest.mark.timeout(10)

DOCKERFILE = (ROOT / "Dockerfile").read_text()
DOCKERIGNORE = [
    line.strip()
    for line in (ROOT / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
KUBE = (ROOT / "deploy" / "kubernetes.yaml").read_text()
SHUTDOWN_GRACE_S = 30  # the bot's own grace period for answers in flight
SETTINGS = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "OPENAI_API_KEY": "k"}


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
    install = "pip install -c constraints.txt '.[fast]'"
    assert any(op == "RUN" and install in arg for op, arg in steps)


def test_dockerfile_bakes_in_no_secrets_and_copies_only_what_it_needs():
    steps = instructions()
    env = " ".join(arg for op, arg in steps if op in ("ENV", "ARG"))
    assert not re.search(r"TOKEN|KEY|SECRET|xox|xapp|sk-", env)
    copied = [p for op, arg in steps if op == "COPY" for p in arg.split()[:-1]]
    assert sorted(copied) == [
        "README.md", "app.py", "constraints.txt", "manifest.json", "pyproject.toml", "slackgpt"
    ]
    for path in copied:
        assert (ROOT / path).exists() and not ignored(path), path


def test_dockerignore_keeps_secrets_and_local_state_out():
    for path in (".env", ".env.production", ".venv", ".git", "tests", "slackgpt/__pycache__"):
        assert ignored(path), path
    assert not ignored(".env.example")


KUBE_DOCS = list(yaml.safe_load_all(KUBE))
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
TOKENS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "OPENAI_API_KEY")


def kube(kind: str, name: str) -> dict:
    """The Kubernetes object of ``kind`` named ``name``."""
    [found] = [d for d in KUBE_DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def container(deployment: dict) -> dict:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env_of(deployment: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container(deployment)["env"]}


def seconds(duration: str) -> float:
    """A Compose duration such as ``40s`` or ``1m30s``."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, duration
    return int(parts.group(1) or 0) * 60 + int(parts.group(2) or 0)


def test_kubernetes_holds_the_bot_and_its_redis():
    assert [(d["kind"], d["metadata"]["name"]) for d in KUBE_DOCS] == [
        ("Deployment", "slackgpt"),
        ("PodDisruptionBudget", "slackgpt"),
        ("Deployment", "slackgpt-redis"),
        ("Service", "slackgpt-redis"),
        ("NetworkPolicy", "slackgpt-redis"),
    ]


def test_kubernetes_deployment_rolls_without_gaps_and_outlives_the_shutdown_grace():
    bot = kube("Deployment", "slackgpt")["spec"]
    assert 2 <= bot["replicas"] <= 3
    assert bot["strategy"]["type"] == "RollingUpdate"
    assert bot["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = bot["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > SHUTDOWN_GRACE_S
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert "USER 10001:10001" in DOCKERFILE  # the same user as the image
    budget = kube("PodDisruptionBudget", "slackgpt")["spec"]
    assert budget["minAvailable"] == 1
    assert budget["selector"]["matchLabels"] == bot["selector"]["matchLabels"]


def test_kubernetes_reads_tokens_from_a_secret_and_sizes_memory_for_the_bot():
    bot = kube("Deployment", "slackgpt")
    env = env_of(bot)
    for name in TOKENS:
        assert env[name]["valueFrom"]["secretKeyRef"] == {
            "name": "slackgpt", "key": name, **({"optional": True} if "OPENAI" in name else {})
        }, name
    assert not re.search(r"xox[bp]-\w|xapp-\w|sk-\w", KUBE.split("apiVersion", 1)[1])
    resources = container(bot)["resources"]
    request = int(resources["requests"]["memory"].removesuffix("Mi"))
    limit = int(resources["limits"]["memory"].removesuffix("Mi"))
    assert 120 < request <= limit <= 512


def test_kubernetes_replicas_share_one_redis_that_keeps_nothing():
    bot, redis = kube("Deployment", "slackgpt"), kube("Deployment", "slackgpt-redis")
    service = kube("Service", "slackgpt-redis")
    url = env_of(bot)["REDIS_URL"]["value"]
    [port] = service["spec"]["ports"]
    assert url == f"redis://{service['metadata']['name']}:{port['port']}/0"
    assert load_settings({**SETTINGS, "REDIS_URL": url}).redis_url == url
    pod = redis["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert port["targetPort"] in [p["name"] for p in container(redis)["ports"]]
    assert redis["spec"]["replicas"] == 1
    args = container(redis)["args"]
    assert args[args.index("--save") + 1] == "" and args[args.index("--appendonly") + 1] == "no"
    assert all("persistentVolumeClaim" not in v for v in pod["spec"]["volumes"])
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container(redis)["readinessProbe"]["exec"]["command"] == ["redis-cli", "ping"]
    policy = kube("NetworkPolicy", "slackgpt-redis")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    [allowed] = policy["ingress"][0]["from"]
    bot_labels = bot["spec"]["template"]["metadata"]["labels"]
    assert allowed["podSelector"]["matchLabels"].items() <= bot_labels.items()


def test_compose_runs_two_bots_on_one_redis():
    bot, redis = COMPOSE["services"]["bot"], COMPOSE["services"]["redis"]
    assert set(COMPOSE["services"]) == {"bot", "redis"}
    assert 2 <= bot["deploy"]["replicas"] <= 10  # Slack's limit of Socket Mode connections
    assert bot["environment"]["REDIS_URL"] == "redis://redis:6379/0"  # the service's name
    assert load_settings({**SETTINGS, **bot["environment"]}).redis_url
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert seconds(bot["stop_grace_period"]) > SHUTDOWN_GRACE_S
    deploy = ROOT / "deploy"
    assert (deploy / bot["build"]["context"]).resolve() == ROOT and (ROOT / "Dockerfile").exists()
    assert (deploy / bot["env_file"]).resolve() == ROOT / ".env"  # made from .env.example
    command = redis["command"]
    assert command[command.index("--save") + 1] == "" and "--appendonly" in command
    assert "ports" not in redis  # reached by the bots only
    assert not any(k in str(COMPOSE) for k in ("xoxb-", "xapp-", "sk-"))


def test_every_dependency_is_pinned_in_the_constraints():
    """README, CI and the Dockerfile install with -c constraints.txt: the tested set."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(d for e in project["optional-dependencies"].values()
                                          for d in e)]
    names = {re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0].lower().replace("_", "-")
             for spec in wanted}
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert sorted(names - pinned) == []
    for path in ("Dockerfile", ".ci/run", "README.md"):
        assert "-c constraints.txt" in (ROOT / path).read_text(), path


def test_kubernetes_probes_the_metrics_port():
    bot = container(kube("Deployment", "slackgpt"))
    port = env_of(kube("Deployment", "slackgpt"))["METRICS_PORT"]["value"]
    assert load_settings({**SETTINGS, "METRICS_PORT": port}).operations.metrics_port == 9090
    [metrics] = [p for p in bot["ports"] if p["name"] == "metrics"]
    assert metrics["containerPort"] == int(port)
    assert bot["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert bot["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    alive = bot["livenessProbe"]
    assert alive["timeoutSeconds"] > ALIVE_WITHIN  # a stalled loop's 503 is read, not cut
    assert alive["periodSeconds"] * alive["failureThreshold"] >= 30  # no restart on a hiccup
    annotations = kube("Deployment", "slackgpt")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == port


def test_compose_checks_the_bots_readiness():
    bot = COMPOSE["services"]["bot"]
    port = bot["environment"]["METRICS_PORT"]
    assert load_settings({**SETTINGS, "METRICS_PORT": port}).operations.metrics_port
    test = bot["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]  # the slim image has no curl
    assert f"http://127.0.0.1:{port}/readyz" in test[3]
    assert seconds(bot["healthcheck"]["timeout"]) > READY_WITHIN


def every_series_the_bot_exports() -> set[str]:
    """The sample names in a bot's registry once every metric has been told something."""
    metrics = PrometheusMetrics()
    metrics.answer("ok", 1.0, 2.0)
    metrics.model_usage("m", 1, 1, 0.1, estimated=False)
    metrics.slack_call("chat.update", 429)
    metrics.budget_wait("chat.update", 1.0)
    metrics.tool_call("t", "ok")
    metrics.budget_event("refused", "person_day")
    metrics.watch_store("redis", lambda: True)
    return {s.name for family in metrics.registry.collect() for s in family.samples}


def test_the_grafana_dashboard_draws_what_the_bot_exports():
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"\bslackgpt_[a-z_]+\b", e)}
    assert used and sorted(used - every_series_the_bot_exports()) == []
    assert every_series_the_bot_exports() - used <= {
        n for n in NAMES if n.endswith(("_sum", "_count"))
    } | {n for n in every_series_the_bot_exports() if n.endswith("_created")}
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])

"""The shape of the code stays easy to change: rooms whose imports point one way, small modules
and functions, decisions that do no I/O."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "slackgpt"
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_modules_are_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in modules()}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_functions_are_small():
    long = []
    for path in modules():
        for node in functions(ast.parse(path.read_text())):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                long.append(f"{path.name}:{node.name} ({lines} lines)")
    assert long == []


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_tests_import_the_test_package():
    outside = [p for p in ROOT.rglob("*.py") if not p.is_relative_to(ROOT / "tests")]
    outside = [p for p in outside if ".venv" not in p.parts]
    offenders = [
        str(p.relative_to(ROOT))
        for p in outside
        if any(name == "tests" or name.startswith("tests.") for name in imports_of(p))
    ]
    assert offenders == []


def test_the_package_never_imports_the_fakes():
    offenders = [p.name for p in modules() if any(n.startswith("fakes") for n in imports_of(p))]
    assert offenders == []


def local_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
    return found


PURE = {
    "slack/events", "slack/blocks", "answering/policy", "answering/prompt", "answering/hooks",
    "model/failures", "model/tokens", "files/attachments", "files/decoding", "files/image_rules",
    "pane/logic", "config/values", "formatting",
}


def test_the_decisions_do_no_io():
    """The pure modules import no client, network or Slack door."""
    io = {"aiohttp", "slack_sdk", "slack_bolt", "openai.AsyncOpenAI"}
    for name in sorted(PURE):
        path = PACKAGE / f"{name}.py"
        third_party = {n.split(".")[0] for n in imports_of(path)}
        assert not (third_party & io) - {"openai"}, name
        doors = {"slack.api", "answering.answer", "runtime", "model.client", "slack.delivery",
                 "pane.handlers", "state.local", "state.redis"}
        ours = {n.removeprefix("slackgpt.") for n in imports_of(path) if n.startswith("slackgpt.")}
        assert not ours & doors


# The rooms, and which rooms each may import (besides itself). Entry modules may import any.
LEAVES = {"logs", "formatting", "deadline"}
ENTRY = {"cli", "runtime", "listeners", "doctor"}
ALLOWED = {
    "leaves": set(),
    "config": {"leaves"},
    "state": {"leaves"},
    "files": {"leaves"},
    "model": {"config", "leaves"},
    "slack": {"files", "config", "leaves"},
    "answering": {"slack", "model", "files", "state", "config", "leaves"},
    "pane": {"answering", "slack", "model", "files", "state", "config", "leaves"},
}
PRIVATE_TO_SLACK = {"slackgpt.slack.quota", "slackgpt.slack.pacing"}


def room_of(module: str) -> str:
    """``slackgpt.slack.api`` -> ``slack``; ``slackgpt.logs`` -> ``leaves``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "leaves"  # the package itself
    if len(parts) > 2:
        return parts[1]
    return "leaves" if parts[1] in LEAVES else "entry" if parts[1] in ENTRY else parts[1]


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    return ".".join(p for p in relative.parts if p != "__init__")


def our_imports(path: Path) -> set[str]:
    return {n for n in imports_of(path) if n.startswith("slackgpt.")}


def test_every_module_has_a_room():
    rooms = {room_of(module_name(p)) for p in modules() if p.name != "__init__.py"}
    assert rooms <= set(ALLOWED) | {"entry"}


def test_imports_point_one_way():
    """No room imports a room above it: entry -> pane -> answering -> slack, model, files,
    state, config -> leaves (see ARCHITECTURE.md)."""
    upward = []
    for path in modules():
        room = room_of(module_name(path))
        if room == "entry":
            continue
        for target in our_imports(path):
            other = room_of(target)
            if other != room and other not in ALLOWED[room]:
                upward.append(f"{module_name(path)} -> {target}")
    assert upward == []


def test_slacks_budgets_stay_behind_the_door():
    """Only the slack room touches Slack's budgets and pacing; the rest asks the door."""
    leaks = [
        f"{module_name(p)} -> {name}"
        for p in modules()
        if room_of(module_name(p)) != "slack"
        for name in our_imports(p) & PRIVATE_TO_SLACK
    ]
    assert leaks == []


def test_no_module_outside_the_door_names_a_slack_method():
    """Web API method names (``chat.postMessage``, ``reactions.add``…) appear in slack/ only."""
    method = re.compile(r"[\"'](?:chat|reactions|conversations|users|assistant|apps|auth|files)"
                        r"\.[a-z][A-Za-z]+[\"']")
    named = [
        module_name(p)
        for p in modules()
        if room_of(module_name(p)) != "slack" and method.search(p.read_text())
    ]
    assert named == []

"""The shape of the code stays easy to change: small modules and functions, one-way imports."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

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
    "slack/events", "answering/policy", "answering/prompt", "model/failures", "formatting",
    "model/tokens", "files/attachments", "pane/logic",
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

"""The shape of the code stays easy to change: rooms whose imports point one way, small modules
and functions, decisions that do no I/O."""

from __future__ import annotations

import ast
import re
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


def imported(node: ast.AST) -> set[str]:
    """The modules an import statement names (none for other nodes or relative imports)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return {node.module}
    return set()


def imports_of(path: Path) -> set[str]:
    return {name for node in ast.walk(ast.parse(path.read_text())) for name in imported(node)}


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
    "pane/logic", "pane/home_view", "config/values", "formatting", "usage/budget", "tools/base",
    "tools/mcp_shapes", "tools/approval_rules",
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
MIDDLE = {"slack", "model", "files", "state", "config", "metrics", "leaves"}
ALLOWED = {
    "leaves": set(),
    "metrics": {"leaves"},  # what the bot tells its metrics: every room may tell them
    "config": {"leaves"},
    "state": {"leaves"},
    "files": {"leaves"},
    "model": {"config", "leaves"},
    "slack": {"files", "config", "metrics", "leaves"},
    "usage": {"model", "state", "config", "metrics", "leaves"},
    "tools": MIDDLE,
    "answering": {"usage", "tools", *MIDDLE},
    "pane": {"answering", "usage", "tools", *MIDDLE},
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


# -- the tests' own shape ------------------------------------------------------------------------

TESTS = ROOT / "tests"
SHARED = {"tests", "tests.helpers", "tests.conftest"}  # what a test module may import of tests/


def suite_files() -> list[Path]:
    """Every Python file of the test suite (test modules, helpers, conftest)."""
    return sorted(TESTS.rglob("*.py"))


def test_no_test_module_imports_another():
    """Shared helpers live in tests/helpers.py (and fixtures in conftest.py), so a test module
    can move or be split without breaking another."""
    offenders = []
    for path in suite_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} relative import")
                continue
            ours = {n for n in imported(node) if n == "tests" or n.startswith("tests.")}
            if isinstance(node, ast.ImportFrom) and node.module == "tests":
                ours |= {f"tests.{alias.name}" for alias in node.names}
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in ours - SHARED]
    assert offenders == []


CHECKS = {"raises", "warns"}  # pytest.raises, pytest.warns
UNCHECKED_ELSEWHERE = {
    # Tests of the fakes (tests/fakes/, another branch's) that end in a call which raises
    # when it fails (a Web API call the fake refuses, a wait_for that times out), without a
    # check of their own. Give each a check there, then drop it from this set.
    "test_icon_buttons_are_accepted_beside_feedback_buttons",
    "test_waiting_retry_after_in_real_time_is_enough",
    "test_disconnect_and_drop_make_the_client_reconnect",
    "test_the_valid_forms_of_those_arguments_are_taken",
    "test_well_formed_blocks_are_taken",
}


def checks_something(function: ast.AST) -> bool:
    """An ``assert``, ``pytest.raises``/``pytest.warns``, or a call of an ``assert_*`` or
    ``expect_*`` helper."""
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            name = node.func.id if isinstance(node.func, ast.Name) else name
            if name in CHECKS or name.startswith(("assert_", "expect_")):
                return True
    return False


def test_every_test_checks_something():
    unchecked = [
        f"{path.relative_to(ROOT)}::{node.name}"
        for path in suite_files()
        if path.name.startswith("test_")
        for node in functions(ast.parse(path.read_text()))
        if node.name.startswith("test_") and not checks_something(node)
    ]
    assert [u for u in unchecked if u.split("::")[-1] not in UNCHECKED_ELSEWHERE] == []


SLEEPS_ELSEWHERE = {"fakes"}  # tests/fakes/ (another branch's) has six without a word yet


def test_every_fixed_wait_says_why():
    """A test waits for what happens (tests.helpers.until, the fakes' wait_for hooks). A fixed
    sleep left is part of the scenario (a client's pace, a sampling period, a negative check)
    and says so in a comment on its line or the two above; ``sleep(0)`` (one loop turn) too."""
    silent = []
    for path in suite_files():
        if path.relative_to(TESTS).parts[0] in SLEEPS_ELSEWHERE:
            continue
        lines = path.read_text().splitlines()
        silent += [
            f"{path.relative_to(ROOT)}:{node.lineno}"
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "sleep"
            and not any("#" in line for line in lines[max(0, node.lineno - 3) : node.lineno])
        ]
    assert silent == []


def test_every_package_the_bot_imports_is_installed_by_the_run_command():
    """What `pip install -e .` brings (the dependencies and theirs) covers every third-party
    import of slackgpt/: a module only the dev extra installs breaks the README's run."""
    import ast
    import re
    import sys
    import tomllib
    from importlib import metadata

    def name(requirement: str) -> str:
        return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    todo, installed = [name(r) for r in declared], set()
    while todo:
        dist = todo.pop()
        if dist in installed:
            continue
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:  # for another Python (a marker)
            continue
        installed.add(dist)
        for requirement in requires:
            if "extra ==" not in requirement or "aiohttp" in requirement:  # openai[aiohttp]
                todo.append(name(requirement))
    providers = metadata.packages_distributions()
    missing = set()
    for path in (ROOT / "slackgpt").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                       [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0
                       and node.module else [])
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in ("slackgpt", "uvloop"):
                    continue
                dists = {d.lower().replace("_", "-") for d in providers.get(top, [top])}
                if not dists & installed:
                    missing.add(f"{path.relative_to(ROOT)}: {top}")
    assert sorted(missing) == []

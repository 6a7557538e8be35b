"""The workflow list is the one place a workflow plugs in, and the modules keep their layers apart.

A workflow added to the list (here a tiny "demo" one) is wired everywhere: its listener answers signed
requests, its App Home section is drawn, its jobs reach the scheduler and `hearth jobs`, its command is in
the `hearth` CLI and its chapter is told by `hearth simulate`. Left out of the list, it is nowhere.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from slack_app import blocks
from slack_app.cli import cli_for
from slack_app.scheduling.registry import JobBook, Jobs, JobSpec
from slack_app.simulator import SlackDriver, wait_for
from slack_app.workflow import Workflow
from slack_app.workflows import WORKFLOWS
from tests.conftest import SIGNING_SECRET

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("slack_app", "handlers", "storage", "surveys")


class Demo:
    """A workflow built for this test, recording what reached it."""

    def __init__(self) -> None:
        self.clicked: list[str] = []
        self.ran: list[str] = []

    def workflow(self) -> Workflow:
        import click

        def listeners(app):
            @app.action("demo.ping")
            def on_ping(ack, body, services, slack, team_id):
                ack()
                self.clicked.append(f"{team_id}:{body['user']['id']}:{type(services).__name__}")

        @click.command("demo", help="The demo workflow's command.")
        def command():
            click.echo("demo says hello")

        def section(viewer):
            return [blocks.section(f"demo section for {viewer.user_id}", block_id="demo.home")]

        def chapter(driver, simulator, hearth):
            driver.block_action("UALICE", "demo.ping")
            return ["▸ the demo chapter"]

        return Workflow(
            name="demo",
            listeners=(listeners,),
            home=section,
            jobs=Jobs(actions={"demo.tick": lambda ctx: self.ran.append(ctx.job_id)},
                      always=[JobSpec("demo.tick", "demo.tick", every=3600)]),
            commands=(command,),
            chapter=("The demo", chapter),
        )


@pytest.fixture
def demo() -> Demo:
    return Demo()


def _serve(app_settings, db, simulator, workflows):
    from slack_app.app import build_app
    from slack_app.server import start_in_thread
    from slack_app.services import build_services

    hearth = build_app(app_settings, services=build_services(app_settings, db=db, workflows=workflows))
    return hearth, start_in_thread(hearth)


@pytest.mark.parametrize("listed", [True, False])
def test_a_listed_workflow_is_wired_everywhere_and_an_unlisted_one_nowhere(
        listed, demo, app_settings, db, simulator, tmp_path, database_url, monkeypatch):
    workflow = demo.workflow()
    workflows = (*WORKFLOWS, workflow) if listed else WORKFLOWS
    hearth, server = _serve(app_settings, db, simulator, workflows)
    try:
        driver = SlackDriver(server.events_url, SIGNING_SECRET, simulator)
        # listeners: a signed click reaches the demo's listener, with services, slack and team_id injected
        assert driver.block_action("UALICE", "demo.ping").status == 200
        assert wait_for(lambda: demo.clicked, timeout=2.0) is listed
        if listed:
            assert demo.clicked == ["T0HEARTH:UALICE:Services"]
        # App Home: the demo's section is drawn after the others
        driver.app_home_opened("UALICE")
        assert wait_for(lambda: simulator.home("UALICE") is not None)
        home_blocks = [b.get("block_id") for b in simulator.home("UALICE")["blocks"]]
        assert ("demo.home" in home_blocks) is listed
        assert "checkin.home" in home_blocks
    finally:
        server.stop()
        hearth.close()

    # jobs: the scheduler's book and `hearth jobs list` hold the demo's job
    book = JobBook(w.jobs for w in hearth.services.workflows)
    assert ("demo.tick" in book.action_names()) is listed
    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": database_url, "HEARTH_LOG_LEVEL": "WARNING", "ARCHIVE_URL": str(tmp_path / "a")}
    runner = CliRunner()
    jobs = runner.invoke(cli_for(workflows), ["jobs", "list"], env=env, catch_exceptions=False)
    assert ("demo.tick" in jobs.output) is listed and "checkins.remind_due" in jobs.output
    # the CLI: the demo's command is offered and runs
    helped = runner.invoke(cli_for(workflows), ["--help"]).output
    assert (" demo " in helped) is listed and " checkins " in helped
    if listed:
        assert runner.invoke(cli_for(workflows), ["demo"]).output == "demo says hello\n"


def test_a_listed_workflow_tells_its_chapter_in_hearth_simulate(demo, tmp_path):
    from slack_app.simulator.scenario import run_scenario

    lines = list(run_scenario(tmp_path / "var", workflows=(WORKFLOWS[0], demo.workflow())))
    assert "== Getting started" in lines and "== The demo" in lines
    assert "▸ the demo chapter" in lines
    assert wait_for(lambda: demo.clicked)  # its click went through the app the story runs
    assert "== A check-in round" not in lines  # check-ins were not listed for this run


def test_every_workflow_has_a_unique_name_and_the_list_covers_the_handler_modules():
    names = [w.name for w in WORKFLOWS]
    assert len(names) == len(set(names))
    registered = {fn.__module__ for w in WORKFLOWS for fn in w.listeners}
    handler_modules = {f"handlers.{p.stem}" for p in (ROOT / "handlers").glob("*.py")
                       if p.stem not in ("__init__", "fallbacks")}
    assert registered == handler_modules  # a listener module left out of the list would never be wired


# ---- layers ----------------------------------------------------------------------------------------------

def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def _imports(tree: ast.AST, *, module_level_only: bool) -> set[str]:
    """Modules imported by a file; at module level only, skipping `if TYPE_CHECKING:` blocks."""
    out: set[str] = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                out.add(node.module)
                out.update(f"{node.module}.{a.name}" for a in node.names)
            if not module_level_only or isinstance(node, ast.If | ast.Try):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit(getattr(node, field, []) or [])

    visit(tree.body if module_level_only else [tree])
    return out


def test_no_module_import_cycles():
    modules = _modules()
    graph = defaultdict(set)
    for name, path in modules.items():
        graph[name] = {m for m in _imports(ast.parse(path.read_text()), module_level_only=True)
                       if m in modules and m != name}
    cycles = _cycles(graph)
    assert cycles == [], f"import cycles: {cycles}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_storage_never_imports_the_app():
    offenders = {name: sorted(i for i in _imports(ast.parse(path.read_text()), module_level_only=False)
                              if i.split(".")[0] in ("slack_app", "handlers"))
                 for name, path in _modules().items() if name.startswith("storage")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_pure_rules_import_no_slack_database_or_scheduler_module():
    pure = sorted(n for n in _modules() if n.endswith(".rules") or n in ("storage.gcra",))
    assert "slack_app.checkins.rules" in pure and "slack_app.delivery.rules" in pure
    probe = ("import importlib, json, sys\n"
             f"for name in {pure!r}: importlib.import_module(name)\n"
             "heavy = ('slack_bolt', 'slack_sdk', 'sqlalchemy', 'apscheduler', 'boto3')\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []

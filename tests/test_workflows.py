"""The GitHub Actions workflows (.github/workflows/): valid against GitHub's workflow schema (the copy
vendored by check-jsonschema, so no network), actions pinned by version, least permissions, a timeout on every
job, and every command they run exists here. What only GitHub can check (runners, Pages, tokens) is not
checked here."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# the write permissions each workflow's jobs may hold, and why
ALLOWED_WRITES = {
    "publish.yml": {"deploy": {"pages", "id-token"}},                          # GitHub Pages deployment
    "gpu-execute.yml": {"execute": {"contents", "pull-requests"}},             # a pull request with the results
    "colab-drift.yml": {"drift": {"issues"}},                                   # an issue when a chapter fails
}


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))   # YAML 1.1 reads the key `on` as True
    return workflow


def run_scripts(workflow: dict) -> str:
    return "\n".join(step.get("run", "") for job in workflow["jobs"].values() for step in job.get("steps", []))


def schema_check(paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, paths)], capture_output=True, text=True)


def test_the_four_workflows_exist():
    assert {path.name for path in WORKFLOWS} == {"tests.yml", "publish.yml", "gpu-execute.yml", "colab-drift.yml"}


def test_workflows_are_valid_against_githubs_schema_and_a_broken_one_is_not(tmp_path):
    result = schema_check(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text((ROOT / ".github" / "workflows" / "tests.yml").read_text()
                      .replace("timeout-minutes:", "timeout-minute:"))
    assert schema_check([broken]).returncode != 0


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_actions_are_pinned_by_version(path):
    uses = [step["uses"] for job in load(path)["jobs"].values() for step in job.get("steps", []) if "uses" in step]
    assert uses, f"{path.name} uses no action"
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})", action), \
            f"{path.name}: {action} is not pinned to a full version (vX.Y.Z) or a commit"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_permissions_are_read_only_except_where_a_job_needs_to_write(path):
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}, f"{path.name}: the default must be contents: read"
    allowed = ALLOWED_WRITES.get(path.name, {})
    for name, job in workflow["jobs"].items():
        writes = {scope for scope, level in job.get("permissions", {}).items() if level == "write"}
        assert writes == allowed.get(name, set()), f"{path.name}, job {name}: writes {writes}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_job_has_a_timeout(path):
    for name, job in load(path)["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 600, f"{path.name}, job {name}"


def test_the_test_workflow_runs_the_readme_test_command_on_every_push():
    workflow = load(ROOT / ".github" / "workflows" / "tests.yml")
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert "bash .ci/run" in run_scripts(workflow)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "`make test`" in (ROOT / "README.md").read_text()


def test_publishing_builds_without_executing_and_only_from_main():
    workflow = load(ROOT / ".github" / "workflows" / "publish.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    scripts = run_scripts(workflow)
    assert "gancourse.cli build" in scripts and "execute" not in scripts


def test_the_drift_run_installs_what_the_chapters_install_cell_installs():
    cell = "".join(yaml.safe_load((ROOT / "notebooks" / "00_getting_started.ipynb").read_text())["cells"][1]["source"])
    requirement = re.search(r'%pip install -q "([^"]+) @ git\+', cell).group(1)
    scripts = run_scripts(load(ROOT / ".github" / "workflows" / "colab-drift.yml"))
    assert f'"{requirement} @ git+' in scripts
    assert "-p profile smoke" in scripts


def test_commands_the_workflows_run_exist():
    from gancourse.cli import build_parser

    subcommands = {name for action in build_parser()._subparsers._group_actions for name in action.choices}
    makefile = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^(\w+) *[:?]?= *(.*)$", makefile, flags=re.MULTILINE))

    def expand(text: str) -> str:
        while "$(" in text:
            text = re.sub(r"\$\((\w+)\)", lambda name: variables[name.group(1)], text)
        return text

    targets = {expand(target) for target in re.findall(r"^([\w./$()-]+):(?!=)", makefile, flags=re.MULTILINE)}
    for path in WORKFLOWS:
        scripts = run_scripts(load(path))
        for command in re.findall(r"gancourse\.cli (\S+)", scripts):
            assert command in subcommands, f"{path.name} runs gancourse {command}, which does not exist"
        for line in re.findall(r"^\s*make ([^\n]*)", scripts, flags=re.MULTILINE):
            for target in (word for word in line.split() if "=" not in word):
                assert target in targets, f"{path.name} runs make {target}, which the Makefile lacks"

"""spacectl 2.0.10, SpaceONE's command-line client, in both of its forms.

- `api`: with spaceone-api==2.0.300 installed (spacectl then resolves spaceone-core 1.9.x,
  whose client lists the services by reflection and imports each one's message classes from
  the API package);
- `reflection`: with spaceone-core==2.0.144, whose client builds every message from the
  descriptors the server publishes by reflection.

Against the current API generation only the reflection form runs (the other imports the
seeds' package), and it also changes a password with `update_password`.

Each form runs from its own venv under `target/` with a temporary HOME (spacectl keeps its
settings in ~/.spaceone), set up as a user would: `config init`, `config endpoint add`,
`config set token`. spacectl exits 0 even when a call fails and prints a line starting with
`ERROR:`, so the tests read its output.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

import tool_venvs
from conformance_support import GENERATION, PASSWORD, claims

FORMS = {"api": "spacectl-api-venv", "reflection": "spacectl-reflection-venv"}
if GENERATION == "current":
    del FORMS["api"]
TOOL_VENVS = list(FORMS.values())
CALL_SECONDS = 180
STAT_BY_STATE = {"aggregate": [{"group": {"keys": [{"key": "state", "name": "state"}],
                                          "fields": [{"operator": "count", "name": "count"}]}}]}


class Spacectl:
    """One form of spacectl with a HOME of its own, pointed at the server."""

    def __init__(self, venv: Path, home: Path):
        self.program = venv / "bin" / "spacectl"
        self.env = tool_venvs.tool_env({"HOME": str(home)})
        self.env.pop("SPACECTL_DEFAULT_ENVIRONMENT", None)

    def run(self, *args: str) -> str:
        """Runs spacectl and returns its standard output; fails on an `ERROR:` line."""
        done = subprocess.run([str(self.program), *args], env=self.env, capture_output=True,
                              text=True, timeout=CALL_SECONDS, stdin=subprocess.DEVNULL)
        command = " ".join(["spacectl", *args])
        assert done.returncode == 0, (f"`{command}` exited {done.returncode}:\n"
                                      f"{done.stdout}\n{done.stderr[-3000:]}")
        errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR:")]
        assert not errors, f"`{command}` failed:\n{done.stdout}"
        return done.stdout

    def json(self, *args: str) -> dict:
        output = self.run(*args, "-o", "json")
        try:
            return json.loads(output)
        except json.JSONDecodeError:
            pytest.fail(f"`spacectl {' '.join(args)} -o json` printed no JSON:\n{output}")

    def use_token(self, token: str) -> None:
        self.run("config", "set", "token", token)


@pytest.fixture(scope="module", params=sorted(FORMS))
def form(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def spacectl(form, world, tmp_path_factory) -> Spacectl:
    venv = tool_venvs.wait(FORMS[form])
    client = Spacectl(venv, tmp_path_factory.mktemp(f"spacectl-{form}-home"))
    client.run("config", "init", "-e", "conformance")
    client.run("config", "endpoint", "add", "identity", f"grpc://{world.server.address}")
    return client


@pytest.fixture(scope="module")
def user(form, spaceid, world) -> str:
    """A domain admin of its own per form, whose profile the tests may change."""
    user_id = f"spacectl-{form}@example.com"
    spaceid.cli("user", "create", "--domain-id", world.domain_id, "--user-id", user_id,
                "--password", PASSWORD, "--name", "Spacectl", "--email", user_id)
    spaceid.cli("role-binding", "create", "--domain-id", world.domain_id, "--user-id", user_id,
                "--role-id", "managed-domain-admin")
    return user_id


def issue_and_grant(spacectl, world, user_id: str, scope: str, *extra: str) -> tuple[dict, dict]:
    """`exec issue` then `exec grant` on identity.Token, through spacectl."""
    issued = spacectl.json("exec", "issue", "identity.Token", "-j", json.dumps({
        "credentials": {"user_id": user_id, "password": PASSWORD},
        "auth_type": "LOCAL", "domain_id": world.domain_id}))
    granted = spacectl.json(
        "exec", "grant", "identity.Token", "-p", "grant_type=REFRESH_TOKEN",
        "-p", f"token={issued['refresh_token']}", "-p", f"scope={scope}",
        "-p", f"domain_id={world.domain_id}", *extra)
    return issued, granted


@pytest.fixture(scope="module")
def tokens(spacectl, world, user) -> dict[str, str]:
    issued, domain = issue_and_grant(spacectl, world, user, "DOMAIN")
    admin_workspace = spacectl.json(
        "exec", "grant", "identity.Token", "-p", "grant_type=REFRESH_TOKEN",
        "-p", f"token={issued['refresh_token']}", "-p", "scope=WORKSPACE",
        "-p", f"domain_id={world.domain_id}", "-p", f"workspace_id={world.workspace_1}")
    _, owner = issue_and_grant(spacectl, world, world.owner.user_id, "WORKSPACE",
                               "-p", f"workspace_id={world.workspace_1}")
    return {"issued": issued, "domain": domain["access_token"],
            "admin_workspace": admin_workspace["access_token"],
            "workspace": owner["access_token"]}


def test_exec_issue_gives_access_and_refresh_tokens(tokens, world, user):
    issued = tokens["issued"]
    access, refresh = claims(issued["access_token"]), claims(issued["refresh_token"])
    assert (access["typ"], access["rol"], access["aud"]) == ("ACCESS_TOKEN", "USER", user)
    assert (refresh["typ"], refresh["aud"], refresh["did"]) == ("REFRESH_TOKEN", user,
                                                                world.domain_id)


def test_exec_grant_gives_scoped_access_tokens(tokens, world, user):
    domain, workspace = claims(tokens["domain"]), claims(tokens["workspace"])
    assert (domain["rol"], domain["aud"], domain.get("wid")) == ("DOMAIN_ADMIN", user, None)
    assert (workspace["rol"], workspace["aud"], workspace["wid"]) == (
        "WORKSPACE_OWNER", world.owner.user_id, world.workspace_1)
    admin = claims(tokens["admin_workspace"])
    assert (admin["rol"], admin["aud"], admin["wid"]) == ("WORKSPACE_OWNER", user,
                                                          world.workspace_1)


def test_user_profile_get_and_update(spacectl, tokens, user):
    spacectl.use_token(tokens["domain"])
    profile = spacectl.json("exec", "get", "identity.UserProfile")
    assert profile["user_id"] == user and profile["name"] == "Spacectl", profile

    updated = spacectl.json("exec", "update", "identity.UserProfile", "-j", json.dumps(
        {"name": "Spacectl Updated", "timezone": "Asia/Seoul", "tags": {"tool": "spacectl"}}))
    assert updated["name"] == "Spacectl Updated", updated
    assert updated["timezone"] == "Asia/Seoul", updated
    assert updated["tags"] == {"tool": "spacectl"}, updated
    again = spacectl.json("exec", "get", "identity.UserProfile")
    assert (again["name"], again["timezone"]) == ("Spacectl Updated", "Asia/Seoul"), again


def workspace_user_calls(spacectl, world, where: list[str]) -> None:
    listed = spacectl.json("list", "identity.WorkspaceUser", *where)
    by_id = {row["user_id"]: row for row in listed["results"]}
    assert {world.owner.user_id, world.member.user_id} <= set(by_id), sorted(by_id)
    assert world.plain.user_id not in by_id
    assert listed["total_count"] == len(listed["results"])
    binding = by_id[world.member.user_id]["role_binding_info"]
    assert binding["workspace_id"] == world.workspace_1, binding
    assert binding["role_type"] == "WORKSPACE_MEMBER", binding

    member = spacectl.json("get", "identity.WorkspaceUser", *where,
                           "-p", f"user_id={world.member.user_id}")
    assert member["user_id"] == world.member.user_id, member
    assert member["role_binding_info"]["workspace_id"] == world.workspace_1, member

    stat = spacectl.json("stat", "identity.WorkspaceUser", *where,
                         "-j", json.dumps({"query": STAT_BY_STATE}))
    rows = stat["results"]
    assert sum(row["count"] for row in rows) == listed["total_count"], rows


def test_workspace_user_with_a_domain_token_and_workspace_id(spacectl, tokens, world):
    spacectl.use_token(tokens["domain"])
    workspace_user_calls(spacectl, world, ["-p", f"workspace_id={world.workspace_1}"])


def test_workspace_user_with_a_workspace_token(spacectl, tokens, world):
    spacectl.use_token(tokens["workspace"])
    workspace_user_calls(spacectl, world, [])


def test_workspace_user_with_a_domain_admins_workspace_token(spacectl, tokens, world):
    # A domain admin may act in any workspace of its domain; Token.grant makes it
    # WORKSPACE_OWNER there.
    spacectl.use_token(tokens["admin_workspace"])
    listed = spacectl.json("list", "identity.WorkspaceUser")
    assert world.member.user_id in {row["user_id"] for row in listed["results"]}, listed


def test_list_with_columns_limit_and_sort(spacectl, tokens, world):
    spacectl.use_token(tokens["workspace"])
    everyone = spacectl.json("list", "identity.WorkspaceUser")
    ids = sorted(row["user_id"] for row in everyone["results"])
    assert len(ids) >= 2, ids

    output = spacectl.run("list", "identity.WorkspaceUser", "-c", "user_id,state",
                          "-l", "1", "-s", "-user_id", "-o", "csv")
    rows = list(csv.reader(io.StringIO(output.strip())))
    assert rows[0] == ["user_id", "state"], output
    assert rows[1:] == [[ids[-1], "ENABLED"]], output

    output = spacectl.run("list", "identity.WorkspaceUser", "-c", "user_id",
                          "-l", "2", "-s", "user_id", "-o", "csv")
    rows = list(csv.reader(io.StringIO(output.strip())))
    assert rows == [["user_id"], [ids[0]], [ids[1]]], output


# update_password is in the current generation's files only (the seeds' reflection publishes
# spaceone-api 2.0.300's), so only that run has this test.
if GENERATION == "current":
    def test_update_password_through_reflection(spacectl, spaceid, world):
        user_id = "spacectl-password@example.com"
        spaceid.cli("user", "create", "--domain-id", world.domain_id, "--user-id", user_id,
                    "--password", PASSWORD, "--name", "Spacectl Password")

        def sign_in(password: str) -> None:
            issued = spacectl.json("exec", "issue", "identity.Token", "-j", json.dumps({
                "credentials": {"user_id": user_id, "password": password},
                "auth_type": "LOCAL", "domain_id": world.domain_id}))
            spacectl.use_token(issued["access_token"])

        sign_in(PASSWORD)
        changed = spacectl.json("exec", "update_password", "identity.UserProfile",
                                "-p", "new_password=Spacectl-N3w!",
                                "-p", f"current_password={PASSWORD}")
        assert changed["user_id"] == user_id, changed
        # The old session ended with the change; the new password signs in.
        sign_in("Spacectl-N3w!")
        assert spacectl.json("exec", "get", "identity.UserProfile")["user_id"] == user_id

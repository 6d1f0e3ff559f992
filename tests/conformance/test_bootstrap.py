"""The admin CLI's output and the server's lifecycle."""

import re
import signal
import subprocess
import time

ID_SUFFIX = r"[0-9a-f]{12}"


def test_init_prints_domain(world):
    domain = world.bootstrap["domain"]
    assert re.fullmatch(rf"domain-{ID_SUFFIX}", domain["domain_id"]), domain
    assert domain["name"] == "conformance"
    assert domain["admin_user_id"] == "admin@example.com"


def test_workspace_and_user_and_binding_ids(world):
    for workspace in world.bootstrap["workspaces"]:
        assert re.fullmatch(rf"workspace-{ID_SUFFIX}", workspace["workspace_id"]), workspace
        assert workspace["domain_id"] == world.domain_id
    assert world.workspace_1 != world.workspace_2
    user = world.bootstrap["users"]["member"]
    assert user["user_id"] == "member@example.com"
    assert user["domain_id"] == world.domain_id
    for binding in world.bootstrap["bindings"].values():
        assert re.fullmatch(rf"rb-{ID_SUFFIX}", binding["role_binding_id"]), binding


def test_failed_command_exits_non_zero_with_one_line(spaceid, world):
    done = subprocess.run([str(spaceid.binary), "user", "create", "--domain-id", world.domain_id,
                           "--user-id", "weak@example.com", "--password", "weak"],
                          env=spaceid.env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    # Exactly one line on stderr, naming the field, and nothing on stdout.
    assert done.stdout == "", done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and "password" in lines[0], done.stderr


def test_sigterm_stops_server_promptly(spaceid, world):
    server = spaceid.serve("second")
    started = time.monotonic()
    status = server.stop()
    assert time.monotonic() - started < 5, "took more than 5 s to exit after SIGTERM"
    assert status == 0, f"exit status {status} (a graceful stop exits 0)\n{server.log_tail()}"


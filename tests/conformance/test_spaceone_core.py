"""A real SpaceONE service's check: spaceone-core 2.0.144's own authentication handler.

`SpaceONEAuthenticationHandler` is what every SpaceONE service built on spaceone-core runs on
each request: it fetches the token's domain key with `Domain.get_public_key` (through
reflection, with the service's system token) and verifies the token against it. It runs in
its own venv (`target/spaceone-core-venv`), driven by `spaceone_core_probe.py`, configured
with this server as its identity endpoint and a system token from `spaceid system-token`.

The expired and forged tokens are signed here with keys read from the server's SQLite
database (the suite owns it); on PostgreSQL those cases are skipped.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from spaceone.api.core.v2 import handler_pb2
from spaceone.api.identity.v2 import domain_pb2_grpc

import tool_venvs
from conformance_support import (PASSWORD, RPC_TIMEOUT, auth, claims, grant, issue,
                                 skip_while_unimplemented, tamper_payload)
from conftest import create_system_token

TOOL_VENVS = ["spaceone-core-venv"]
PROBE = Path(__file__).with_name("spaceone_core_probe.py")
PROBE_SECONDS = 300
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.fixture(scope="module")
def core_venv() -> Path:
    return tool_venvs.wait("spaceone-core-venv")


@pytest.fixture(scope="module", autouse=True)
def domain_service_is_served(world, system_token):
    request = handler_pb2.AuthenticationRequest(domain_id=world.domain_id)
    skip_while_unimplemented(lambda: domain_pb2_grpc.DomainStub(world.channel).get_public_key(
        request, metadata=auth(system_token["token"]), timeout=RPC_TIMEOUT))


def run_probe(core_venv: Path, world, system_token: str, **request) -> dict:
    """Runs the handler in a fresh process and returns what it printed."""
    request = {"endpoint": f"grpc://{world.server.address}", "system_token": system_token,
               **request}
    done = subprocess.run([str(core_venv / "bin" / "python"), str(PROBE)],
                          input=json.dumps(request), capture_output=True, text=True,
                          env=tool_venvs.tool_env(), timeout=PROBE_SECONDS)
    assert done.returncode == 0, f"probe exited {done.returncode}:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout)


def signing_key(spaceid, domain_id: str, purpose: str) -> str | None:
    """A domain's private key (PEM) from the server's SQLite database; None on PostgreSQL."""
    url = spaceid.env["DATABASE_URL"]
    if not url.startswith("sqlite://"):
        return None
    path = urlparse(url).path
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        row = db.execute("SELECT private_pem FROM signing_keys WHERE domain_id = ? AND purpose = ?"
                         " ORDER BY created_at DESC LIMIT 1", (domain_id, purpose)).fetchone()
    assert row, f"no {purpose} key for {domain_id}"
    return row[0]


@pytest.fixture(scope="module")
def other_domain(spaceid, world) -> dict:
    domain = spaceid.cli("init", "--domain-name", "conformance-other", "--admin-user-id",
                         "admin@other.example.com", "--admin-password", PASSWORD)
    refresh = issue(world.channel, domain["domain_id"], "admin@other.example.com").refresh_token
    domain["access_token"] = grant(world.channel, refresh, "DOMAIN", domain["domain_id"]).access_token
    return domain


@pytest.fixture(scope="module")
def tokens(world) -> dict[str, str]:
    admin = issue(world.channel, world.domain_id, world.admin.user_id)
    member = issue(world.channel, world.domain_id, world.member.user_id)
    return {
        "user": admin.access_token,
        "domain": grant(world.channel, admin.refresh_token, "DOMAIN", world.domain_id).access_token,
        "workspace": grant(world.channel, member.refresh_token, "WORKSPACE", world.domain_id,
                           world.workspace_1).access_token,
        "refresh": admin.refresh_token,
    }


@pytest.fixture(scope="module")
def verdicts(core_venv, spaceid, world, system_token, tokens, other_domain) -> dict:
    """One run of the handler over every case of this module."""
    now = int(time.time())
    base = claims(tokens["domain"])
    sign = {}
    own_key = signing_key(spaceid, world.domain_id, "ACCESS")
    other_key = signing_key(spaceid, other_domain["domain_id"], "ACCESS")
    if own_key and other_key:
        sign = {
            # Signed like the server's own (same key, same claims): shows the signing is right.
            "resigned": {"private_pem": own_key, "claims": {**base, "iat": now - 10,
                                                            "exp": now + 600}},
            "expired": {"private_pem": own_key, "claims": {**base, "iat": now - 7200,
                                                           "exp": now - 3600}},
            "forged": {"private_pem": other_key, "claims": {**base, "iat": now - 10,
                                                            "exp": now + 600}},
        }
    other_token = other_domain["access_token"]
    return run_probe(
        core_venv, world, system_token["token"],
        tokens={**tokens, "other_domain": other_token,
                "rewritten_did": tamper_payload(other_token, did=world.domain_id)},
        sign=sign,
        public_keys=[world.domain_id, other_domain["domain_id"]],
    )


def accepted(verdicts: dict, name: str) -> dict:
    verdict = verdicts["verified"][name]
    assert verdict["ok"], f"spaceone-core refused the {name} token: {verdict}"
    return verdict


def refused(verdicts: dict, name: str) -> dict:
    verdict = verdicts["verified"].get(name)
    if verdict is None:
        pytest.skip("needs the signing keys from a SQLite database")
    assert not verdict["ok"], f"spaceone-core accepted the {name} token: {verdict}"
    assert verdict["error_code"] == "ERROR_AUTHENTICATE_FAILURE", verdict
    return verdict


def test_system_token_carries_the_system_claims(system_token):
    assert set(system_token) >= {"token", "jti", "expires_at"}
    body = claims(system_token["token"])
    assert body["typ"] == "SYSTEM_TOKEN"
    assert body["own"] == "SYSTEM"
    assert body["did"] == "domain-root"
    assert body["iss"] == "spaceone.identity"
    assert body["ver"] == "2.0"
    assert body["jti"] == system_token["jti"]
    assert isinstance(body["exp"], int) and body["exp"] > time.time()


def test_public_key_is_one_bare_public_rsa_jwk(verdicts, world, other_domain):
    keys = {}
    for domain_id in (world.domain_id, other_domain["domain_id"]):
        answer = verdicts["public_keys"][domain_id]
        assert answer["ok"], answer
        assert answer["response"]["domain_id"] == domain_id
        key = json.loads(answer["response"]["public_key"])
        assert key["kty"] == "RSA" and key["n"] and key["e"], key
        assert "keys" not in key and key.get("use", "sig") == "sig", key
        assert not PRIVATE_JWK_MEMBERS & set(key), f"private members published: {sorted(key)}"
        keys[domain_id] = key["n"]
    assert keys[world.domain_id] != keys[other_domain["domain_id"]]


def test_accepts_a_user_access_token(verdicts, world):
    verdict = accepted(verdicts, "user")
    assert verdict["role_type"] == "USER"
    assert verdict["token_type"] == "ACCESS_TOKEN"
    assert verdict["owner_type"] == "USER"
    assert verdict["domain_id"] == world.domain_id
    assert verdict["user_id"] == world.admin.user_id
    assert verdict["workspace_id"] is None


def test_accepts_a_domain_access_token(verdicts, world):
    verdict = accepted(verdicts, "domain")
    assert verdict["role_type"] == "DOMAIN_ADMIN"
    assert verdict["domain_id"] == world.domain_id
    assert verdict["user_id"] == world.admin.user_id
    assert verdict["workspace_id"] is None


def test_accepts_a_workspace_access_token(verdicts, world):
    verdict = accepted(verdicts, "workspace")
    assert verdict["role_type"] == "WORKSPACE_MEMBER"
    assert verdict["domain_id"] == world.domain_id
    assert verdict["user_id"] == world.member.user_id
    assert verdict["workspace_id"] == world.workspace_1


def test_accepts_another_domains_token_for_that_domain(verdicts, other_domain):
    verdict = accepted(verdicts, "other_domain")
    assert verdict["role_type"] == "DOMAIN_ADMIN"
    assert verdict["domain_id"] == other_domain["domain_id"]
    assert verdict["user_id"] == "admin@other.example.com"


def test_refuses_a_refresh_token(verdicts):
    refused(verdicts, "refresh")


def test_refuses_another_domains_token_renamed_to_this_domain(verdicts):
    refused(verdicts, "rewritten_did")


def test_a_token_signed_with_this_domains_key_passes(verdicts, world):
    if "resigned" not in verdicts["verified"]:
        pytest.skip("needs the signing keys from a SQLite database")
    verdict = accepted(verdicts, "resigned")
    assert verdict["role_type"] == "DOMAIN_ADMIN"
    assert verdict["domain_id"] == world.domain_id


def test_refuses_an_expired_token(verdicts):
    refused(verdicts, "expired")


def test_refuses_a_token_signed_with_another_domains_key(verdicts):
    refused(verdicts, "forged")


def test_revoked_system_token_can_no_longer_fetch_a_key(core_venv, spaceid, world, tokens):
    revocable = create_system_token(spaceid, "conformance-revocable")
    before = run_probe(core_venv, world, revocable["token"], tokens={"user": tokens["user"]})
    assert before["verified"]["user"]["ok"], before

    listed = spaceid.cli("system-token", "list")
    assert revocable["jti"] in json.dumps(listed), listed
    spaceid.cli("system-token", "revoke", revocable["jti"])

    # A fresh process: spaceone-core would otherwise answer from its 5-minute key cache.
    after = run_probe(core_venv, world, revocable["token"], tokens={"user": tokens["user"]},
                      public_keys=[world.domain_id])
    assert not after["verified"]["user"]["ok"], after
    assert not after["public_keys"][world.domain_id]["ok"], after

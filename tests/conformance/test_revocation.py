"""README "Tokens": `permissions` narrow a token, revocation is exact (`acc`, `cvr`), and a
forged `kid` or `did` is answered like a bad signature.

Every test that changes an account works on users it creates for itself through the admin
CLI, while the session's server is running, so no other test sees the change.
"""

import re
import time
import uuid

import grpc
import pytest

from conformance_support import (PASSWORD, break_signature, claims, describe, get, grant, issue,
                                 jwt_parts, rpc_error, tamper_header, tamper_payload, update)

HEX32 = re.compile(r"^[0-9a-f]{32}$")
NEW_PASSWORD = "N3wPassw0rd!z"


def new_user(spaceid, world, label: str) -> str:
    """A user of its own for one test (or module), created through the admin CLI."""
    user_id = f"{label}-{uuid.uuid4().hex[:8]}@example.com"
    create_user(spaceid, world, user_id)
    return user_id


def create_user(spaceid, world, user_id: str) -> dict:
    created = spaceid.cli("user", "create", "--domain-id", world.domain_id, "--user-id", user_id,
                          "--password", PASSWORD, "--name", "Revocation", "--email", user_id)
    assert created["user_id"] == user_id, created
    assert created["state"] == "ENABLED", created
    return created


def admin(spaceid, world, action: str, user_id: str) -> dict:
    """`spaceid user disable|enable|delete`, checked against the one JSON object it prints."""
    printed = spaceid.cli("user", action, "--domain-id", world.domain_id, "--user-id", user_id)
    assert printed["user_id"] == user_id, printed
    assert printed["domain_id"] == world.domain_id, printed
    expected = {"disable": ("state", "DISABLED"), "enable": ("state", "ENABLED"),
                "delete": ("deleted", True)}[action]
    assert printed.get(expected[0]) == expected[1], printed
    return printed


def assert_unauthenticated(error):
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, describe(error)
    assert error.details().startswith("ERROR_AUTHENTICATE_FAILURE"), describe(error)


def assert_refused(world, tokens):
    """Neither the access token (UserProfile.get) nor the refresh token (Token.grant) works."""
    assert_unauthenticated(rpc_error(get, world.channel, tokens.access_token))
    assert_unauthenticated(rpc_error(grant, world.channel, tokens.refresh_token, "USER",
                                     world.domain_id))


# How long the server may serve a user record it read before a change made by another
# process, such as the admin CLI (README "What verification keeps in memory"), with slack.
CACHE_BOUND_SECONDS = 1.0 + 0.5


def assert_refused_within_the_bound(world, tokens):
    """After a change made through the admin CLI, the tokens are refused within the bound,
    and then for good."""
    changed = time.monotonic()
    while True:
        try:
            get(world.channel, tokens.access_token)
        except grpc.RpcError:
            break
        waited = time.monotonic() - changed
        assert waited < CACHE_BOUND_SECONDS, f"still served {waited:.2f} s after the change"
        time.sleep(0.02)
    assert_refused(world, tokens)


def assert_working(world, tokens, user_id):
    assert get(world.channel, tokens.access_token).user_id == user_id
    granted = grant(world.channel, tokens.refresh_token, "USER", world.domain_id)
    assert get(world.channel, granted.access_token).user_id == user_id


# --- permissions --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def narrowed(spaceid, world):
    """A user of its own and its refresh token, to grant narrowed access tokens from."""
    user_id = new_user(spaceid, world, "narrowed")
    return user_id, issue(world.channel, world.domain_id, user_id).refresh_token


def narrowed_token(world, narrowed, permissions):
    info = grant(world.channel, narrowed[1], "USER", world.domain_id, permissions=permissions)
    assert claims(info.access_token).get("permissions") == permissions, claims(info.access_token)
    return info.access_token


def test_read_permission_allows_get(world, narrowed):
    token = narrowed_token(world, narrowed, ["identity:UserProfile.read"])
    assert get(world.channel, token).user_id == narrowed[0]


def test_read_permission_denies_update(world, narrowed):
    token = narrowed_token(world, narrowed, ["identity:UserProfile.read"])
    before = get(world.channel, token).name
    error = rpc_error(update, world.channel, token, name="Not Allowed")
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, describe(error)
    assert error.details().startswith("ERROR_PERMISSION_DENIED"), describe(error)
    assert get(world.channel, token).name == before


def test_write_permission_allows_update_but_not_get(world, narrowed):
    token = narrowed_token(world, narrowed, ["identity:UserProfile.write"])
    assert update(world.channel, token, name="Written").name == "Written"
    error = rpc_error(get, world.channel, token)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, describe(error)
    assert error.details().startswith("ERROR_PERMISSION_DENIED"), describe(error)


def test_service_permission_allows_get_and_update(world, narrowed):
    token = narrowed_token(world, narrowed, ["identity:UserProfile"])
    assert update(world.channel, token, name="Whole Service").name == "Whole Service"
    assert get(world.channel, token).name == "Whole Service"


def test_permission_for_another_service_denies_get(world, narrowed):
    token = narrowed_token(world, narrowed, ["identity:WorkspaceUser.read"])
    error = rpc_error(get, world.channel, token)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, describe(error)
    assert error.details().startswith("ERROR_PERMISSION_DENIED"), describe(error)


def test_the_largest_permissions_grant_gives_a_token_that_works(world, narrowed):
    # 100 entries, 4,000 bytes in all (the limit is 4,096), one of 200 characters.
    permissions = ["identity:UserProfile.read".ljust(200, "x")] + [
        f"identity:UserProfile.{index:03d}".ljust(38, "x") for index in range(99)]
    assert len(permissions) == 100 and sum(map(len, permissions)) <= 4096
    info = grant(world.channel, narrowed[1], "USER", world.domain_id, permissions=permissions)
    assert claims(info.access_token).get("permissions") == permissions
    error = rpc_error(get, world.channel, info.access_token)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, describe(error)
    usable = grant(world.channel, narrowed[1], "USER", world.domain_id,
                   permissions=permissions[1:] + ["identity:UserProfile.read"]).access_token
    assert get(world.channel, usable).user_id == narrowed[0]


@pytest.mark.parametrize("permissions", [
    pytest.param([f"identity:UserProfile.{index}" for index in range(101)], id="101-entries"),
    pytest.param(["identity:UserProfile.read".ljust(201, "x")], id="201-characters"),
    pytest.param(["identity:UserProfile.read".ljust(200, "x")] * 21, id="4200-bytes"),
    pytest.param(["identity:UserProfile.read", ""], id="empty-entry"),
])
def test_grant_refuses_bad_permissions(world, narrowed, permissions):
    error = rpc_error(grant, world.channel, narrowed[1], "USER", world.domain_id,
                      permissions=permissions)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, describe(error)
    assert error.details().startswith("ERROR_INVALID_PARAMETER"), describe(error)
    assert "permissions" in error.details(), describe(error)


# --- disable, enable, delete from the admin CLI -------------------------------------------


def test_disable_ends_tokens_within_a_second(spaceid, world):
    user_id = new_user(spaceid, world, "disable")
    tokens = issue(world.channel, world.domain_id, user_id)
    granted = grant(world.channel, tokens.refresh_token, "USER", world.domain_id).access_token
    assert_working(world, tokens, user_id)

    admin(spaceid, world, "disable", user_id)

    assert_refused_within_the_bound(world, tokens)
    assert_unauthenticated(rpc_error(get, world.channel, granted))
    # The right password does not get a disabled user in.
    assert_unauthenticated(rpc_error(issue, world.channel, world.domain_id, user_id))


def test_enable_does_not_revive_old_tokens(spaceid, world):
    user_id = new_user(spaceid, world, "enable")
    old = issue(world.channel, world.domain_id, user_id)
    admin(spaceid, world, "disable", user_id)
    admin(spaceid, world, "enable", user_id)

    assert_refused_within_the_bound(world, old)
    fresh = issue(world.channel, world.domain_id, user_id)
    assert_working(world, fresh, user_id)
    assert claims(fresh.access_token)["acc"] == claims(old.access_token)["acc"]
    assert claims(fresh.access_token)["cvr"] > claims(old.access_token)["cvr"]
    # The new sign-in does not bring the old tokens back either.
    assert_refused(world, old)


def test_delete_and_recreate_refuses_old_tokens(spaceid, world):
    user_id = new_user(spaceid, world, "delete")
    old = issue(world.channel, world.domain_id, user_id)
    assert_working(world, old, user_id)

    admin(spaceid, world, "delete", user_id)
    assert_refused_within_the_bound(world, old)

    create_user(spaceid, world, user_id)
    assert_refused(world, old)
    fresh = issue(world.channel, world.domain_id, user_id)
    assert_working(world, fresh, user_id)
    # Another account under the same user_id.
    assert claims(fresh.access_token)["acc"] != claims(old.access_token)["acc"]
    assert_refused(world, old)


# --- acc, cvr and kid ---------------------------------------------------------------------


def test_tokens_carry_account_and_credential_version(spaceid, world):
    user_id = new_user(spaceid, world, "claims")
    tokens = issue(world.channel, world.domain_id, user_id)
    granted = grant(world.channel, tokens.refresh_token, "USER", world.domain_id).access_token
    stamps = set()
    for token in (tokens.access_token, tokens.refresh_token, granted):
        payload = claims(token)
        assert isinstance(payload.get("acc"), str) and HEX32.fullmatch(payload["acc"]), payload
        assert type(payload.get("cvr")) is int, f"cvr must be an integer: {payload}"
        stamps.add((payload["acc"], payload["cvr"]))
    assert len(stamps) == 1, f"one account, one credential version: {stamps}"


def test_every_account_has_its_own_acc(spaceid, world):
    first = issue(world.channel, world.domain_id, new_user(spaceid, world, "acc"))
    second = issue(world.channel, world.domain_id, new_user(spaceid, world, "acc"))
    assert claims(first.access_token)["acc"] != claims(second.access_token)["acc"]


def test_password_change_increments_cvr(spaceid, world):
    user_id = new_user(spaceid, world, "cvr")
    old = issue(world.channel, world.domain_id, user_id)
    update(world.channel, old.access_token, password=NEW_PASSWORD)

    assert_refused(world, old)
    fresh = issue(world.channel, world.domain_id, user_id, NEW_PASSWORD)
    before, after = claims(old.access_token), claims(fresh.access_token)
    assert after["cvr"] == before["cvr"] + 1, (before, after)
    assert after["acc"] == before["acc"], (before, after)
    assert claims(fresh.refresh_token)["cvr"] == after["cvr"], claims(fresh.refresh_token)
    assert_working(world, fresh, user_id)


def test_kid_names_the_signing_key(world, other_domain):
    first = issue(world.channel, world.domain_id, world.member.user_id)
    second = issue(world.channel, world.domain_id, world.plain.user_id)
    granted = grant(world.channel, first.refresh_token, "USER", world.domain_id).access_token
    kids = {}
    for name, token in [("access", first.access_token), ("access", second.access_token),
                        ("access", granted), ("refresh", first.refresh_token),
                        ("refresh", second.refresh_token)]:
        header = jwt_parts(token)[0]
        assert header.get("alg") == "RS256", header
        assert isinstance(header.get("kid"), str) and header["kid"], header
        kids.setdefault(name, set()).add(header["kid"])
    # One key signs every access token of the domain, another every refresh token.
    assert len(kids["access"]) == 1 and len(kids["refresh"]) == 1, kids
    assert kids["access"] != kids["refresh"], kids
    # Another domain has keys of its own.
    other = issue(world.channel, other_domain["domain_id"], other_domain["admin_user_id"])
    other_kids = {jwt_parts(other.access_token)[0]["kid"], jwt_parts(other.refresh_token)[0]["kid"]}
    assert len(other_kids) == 2, other_kids
    assert not other_kids & (kids["access"] | kids["refresh"]), (other_kids, kids)


# --- forged kid and did -------------------------------------------------------------------


@pytest.fixture(scope="module")
def genuine(world):
    return issue(world.channel, world.domain_id, world.member.user_id)


@pytest.fixture(scope="module")
def other_domain(spaceid):
    """A second domain of the same database, with keys of its own."""
    return spaceid.cli("init", "--domain-name", "revocation-other", "--admin-user-id",
                       "other@example.com", "--admin-password", PASSWORD)


def present(world, kind, token):
    """What a client sees when it uses `token` as an access token or as a refresh token."""
    if kind == "access":
        return rpc_error(get, world.channel, token)
    # The request names the domain the token claims, so only the token itself is at fault.
    return rpc_error(grant, world.channel, token, "USER", claims(token)["did"])


def forgeries(genuine_token, other_domain_id):
    kid = jwt_parts(genuine_token)[0]["kid"]
    return {
        "made-up kid": tamper_header(genuine_token, kid=f"{kid}-made-up"),
        "random kid": tamper_header(genuine_token, kid=uuid.uuid4().hex),
        "unknown did": tamper_payload(genuine_token, did="domain-000000000000"),
        "other domain's did": tamper_payload(genuine_token, did=other_domain_id),
    }


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_forged_kid_or_did_is_answered_like_a_bad_signature(world, genuine, other_domain, kind):
    token = genuine.access_token if kind == "access" else genuine.refresh_token
    bad_signature = present(world, kind, break_signature(token))
    assert_unauthenticated(bad_signature)
    for name, forged in forgeries(token, other_domain["domain_id"]).items():
        error = present(world, kind, forged)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, f"{name}: {describe(error)}"
        assert error.details() == bad_signature.details(), (
            f"{name}: {error.details()!r} != bad signature's {bad_signature.details()!r}")
    # The genuine token still works: the forgeries changed nothing.
    assert present_ok(world, kind, token)


def present_ok(world, kind, token):
    if kind == "access":
        return get(world.channel, token).user_id == world.member.user_id
    return bool(grant(world.channel, token, "USER", world.domain_id).access_token)

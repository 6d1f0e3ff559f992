"""Token.issue and Token.grant: the JWT contract of behaviour.md."""

import re
import time

import grpc
import pytest
from spaceone.api.identity.v2 import token_pb2

from conformance_support import PASSWORD, claims, describe, grant, issue, jwt_parts, rpc_error

JTI = re.compile(r"^[0-9a-f]{32}$")
RoleType = token_pb2.GrantTokenInfo.RoleType


def assert_token_contract(token, world, user_id, typ):
    """The claims every token carries, and returns them."""
    header, payload = jwt_parts(token)
    assert header.get("alg") == "RS256", header
    assert payload.get("iss") == "spaceone.identity", payload
    assert payload.get("typ") == typ, payload
    assert payload.get("own") == "USER", payload
    assert payload.get("did") == world.domain_id, payload
    assert payload.get("aud") == user_id, payload
    assert isinstance(payload.get("jti"), str) and JTI.fullmatch(payload["jti"]), payload
    for name in ("iat", "exp"):
        assert type(payload.get(name)) is int, f"{name} must be an integer: {payload}"
    assert payload["exp"] > payload["iat"]
    assert abs(payload["iat"] - time.time()) < 300, payload
    assert payload.get("ver") == "2.0", payload
    for name in ("permissions", "injected_params"):
        assert payload.get(name, "absent") != [] and payload.get(name, "absent") != {}, (
            f"{name} must be left out when empty: {payload}")
    return payload


@pytest.fixture(scope="module")
def admin_tokens(world):
    return issue(world.channel, world.domain_id, world.admin.user_id)


@pytest.fixture(scope="module")
def member_refresh(world):
    return issue(world.channel, world.domain_id, world.member.user_id).refresh_token


# --- issue ------------------------------------------------------------------------------


def test_issue_returns_access_and_refresh_tokens(admin_tokens):
    assert admin_tokens.access_token
    assert admin_tokens.refresh_token
    assert admin_tokens.access_token != admin_tokens.refresh_token


def test_access_token_claims(world, admin_tokens):
    payload = assert_token_contract(admin_tokens.access_token, world, world.admin.user_id,
                                    "ACCESS_TOKEN")
    assert payload.get("rol") == "USER", payload
    assert payload["exp"] - payload["iat"] == 1800, payload
    assert "wid" not in payload, payload


def test_refresh_token_claims(world, admin_tokens):
    payload = assert_token_contract(admin_tokens.refresh_token, world, world.admin.user_id,
                                    "REFRESH_TOKEN")
    assert payload["exp"] - payload["iat"] == 10800, payload


def test_every_token_has_its_own_jti(world, admin_tokens):
    again = issue(world.channel, world.domain_id, world.admin.user_id)
    jtis = {claims(token)["jti"] for token in (admin_tokens.access_token, admin_tokens.refresh_token,
                                                again.access_token, again.refresh_token)}
    assert len(jtis) == 4, jtis


def test_requested_timeout_is_honoured(world):
    payload = claims(issue(world.channel, world.domain_id, world.member.user_id,
                           timeout=3600).access_token)
    assert payload["exp"] - payload["iat"] == 3600, payload


def test_requested_timeout_is_capped_at_a_week(world):
    payload = claims(issue(world.channel, world.domain_id, world.member.user_id,
                           timeout=10_000_000).access_token)
    assert payload["exp"] - payload["iat"] == 604800, payload


def test_wrong_password_and_unknown_user_fail_alike(world):
    wrong = rpc_error(issue, world.channel, world.domain_id, world.admin.user_id, "Wr0ngPassw0rd!")
    unknown = rpc_error(issue, world.channel, world.domain_id, "nobody@example.com", PASSWORD)
    for error in (wrong, unknown):
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, describe(error)
        assert error.details().startswith("ERROR_AUTHENTICATE_FAILURE"), describe(error)
    # The text may name the user_id it was given; apart from that it must not tell them apart.
    assert (wrong.details().replace(world.admin.user_id, "<user>")
            == unknown.details().replace("nobody@example.com", "<user>")), (
        f"{wrong.details()!r} != {unknown.details()!r}")


# --- grant ------------------------------------------------------------------------------


def assert_granted(world, info, user_id, rol, workspace_id=None):
    payload = assert_token_contract(info.access_token, world, user_id, "ACCESS_TOKEN")
    assert payload.get("rol") == rol, payload
    assert info.role_type == RoleType.Value(rol), info
    assert info.domain_id == world.domain_id, info
    if workspace_id is None:
        assert "wid" not in payload, payload
    else:
        assert payload.get("wid") == workspace_id, payload
        assert info.workspace_id == workspace_id, info
    return payload


def test_grant_domain_scope_to_domain_admin(world, admin_tokens):
    info = grant(world.channel, admin_tokens.refresh_token, "DOMAIN", world.domain_id)
    assert_granted(world, info, world.admin.user_id, "DOMAIN_ADMIN")
    assert info.role_id == "managed-domain-admin", info


def test_grant_workspace_scope_to_domain_admin_is_owner(world, admin_tokens):
    info = grant(world.channel, admin_tokens.refresh_token, "WORKSPACE", world.domain_id,
                 world.workspace_2)
    assert_granted(world, info, world.admin.user_id, "WORKSPACE_OWNER", world.workspace_2)


def test_grant_workspace_scope_to_member(world, member_refresh):
    info = grant(world.channel, member_refresh, "WORKSPACE", world.domain_id, world.workspace_1)
    assert_granted(world, info, world.member.user_id, "WORKSPACE_MEMBER", world.workspace_1)
    assert info.role_id == "managed-workspace-member", info


def test_grant_workspace_scope_to_owner(world):
    refresh = issue(world.channel, world.domain_id, world.owner.user_id).refresh_token
    info = grant(world.channel, refresh, "WORKSPACE", world.domain_id, world.workspace_1)
    assert_granted(world, info, world.owner.user_id, "WORKSPACE_OWNER", world.workspace_1)
    assert info.role_id == "managed-workspace-owner", info


def test_grant_unbound_workspace_is_denied(world, member_refresh):
    error = rpc_error(grant, world.channel, member_refresh, "WORKSPACE", world.domain_id,
                      world.workspace_2)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, describe(error)
    assert error.details().startswith("ERROR_"), describe(error)


def test_grant_domain_scope_to_non_admin_is_denied(world, member_refresh):
    error = rpc_error(grant, world.channel, member_refresh, "DOMAIN", world.domain_id)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, describe(error)
    assert error.details().startswith("ERROR_"), describe(error)


def test_grant_user_scope(world):
    refresh = issue(world.channel, world.domain_id, world.plain.user_id).refresh_token
    info = grant(world.channel, refresh, "USER", world.domain_id)
    assert_granted(world, info, world.plain.user_id, "USER")


def test_grant_user_scope_to_domain_admin_is_user(world, admin_tokens):
    info = grant(world.channel, admin_tokens.refresh_token, "USER", world.domain_id)
    assert_granted(world, info, world.admin.user_id, "USER")


def test_grant_rejects_an_access_token(world, admin_tokens):
    error = rpc_error(grant, world.channel, admin_tokens.access_token, "DOMAIN", world.domain_id)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, describe(error)


def test_grant_rejects_a_garbage_token(world):
    error = rpc_error(grant, world.channel, "not.a.jwt", "USER", world.domain_id)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, describe(error)

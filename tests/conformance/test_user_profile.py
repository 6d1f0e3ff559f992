"""UserProfile.get, update and get_workspaces through the published stubs, in either API
generation (a new password goes through `change_password`)."""

import grpc
import pytest
from spaceone.api.identity.v2 import user_pb2, user_profile_pb2

from conformance_support import (ISO_MILLIS, PASSWORD, RPC_TIMEOUT, auth, change_password, claims,
                                 describe, get, grant, issue, profile, rpc_error,
                                 skip_while_unimplemented, struct, struct_to_dict, tamper_payload,
                                 update)

UserInfo = user_pb2.UserInfo


def access(world, user):
    return issue(world.channel, world.domain_id, user.user_id, user.password).access_token


@pytest.fixture(scope="module")
def admin_tokens(world):
    return issue(world.channel, world.domain_id, world.admin.user_id)


# --- get --------------------------------------------------------------------------------


def test_get_returns_the_domain_admin(world, admin_tokens):
    info = get(world.channel, admin_tokens.access_token)
    assert info.user_id == world.admin.user_id
    assert info.domain_id == world.domain_id
    assert info.name == "Admin"
    assert info.email == "admin@example.com"
    assert info.state == UserInfo.State.ENABLED
    assert info.auth_type == user_pb2.AuthType.LOCAL
    assert info.role_type == UserInfo.RoleType.DOMAIN_ADMIN
    assert ISO_MILLIS.fullmatch(info.created_at), info.created_at
    # The admin signed in (admin_tokens) before this call.
    assert ISO_MILLIS.fullmatch(info.last_accessed_at), info.last_accessed_at
    assert info.last_accessed_at >= info.created_at, (info.created_at, info.last_accessed_at)


def test_get_returns_a_plain_user(world):
    info = get(world.channel, access(world, world.member))
    assert info.user_id == world.member.user_id
    assert info.domain_id == world.domain_id
    assert info.role_type == UserInfo.RoleType.USER
    assert info.state == UserInfo.State.ENABLED


def test_get_with_a_granted_token(world, admin_tokens):
    token = grant(world.channel, admin_tokens.refresh_token, "DOMAIN", world.domain_id).access_token
    assert get(world.channel, token).user_id == world.admin.user_id


def test_get_without_token_is_unauthenticated(world):
    error = rpc_error(profile(world.channel).get, user_profile_pb2.UserProfileRequest(),
                      timeout=RPC_TIMEOUT)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, describe(error)
    assert error.details().startswith("ERROR_"), describe(error)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_get_with_malformed_token_is_unauthenticated(world, token):
    error = rpc_error(get, world.channel, token)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, describe(error)


def test_get_with_refresh_token_is_unauthenticated(world, admin_tokens):
    error = rpc_error(get, world.channel, admin_tokens.refresh_token)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, describe(error)


def test_get_with_tampered_token_is_unauthenticated(world, admin_tokens):
    forged = tamper_payload(admin_tokens.access_token, aud=world.member.user_id)
    error = rpc_error(get, world.channel, forged)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, describe(error)


# --- update -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def profile_token(world):
    return access(world, world.profile)


def test_update_changes_and_get_sees_it(world, profile_token):
    tags = {"team": "conformance", "level": 3, "nested": {"list": [1, "two", True], "none": None}}
    returned = update(world.channel, profile_token, name="Renamed Person", language="ko",
                      timezone="Asia/Seoul", tags=struct(tags))
    seen = get(world.channel, profile_token)
    for info in (returned, seen):
        assert info.user_id == world.profile.user_id
        assert info.name == "Renamed Person"
        assert info.language == "ko"
        assert info.timezone == "Asia/Seoul"
        assert struct_to_dict(info.tags) == tags


def test_update_changes_only_fields_that_are_set(world, profile_token):
    update(world.channel, profile_token, name="Before Partial", timezone="Europe/Paris")
    returned = update(world.channel, profile_token, language="ja")
    assert returned.language == "ja"
    assert returned.name == "Before Partial"
    assert returned.timezone == "Europe/Paris"
    assert get(world.channel, profile_token).name == "Before Partial"


def test_update_rejects_an_unknown_timezone(world, profile_token):
    before = get(world.channel, profile_token).timezone
    error = rpc_error(update, world.channel, profile_token, timezone="Mars/Base")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, describe(error)
    assert error.details().startswith("ERROR_"), describe(error)
    assert "timezone" in error.details(), describe(error)
    assert get(world.channel, profile_token).timezone == before


def test_update_rejects_a_malformed_email(world, profile_token):
    error = rpc_error(update, world.channel, profile_token, email="not-an-email")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, describe(error)
    assert "email" in error.details(), describe(error)


@pytest.mark.parametrize("weak", ["Sh0rt!", "alllowercase1", "ALLUPPERCASE1", "NoDigitsHere"])
def test_update_rejects_a_weak_password(world, profile_token, weak):
    error = rpc_error(change_password, world.channel, profile_token, weak)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, describe(error)
    assert error.details().startswith("ERROR_"), describe(error)
    assert "password" in error.details(), describe(error)
    # The old password still works.
    assert access(world, world.profile)


def test_update_rejects_the_current_password(world, profile_token):
    error = rpc_error(change_password, world.channel, profile_token, PASSWORD)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, describe(error)
    assert "password" in error.details(), describe(error)


def test_update_email_marks_it_unverified(world, profile_token):
    returned = update(world.channel, profile_token, email="new.address@example.com")
    seen = get(world.channel, profile_token)
    for info in (returned, seen):
        assert info.email == "new.address@example.com"
        assert info.email_verified is False


def test_password_change_revokes_old_tokens(world):
    user = world.password_change
    old = issue(world.channel, world.domain_id, user.user_id, user.password)
    new_password = "N3wPassw0rd!y"
    change_password(world.channel, old.access_token, new_password)

    error = rpc_error(get, world.channel, old.access_token)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, describe(error)

    error = rpc_error(issue, world.channel, world.domain_id, user.user_id, user.password)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, describe(error)

    fresh = issue(world.channel, world.domain_id, user.user_id, new_password)
    assert claims(fresh.access_token)["aud"] == user.user_id
    assert get(world.channel, fresh.access_token).user_id == user.user_id


# --- get_workspaces ---------------------------------------------------------------------


def my_workspaces(world, token):
    return profile(world.channel).get_workspaces(user_profile_pb2.UserProfileRequest(),
                                                 metadata=auth(token), timeout=RPC_TIMEOUT)


@pytest.fixture
def get_workspaces_is_served(world):
    skip_while_unimplemented(lambda: profile(world.channel).get_workspaces(
        user_profile_pb2.UserProfileRequest(), timeout=RPC_TIMEOUT))


@pytest.mark.usefixtures("get_workspaces_is_served")
def test_get_workspaces_for_domain_admin_lists_all(world, admin_tokens):
    info = my_workspaces(world, admin_tokens.access_token)
    assert {w.workspace_id for w in info.results} == {world.workspace_1, world.workspace_2}
    assert info.total_count == 2


@pytest.mark.usefixtures("get_workspaces_is_served")
def test_get_workspaces_for_member(world):
    info = my_workspaces(world, access(world, world.member))
    assert [w.workspace_id for w in info.results] == [world.workspace_1]
    workspace = info.results[0]
    assert workspace.name == "One"
    assert workspace.domain_id == world.domain_id
    assert workspace.state == user_profile_pb2.MyWorkspaceInfo.State.ENABLED
    assert workspace.role_id == "managed-workspace-member"
    assert workspace.role_type == user_profile_pb2.MyWorkspaceInfo.RoleType.WORKSPACE_MEMBER
    assert ISO_MILLIS.fullmatch(workspace.created_at), workspace.created_at


@pytest.mark.usefixtures("get_workspaces_is_served")
def test_get_workspaces_for_unbound_user_is_empty(world):
    info = my_workspaces(world, access(world, world.plain))
    assert list(info.results) == []
    assert info.total_count == 0

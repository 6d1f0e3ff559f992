"""The current API generation (spaceone-api 2.0.435) as its own clients use it: `update`
without a password, `update_password`, `find` by `auth_type`, ENFORCE_MFA, and the query
fields it added. Collected only when the server speaks that generation (see conftest.py).
"""

import grpc
import pytest
from spaceone.api.core.v2 import query_pb2
from spaceone.api.identity.v2 import (user_pb2, user_profile_pb2, workspace_user_pb2,
                                      workspace_user_pb2_grpc)

from conformance_support import (PASSWORD, RPC_TIMEOUT, auth, describe, get, grant, issue,
                                 profile, rpc_error, update)

NEW_PASSWORD = "N3w-Passw0rd!z"


@pytest.fixture
def user(spaceid, world, request):
    """A LOCAL user of its own, with a password and an e-mail address."""
    user_id = f"{request.node.name[:40].replace('_', '-')}@example.com"
    spaceid.cli("user", "create", "--domain-id", world.domain_id, "--user-id", user_id,
                "--password", PASSWORD, "--name", "Current", "--email", user_id)
    return user_id


def token_of(world, user_id, password=PASSWORD):
    return issue(world.channel, world.domain_id, user_id, password).access_token


def update_password(world, token, new_password, current_password):
    request = user_profile_pb2.UpdatePasswordUserProfileRequest(
        new_password=new_password, current_password=current_password)
    return profile(world.channel).update_password(request, metadata=auth(token),
                                                  timeout=RPC_TIMEOUT)


def test_update_changes_the_name_and_nothing_else(world, user):
    token = token_of(world, user)
    renamed = update(world.channel, token, name="Robert Paulson2X")
    assert (renamed.name, renamed.email) == ("Robert Paulson2X", user)
    # The password is unchanged, and the session goes on.
    assert token_of(world, user)
    assert get(world.channel, token).name == "Robert Paulson2X"


def test_update_changes_the_email_and_not_the_name(world, user):
    token = token_of(world, user)
    moved = update(world.channel, token, email="moved@example.com")
    assert (moved.email, moved.name) == ("moved@example.com", "Current")


def test_update_password_checks_the_current_one_and_ends_old_sessions(world, user):
    token = token_of(world, user)
    wrong = rpc_error(update_password, world, token, NEW_PASSWORD, "not-the-password")
    assert wrong.code() == grpc.StatusCode.INVALID_ARGUMENT, describe(wrong)
    assert wrong.details().startswith("ERROR_PASSWORD_NOT_MATCHED"), describe(wrong)
    same = rpc_error(update_password, world, token, PASSWORD, PASSWORD)
    assert same.code() == grpc.StatusCode.INVALID_ARGUMENT, describe(same)
    assert same.details().startswith("ERROR_PASSWORD_NOT_CHANGED"), describe(same)

    changed = update_password(world, token, NEW_PASSWORD, PASSWORD)
    assert changed.user_id == user
    old = rpc_error(get, world.channel, token)
    assert old.code() == grpc.StatusCode.UNAUTHENTICATED, describe(old)
    assert get(world.channel, token_of(world, user, NEW_PASSWORD)).user_id == user


def test_a_burst_of_wrong_current_passwords_is_throttled(world, user):
    token = token_of(world, user)
    codes = []
    for _ in range(12):
        error = rpc_error(update_password, world, token, NEW_PASSWORD, "guess-Passw0rd!")
        codes.append(error.code())
        if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
            assert error.details().startswith("ERROR_TOO_MANY_ATTEMPTS"), describe(error)
            break
    assert codes[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED, codes
    # The owner's sign-in waits too: the guesses counted as failed sign-ins.
    held = rpc_error(issue, world.channel, world.domain_id, user, PASSWORD)
    assert held.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, describe(held)


def finder(world, spaceid):
    refresh = issue(world.channel, world.domain_id, world.owner.user_id).refresh_token
    token = grant(world.channel, refresh, "WORKSPACE", world.domain_id,
                  world.workspace_1).access_token
    stub = workspace_user_pb2_grpc.WorkspaceUserStub(world.channel)

    def find(**fields):
        return stub.find(workspace_user_pb2.WorkspaceUserFindRequest(**fields),
                         metadata=auth(token), timeout=RPC_TIMEOUT)
    return find


def test_find_filters_by_auth_type_and_shows_it(world, spaceid):
    spaceid.cli("user", "create", "--domain-id", world.domain_id, "--user-id",
                "elsewhere@sso.example.com", "--name", "Elsewhere", "--auth-type", "EXTERNAL")
    find = finder(world, spaceid)
    external = find(keyword="sso.example", auth_type=user_pb2.AuthType.EXTERNAL)
    assert [(u.user_id, u.auth_type) for u in external.results] == [
        ("elsewhere@sso.example.com", user_pb2.AuthType.EXTERNAL)]
    local = find(keyword="sso.example", auth_type=user_pb2.AuthType.LOCAL)
    assert (list(local.results), local.total_count) == ([], 0)
    plain = find(keyword="plain")
    assert [(u.user_id, u.auth_type) for u in plain.results] == [
        (world.plain.user_id, user_pb2.AuthType.LOCAL)]
    paged = find(keyword="example", page=query_pb2.Page(start=1, limit=1))
    assert len(paged.results) == 1 and paged.total_count > 1, paged


def test_enforce_mfa_is_shown_and_holds_the_user(world, spaceid, user):
    spaceid.cli("user", "set-required-actions", "--domain-id", world.domain_id, "--user-id",
                user, "--action", "ENFORCE_MFA")
    tokens = issue(world.channel, world.domain_id, user)
    info = get(world.channel, tokens.access_token)
    assert list(info.required_actions) == [user_pb2.UserRequiredAction.ENFORCE_MFA]
    refused = rpc_error(grant, world.channel, tokens.refresh_token, "USER", world.domain_id)
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION, describe(refused)
    assert refused.details().startswith("ERROR_MFA_ENFORCED"), describe(refused)


@pytest.mark.parametrize("field", ["lookup", "add_fields"])
def test_query_lookup_and_add_fields_are_refused_by_name(world, field):
    refresh = issue(world.channel, world.domain_id, world.owner.user_id).refresh_token
    token = grant(world.channel, refresh, "WORKSPACE", world.domain_id,
                  world.workspace_1).access_token
    query = query_pb2.Query()
    getattr(query, field).SetInParent()
    request = workspace_user_pb2.WorkspaceUserSearchQuery(query=query)
    error = rpc_error(workspace_user_pb2_grpc.WorkspaceUserStub(world.channel).list, request,
                      metadata=auth(token), timeout=RPC_TIMEOUT)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, describe(error)
    assert f"query.{field}" in error.details(), describe(error)

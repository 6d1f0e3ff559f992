"""WorkspaceUser through the published stubs, with workspace-scoped tokens from Token.grant."""

import re

import grpc
import pytest
from google.protobuf import json_format
from spaceone.api.core.v2 import query_pb2
from spaceone.api.identity.v2 import (role_binding_pb2, token_pb2, user_pb2, workspace_user_pb2,
                                      workspace_user_pb2_grpc)

from conformance_support import (ISO_MILLIS, PASSWORD, RPC_TIMEOUT, auth, describe, grant, issue,
                                 rpc_error, skip_while_unimplemented, struct, struct_to_dict)

RoleBindingInfo = role_binding_pb2.RoleBindingInfo


def stub(world):
    return workspace_user_pb2_grpc.WorkspaceUserStub(world.channel)


@pytest.fixture(scope="module", autouse=True)
def workspace_user_is_served(world):
    skip_while_unimplemented(lambda: stub(world).list(workspace_user_pb2.WorkspaceUserSearchQuery(),
                                                      timeout=RPC_TIMEOUT))


def workspace_token(world, user, workspace_id):
    refresh = issue(world.channel, world.domain_id, user.user_id, user.password).refresh_token
    return grant(world.channel, refresh, "WORKSPACE", world.domain_id, workspace_id).access_token


@pytest.fixture(scope="module")
def owner_token(world):
    return workspace_token(world, world.owner, world.workspace_1)


@pytest.fixture(scope="module")
def member_token(world):
    return workspace_token(world, world.member, world.workspace_1)


def list_users(world, token, **fields):
    return stub(world).list(workspace_user_pb2.WorkspaceUserSearchQuery(**fields),
                            metadata=auth(token), timeout=RPC_TIMEOUT)


def test_list_shows_the_workspace_users_with_their_bindings(world, owner_token):
    info = list_users(world, owner_token)
    by_id = {user.user_id: user for user in info.results}
    assert {world.owner.user_id, world.member.user_id} <= set(by_id), sorted(by_id)
    assert world.plain.user_id not in by_id
    assert info.total_count == len(info.results)
    member = by_id[world.member.user_id]
    assert member.domain_id == world.domain_id
    assert member.role_binding_info.workspace_id == world.workspace_1
    assert member.role_binding_info.role_id == "managed-workspace-member"
    assert member.role_binding_info.role_type == RoleBindingInfo.RoleType.WORKSPACE_MEMBER
    assert member.role_binding_info.resource_group == RoleBindingInfo.ResourceGroup.WORKSPACE
    assert by_id[world.owner.user_id].role_binding_info.role_type == (
        RoleBindingInfo.RoleType.WORKSPACE_OWNER)


def test_list_narrows_by_role_type(world, owner_token):
    info = list_users(world, owner_token, role_type="WORKSPACE_MEMBER")
    ids = {user.user_id for user in info.results}
    assert world.member.user_id in ids
    assert world.owner.user_id not in ids


def test_list_with_query_filter(world, member_token):
    query = query_pb2.Query()
    condition = query.filter.add()
    condition.k = "user_id"
    condition.v.string_value = world.owner.user_id
    condition.o = "eq"
    info = list_users(world, member_token, query=query)
    assert [user.user_id for user in info.results] == [world.owner.user_id]
    assert info.total_count == 1


def test_list_with_unknown_query_key_is_invalid(world, owner_token):
    query = query_pb2.Query()
    condition = query.filter.add()
    condition.k = "no_such_field"
    condition.v.string_value = "x"
    condition.o = "eq"
    error = rpc_error(list_users, world, owner_token, query=query)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, describe(error)
    assert "no_such_field" in error.details(), describe(error)


def test_get_returns_user_with_binding(world, member_token):
    info = stub(world).get(workspace_user_pb2.WorkspaceUserRequest(user_id=world.owner.user_id),
                           metadata=auth(member_token), timeout=RPC_TIMEOUT)
    assert info.user_id == world.owner.user_id
    assert info.auth_type == user_pb2.AuthType.LOCAL
    assert info.role_binding_info.role_type == RoleBindingInfo.RoleType.WORKSPACE_OWNER
    assert info.role_binding_info.user_id == world.owner.user_id
    assert ISO_MILLIS.fullmatch(info.created_at), info.created_at
    assert ISO_MILLIS.fullmatch(info.role_binding_info.created_at), info.role_binding_info


def test_get_of_unbound_user_is_not_found(world, owner_token):
    error = rpc_error(stub(world).get,
                      workspace_user_pb2.WorkspaceUserRequest(user_id=world.plain.user_id),
                      metadata=auth(owner_token), timeout=RPC_TIMEOUT)
    assert error.code() == grpc.StatusCode.NOT_FOUND, describe(error)
    assert error.details().startswith("ERROR_NOT_FOUND"), describe(error)


def test_user_scoped_token_is_denied(world):
    refresh = issue(world.channel, world.domain_id, world.member.user_id).refresh_token
    token = grant(world.channel, refresh, "USER", world.domain_id).access_token
    error = rpc_error(list_users, world, token)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, describe(error)


def test_no_token_is_unauthenticated(world):
    error = rpc_error(stub(world).list, workspace_user_pb2.WorkspaceUserSearchQuery(),
                      timeout=RPC_TIMEOUT)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, describe(error)


def test_request_workspace_must_match_token(world, owner_token):
    error = rpc_error(list_users, world, owner_token, workspace_id=world.workspace_2)
    assert error.code() in (grpc.StatusCode.PERMISSION_DENIED,
                            grpc.StatusCode.INVALID_ARGUMENT), describe(error)


def test_owner_creates_a_user_bound_to_the_workspace(world, owner_token):
    request = workspace_user_pb2.CreateWorkspaceUserRequest(
        user_id="created@example.com", password=PASSWORD, name="Created",
        email="created@example.com", auth_type=user_pb2.AuthType.LOCAL, language="en",
        timezone="UTC", tags=struct({"team": "cloudforet"}), role_id="managed-workspace-member")
    info = stub(world).create(request, metadata=auth(owner_token), timeout=RPC_TIMEOUT)
    assert info.user_id == "created@example.com"
    assert info.name == "Created"
    assert info.domain_id == world.domain_id
    assert struct_to_dict(info.tags) == {"team": "cloudforet"}
    binding = info.role_binding_info
    assert re.fullmatch(r"rb-[0-9a-f]{12}", binding.role_binding_id), binding
    assert binding.workspace_id == world.workspace_1
    assert binding.role_id == "managed-workspace-member"
    assert binding.role_type == RoleBindingInfo.RoleType.WORKSPACE_MEMBER
    assert binding.resource_group == RoleBindingInfo.ResourceGroup.WORKSPACE

    again = rpc_error(stub(world).create, request, metadata=auth(owner_token), timeout=RPC_TIMEOUT)
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS, describe(again)

    refresh = issue(world.channel, world.domain_id, "created@example.com").refresh_token
    granted = grant(world.channel, refresh, "WORKSPACE", world.domain_id, world.workspace_1)
    assert granted.role_type == token_pb2.GrantTokenInfo.RoleType.WORKSPACE_MEMBER


def test_member_cannot_create(world, member_token):
    request = workspace_user_pb2.CreateWorkspaceUserRequest(
        user_id="sneaky@example.com", password=PASSWORD, auth_type=user_pb2.AuthType.LOCAL,
        role_id="managed-workspace-member")
    error = rpc_error(stub(world).create, request, metadata=auth(member_token),
                      timeout=RPC_TIMEOUT)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, describe(error)


def test_find_lists_domain_users_not_in_the_workspace(world, owner_token):
    info = stub(world).find(workspace_user_pb2.WorkspaceUserFindRequest(keyword="PLAIN"),
                            metadata=auth(owner_token), timeout=RPC_TIMEOUT)
    assert [user.user_id for user in info.results] == [world.plain.user_id]
    assert info.total_count == 1
    everyone = stub(world).find(workspace_user_pb2.WorkspaceUserFindRequest(keyword="example"),
                                metadata=auth(owner_token), timeout=RPC_TIMEOUT)
    ids = [user.user_id for user in everyone.results]
    assert world.member.user_id not in ids and world.owner.user_id not in ids
    assert ids == sorted(ids)


def test_find_pages_in_this_generations_layout(world, owner_token):
    # `page` is field 3 in the seeds' package and field 4 in the current one: the server
    # reads either.
    everyone = stub(world).find(workspace_user_pb2.WorkspaceUserFindRequest(keyword="example"),
                                metadata=auth(owner_token), timeout=RPC_TIMEOUT)
    ids = [user.user_id for user in everyone.results]
    assert len(ids) >= 2, ids
    second = stub(world).find(
        workspace_user_pb2.WorkspaceUserFindRequest(keyword="example",
                                                    page=query_pb2.Page(start=2, limit=1)),
        metadata=auth(owner_token), timeout=RPC_TIMEOUT)
    assert [user.user_id for user in second.results] == ids[1:2]
    assert second.total_count == everyone.total_count


def test_stat_counts_users_by_state(world, owner_token):
    query = {"aggregate": [{"group": {"keys": [{"key": "state", "name": "state"}],
                                      "fields": [{"operator": "count", "name": "count"}]}}]}
    statistics = query_pb2.StatisticsQuery()
    json_format.ParseDict(query, statistics)
    result = stub(world).stat(workspace_user_pb2.WorkspaceUserStatQuery(query=statistics),
                              metadata=auth(owner_token), timeout=RPC_TIMEOUT)
    rows = struct_to_dict(result)["results"]
    total = list_users(world, owner_token).total_count
    assert sum(row["count"] for row in rows) == total, rows
    assert {row["state"] for row in rows} <= {"ENABLED", "DISABLED", "PENDING"}, rows
    enabled = [row["count"] for row in rows if row["state"] == "ENABLED"]
    assert enabled and enabled[0] >= 2, rows  # at least the owner and the member

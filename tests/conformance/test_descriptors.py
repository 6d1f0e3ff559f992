"""The server's descriptors, fetched through reflection, against spaceone-api==2.0.300's.

A client generated from the published package must work against the server unchanged, so
every message the server defines must exist in the package's file of the same name with the
same fields (number, name, type, label, type_name, oneof), nested enums and nested types;
every service must have the same methods with the same types and HTTP rules. The package
holds more messages than the server (the admin services), which are not compared, but every
message that wire-reference.md lists must be served.
"""

from __future__ import annotations

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from spaceone.api.core.v2 import handler_pb2, query_pb2
from spaceone.api.identity.v2 import (domain_pb2, role_binding_pb2, token_pb2, user_pb2,
                                      user_profile_pb2, workspace_group_pb2, workspace_user_pb2)

from conformance_support import Reflection, ReflectionError

IDENTITY = "spaceone/api/identity/v2/"

# file -> (package module, what wire-reference.md lists in it, a service that must be served
# for the file to be required at all; None: always required)
FILES = {
    IDENTITY + "user.proto": (user_pb2, {
        "messages": ["MFA", "UserInfo"],
        "enums": ["AuthType", "UserRequiredAction"],
    }, None),
    IDENTITY + "role_binding.proto": (role_binding_pb2, {
        "messages": ["RoleBindingInfo"],
    }, None),
    IDENTITY + "workspace_group.proto": (workspace_group_pb2, {
        "messages": ["UserWorkspaceGroup"],
    }, None),
    IDENTITY + "user_profile.proto": (user_profile_pb2, {
        "messages": ["ConfirmEmailRequest", "ConfirmMFARequest", "DisableMFARequest",
                     "EnableMFARequest", "MyWorkspaceGroupInfo", "MyWorkspaceGroupsInfo",
                     "MyWorkspaceInfo", "MyWorkspacesInfo", "UpdateUserProfileRequest",
                     "UserPasswordResetRequest", "UserProfileRequest", "VerifyEmailRequest",
                     "WorkspaceGroupUserProfileRequest"],
        "services": ["UserProfile"],
    }, None),
    IDENTITY + "workspace_user.proto": (workspace_user_pb2, {
        "messages": ["CreateWorkspaceUserRequest", "UserSummaryInfo", "UsersSummaryInfo",
                     "WorkspaceUserFindRequest", "WorkspaceUserInfo", "WorkspaceUserRequest",
                     "WorkspaceUserSearchQuery", "WorkspaceUserStatQuery", "WorkspaceUsersInfo"],
        "services": ["WorkspaceUser"],
    }, None),
    IDENTITY + "token.proto": (token_pb2, {
        "messages": ["GrantTokenInfo", "GrantTokenRequest", "IssueTokenRequest", "TokenInfo"],
        "services": ["Token"],
    }, None),
    "spaceone/api/core/v2/query.proto": (query_pb2, {
        "messages": ["AggregateCount", "AggregateGroup", "AggregateGroupField",
                     "AggregateGroupKey", "AggregateGroupSubField", "AggregateProject",
                     "AggregateProjectField", "AggregateSubCondition", "Filter", "Page", "Query",
                     "Sort", "StatisticsAggregate", "StatisticsQuery", "Unwind"],
    }, None),
    IDENTITY + "domain.proto": (domain_pb2, {
        "messages": ["Admin", "CreateDomainRequest", "UpdateDomainRequest", "DomainRequest",
                     "GetDomainAuthRequest", "DomainAuthInfo", "DomainInfo", "DomainSearchQuery",
                     "DomainsInfo", "DomainStatQuery"],
        "services": ["Domain"],
    }, "spaceone.api.identity.v2.Domain"),
    "spaceone/api/core/v2/handler.proto": (handler_pb2, {
        "messages": ["AuthenticationRequest", "AuthenticationResponse"],
    }, "spaceone.api.identity.v2.Domain"),
}
FILE_NAMES = list(FILES)


@pytest.fixture(scope="module")
def reflection(channel):
    return Reflection(channel, "v1alpha")


@pytest.fixture(scope="module")
def served_services(reflection):
    return set(reflection.list_services())


@pytest.fixture
def pair(request, reflection, served_services):
    """(server's FileDescriptorProto, package's FileDescriptorProto) for one file."""
    name = request.param
    module, _, needed_service = FILES[name]
    if needed_service is not None and needed_service not in served_services:
        pytest.skip(f"{needed_service} is not served, so {name} is not required yet")
    try:
        files = reflection.file_by_filename(name)
    except ReflectionError as error:
        pytest.fail(f"reflection cannot give {name}: {error}")
    by_name = {f.name: f for f in files}
    assert name in by_name, f"reflection answered {sorted(by_name)} for {name}"
    package = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(package)
    return by_name[name], package


def parametrize_files():
    return pytest.mark.parametrize("pair", FILE_NAMES, indirect=True, ids=FILE_NAMES)


# --- comparison -----------------------------------------------------------------------------


def enum_values(enum: descriptor_pb2.EnumDescriptorProto) -> dict[str, int]:
    return {value.name: value.number for value in enum.value}


def field_shape(message: descriptor_pb2.DescriptorProto, field) -> dict:
    oneof = message.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else None
    return {
        "name": field.name,
        "type": descriptor_pb2.FieldDescriptorProto.Type.Name(field.type),
        "label": descriptor_pb2.FieldDescriptorProto.Label.Name(field.label),
        "type_name": field.type_name,
        "oneof": oneof,
        "proto3_optional": field.proto3_optional,
    }


def compare_message(path: str, server, package) -> list[str]:
    problems = []
    server_fields = {f.number: field_shape(server, f) for f in server.field}
    package_fields = {f.number: field_shape(package, f) for f in package.field}
    for number in sorted(set(server_fields) | set(package_fields)):
        ours, theirs = server_fields.get(number), package_fields.get(number)
        if ours != theirs:
            problems.append(f"{path} field {number}: server {ours} != package {theirs}")
    server_enums = {e.name: enum_values(e) for e in server.enum_type}
    package_enums = {e.name: enum_values(e) for e in package.enum_type}
    for name in sorted(set(server_enums) | set(package_enums)):
        if server_enums.get(name) != package_enums.get(name):
            problems.append(f"{path}.{name} enum: server {server_enums.get(name)} "
                            f"!= package {package_enums.get(name)}")
    server_nested = {m.name: m for m in server.nested_type}
    package_nested = {m.name: m for m in package.nested_type}
    for name in sorted(set(server_nested) | set(package_nested)):
        if name not in server_nested or name not in package_nested:
            where = "server" if name in server_nested else "package"
            problems.append(f"{path}.{name} nested message only in the {where}")
        else:
            problems.extend(compare_message(f"{path}.{name}", server_nested[name],
                                            package_nested[name]))
    return problems


def http_rule(method) -> str:
    if not method.options.HasExtension(annotations_pb2.http):
        return "(none)"
    return str(method.options.Extensions[annotations_pb2.http]).replace("\n", " ").strip()


# --- tests ----------------------------------------------------------------------------------


@parametrize_files()
def test_file_package_matches(pair):
    server, package = pair
    assert server.package == package.package
    assert server.syntax == package.syntax


@parametrize_files()
def test_wire_reference_definitions_are_served(pair):
    server, package = pair
    wire = FILES[server.name][1]
    missing = []
    for kind, defined in (("messages", server.message_type), ("enums", server.enum_type),
                          ("services", server.service)):
        names = {d.name for d in defined}
        missing += [f"{kind[:-1]} {name}" for name in wire.get(kind, []) if name not in names]
    assert not missing, f"{server.name} lacks {missing}"


@parametrize_files()
def test_messages_match_the_package(pair):
    server, package = pair
    package_messages = {m.name: m for m in package.message_type}
    problems = []
    for message in server.message_type:
        path = f"{server.package}.{message.name}"
        if message.name not in package_messages:
            problems.append(f"{path} is not a message of {package.name} in spaceone-api")
            continue
        problems.extend(compare_message(path, message, package_messages[message.name]))
    assert not problems, "\n".join(problems)


@parametrize_files()
def test_enums_match_the_package(pair):
    server, package = pair
    package_enums = {e.name: enum_values(e) for e in package.enum_type}
    problems = []
    for enum in server.enum_type:
        if enum_values(enum) != package_enums.get(enum.name):
            problems.append(f"{server.package}.{enum.name}: server {enum_values(enum)} "
                            f"!= package {package_enums.get(enum.name)}")
    assert not problems, "\n".join(problems)


@parametrize_files()
def test_services_match_the_package(pair):
    server, package = pair
    package_services = {s.name: s for s in package.service}
    problems = []
    for service in server.service:
        theirs = package_services.get(service.name)
        if theirs is None:
            problems.append(f"service {service.name} is not in the package's {package.name}")
            continue
        ours_methods = {m.name: m for m in service.method}
        their_methods = {m.name: m for m in theirs.method}
        if set(ours_methods) != set(their_methods):
            problems.append(f"{service.name} methods: server {sorted(ours_methods)} "
                            f"!= package {sorted(their_methods)}")
        for name in set(ours_methods) & set(their_methods):
            a, b = ours_methods[name], their_methods[name]
            shape_a = (a.input_type, a.output_type, a.client_streaming, a.server_streaming)
            shape_b = (b.input_type, b.output_type, b.client_streaming, b.server_streaming)
            if shape_a != shape_b:
                problems.append(f"{service.name}.{name}: server {shape_a} != package {shape_b}")
    assert not problems, "\n".join(problems)


@parametrize_files()
def test_http_rules_match_the_package(pair):
    server, package = pair
    package_services = {s.name: s for s in package.service}
    problems = []
    for service in server.service:
        their_methods = {m.name: m for m in package_services.get(service.name,
                                                                 descriptor_pb2.ServiceDescriptorProto()).method}
        for method in service.method:
            if method.name in their_methods:
                ours, theirs = http_rule(method), http_rule(their_methods[method.name])
                if ours != theirs:
                    problems.append(f"{service.name}.{method.name}: server {ours} != package {theirs}")
    assert not problems, "\n".join(problems)

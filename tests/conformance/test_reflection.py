"""gRPC server reflection (v1alpha and v1) and health checking."""

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase)

from conformance_support import PASSWORD, RPC_TIMEOUT, Reflection, ReflectionError, claims

# Exactly these: spacectl and spaceone-core load every listed service as an identity API, and
# fail on anything else (health, reflection itself), which stay served but unlisted.
LISTED_SERVICES = {
    "spaceone.api.identity.v2.Domain",
    "spaceone.api.identity.v2.UserProfile",
    "spaceone.api.identity.v2.WorkspaceUser",
    "spaceone.api.identity.v2.Token",
}
SPACEONE_SERVICES = sorted(LISTED_SERVICES)


@pytest.mark.parametrize("version", ["v1alpha", "v1"])
def test_list_services(channel, version):
    services = Reflection(channel, version).list_services()
    assert sorted(services) == SPACEONE_SERVICES, services


@pytest.mark.parametrize("version", ["v1alpha", "v1"])
def test_a_file_comes_with_its_dependencies(channel, version):
    files = Reflection(channel, version).file_by_filename("spaceone/api/identity/v2/domain.proto")
    names = [f.name for f in files]
    assert names[0] == "spaceone/api/identity/v2/domain.proto"
    assert {"spaceone/api/core/v2/handler.proto", "spaceone/api/core/v2/query.proto",
            "google/api/annotations.proto", "google/protobuf/struct.proto",
            "google/protobuf/empty.proto"} <= set(names), names
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("version", ["v1alpha", "v1"])
def test_unlisted_services_are_still_described(channel, version):
    files = Reflection(channel, version).file_containing_symbol("grpc.health.v1.Health")
    assert files[0].package == "grpc.health.v1"
    assert [s.name for s in files[0].service] == ["Health"]


@pytest.mark.parametrize("version", ["v1alpha", "v1"])
def test_file_containing_symbol(channel, version):
    files = Reflection(channel, version).file_containing_symbol("spaceone.api.identity.v2.Token")
    assert "spaceone/api/identity/v2/token.proto" in [f.name for f in files]


@pytest.mark.parametrize("version", ["v1alpha", "v1"])
def test_unknown_file_is_not_found(channel, version):
    # NOT_FOUND either in an ErrorResponse or as the stream's status (tonic-reflection's way).
    with pytest.raises((ReflectionError, grpc.RpcError)) as raised:
        Reflection(channel, version).file_by_filename("no/such/file.proto")
    error = raised.value
    if isinstance(error, ReflectionError):
        assert error.code == grpc.StatusCode.NOT_FOUND.value[0]
    else:
        assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()


@pytest.mark.parametrize("service_name", SPACEONE_SERVICES)
def test_reflection_resolves_every_method_type(channel, service_name):
    """What spaceone-core does: build a pool from v1alpha reflection and resolve the service."""
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    service = pool.FindServiceByName(service_name)
    assert service.methods, service_name
    for method in service.methods:
        assert method.input_type.full_name and method.output_type.full_name


def test_dynamic_client_from_reflection_can_issue_a_token(world):
    """A client built only from reflected descriptors talks to Token.issue."""
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(world.channel))
    method = pool.FindMethodByName("spaceone.api.identity.v2.Token.issue")
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    request = request_class(auth_type=1, domain_id=world.domain_id)
    request.credentials.update({"user_id": world.member.user_id, "password": PASSWORD})
    call = world.channel.unary_unary("/spaceone.api.identity.v2.Token/issue",
                                     request_serializer=request_class.SerializeToString,
                                     response_deserializer=response_class.FromString)
    response = call(request, timeout=RPC_TIMEOUT)
    assert claims(response.access_token)["aud"] == world.member.user_id


def test_health_check_overall_serving(channel):
    response = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=""), timeout=RPC_TIMEOUT)
    assert response.status == health_pb2.HealthCheckResponse.ServingStatus.SERVING


def test_health_check_unknown_service_is_not_found(channel):
    with pytest.raises(grpc.RpcError) as raised:
        health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=RPC_TIMEOUT)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND

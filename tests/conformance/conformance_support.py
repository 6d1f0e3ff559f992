"""Client-side helpers for the conformance suite: token calls, JWT decoding, reflection.

Everything here speaks to the server the way a SpaceONE client would: through the
published stubs (`spaceone-api==2.0.300`, or 2.0.435 for the current generation) and grpcio,
never through the repository's protos.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from typing import Any, Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, struct_pb2
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha_pb2
from spaceone.api.identity.v2 import (token_pb2, token_pb2_grpc, user_profile_pb2,
                                      user_profile_pb2_grpc)

PASSWORD = "Passw0rd!x"
# The API generation the server under test speaks; run.sh installs the matching package
# (`seeds`: spaceone-api 2.0.300, `current`: 2.0.435) and starts the server with it.
GENERATION = os.environ.get("SPACEID_API_GENERATION", "seeds")
RPC_TIMEOUT = 15
ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# --- Calls a later release implements ------------------------------------------------------


def skip_while_unimplemented(call) -> None:
    """Skips the calling test (or module fixture) while the server answers `call` with
    UNIMPLEMENTED; any other answer, success or error, lets the tests run."""
    import pytest

    try:
        call()
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNIMPLEMENTED:
            pytest.skip(f"not implemented by this server yet: {error.details()}")


# --- Token --------------------------------------------------------------------------------


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def struct_to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def issue(channel: grpc.Channel, domain_id: str, user_id: str, password: str = PASSWORD,
          timeout: int | None = None) -> token_pb2.TokenInfo:
    request = token_pb2.IssueTokenRequest(
        credentials=struct({"user_id": user_id, "password": password}),
        auth_type=token_pb2.IssueTokenRequest.AuthType.LOCAL,
        domain_id=domain_id,
    )
    if timeout is not None:
        request.timeout = timeout
    return token_pb2_grpc.TokenStub(channel).issue(request, timeout=RPC_TIMEOUT)


def grant(channel: grpc.Channel, refresh_token: str, scope: str, domain_id: str,
          workspace_id: str | None = None,
          permissions: Iterable[str] | None = None) -> token_pb2.GrantTokenInfo:
    request = token_pb2.GrantTokenRequest(
        grant_type=token_pb2.GrantTokenRequest.GrantType.REFRESH_TOKEN,
        token=refresh_token,
        scope=token_pb2.GrantTokenRequest.Scope.Value(scope),
        domain_id=domain_id,
    )
    if workspace_id is not None:
        request.workspace_id = workspace_id
    if permissions is not None:
        request.permissions.extend(permissions)
    return token_pb2_grpc.TokenStub(channel).grant(request, timeout=RPC_TIMEOUT)


def auth(token: str) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata that carries a SpaceONE token."""
    return (("token", token),)


def profile(channel: grpc.Channel) -> user_profile_pb2_grpc.UserProfileStub:
    return user_profile_pb2_grpc.UserProfileStub(channel)


def get(channel: grpc.Channel, token: str):
    """UserProfile.get as the holder of `token`."""
    return profile(channel).get(user_profile_pb2.UserProfileRequest(), metadata=auth(token),
                                timeout=RPC_TIMEOUT)


def update(channel: grpc.Channel, token: str, **fields):
    """UserProfile.update as the holder of `token`, with `fields` set."""
    return profile(channel).update(user_profile_pb2.UpdateUserProfileRequest(**fields),
                                   metadata=auth(token), timeout=RPC_TIMEOUT)


def change_password(channel: grpc.Channel, token: str, new_password: str,
                    current_password: str = PASSWORD):
    """A new password, as a client of the generation under test sets it: `update` with
    `password` in the seeds' generation, `update_password` in the current one."""
    if GENERATION == "current":
        request = user_profile_pb2.UpdatePasswordUserProfileRequest(
            new_password=new_password, current_password=current_password)
        return profile(channel).update_password(request, metadata=auth(token),
                                                timeout=RPC_TIMEOUT)
    return update(channel, token, password=new_password)


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    """Runs a call that must fail and returns its error, failing if it succeeded."""
    try:
        result = call(*args, **kwargs)
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"call succeeded but an error was expected; it returned {result!r}")


def describe(error: grpc.RpcError) -> str:
    return f"{error.code()}: {error.details()!r}"


# --- JWT ------------------------------------------------------------------------------------


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, without verifying the signature."""
    segments = token.split(".")
    assert len(segments) == 3, f"not a compact JWS: {token!r}"
    return json.loads(_b64url(segments[0])), json.loads(_b64url(segments[1]))


def claims(token: str) -> dict[str, Any]:
    return jwt_parts(token)[1]


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _reencoded(segment: str, changes: dict[str, Any]) -> str:
    body = json.loads(_b64url(segment))
    body.update(changes)
    return _b64url_encode(json.dumps(body, separators=(",", ":")).encode())


def tamper_payload(token: str, **changes: Any) -> str:
    """The same token with changed claims and the original signature."""
    header, payload, signature = token.split(".")
    return ".".join([header, _reencoded(payload, changes), signature])


def tamper_header(token: str, **changes: Any) -> str:
    """The same token with changed header fields (e.g. `kid`) and the original signature."""
    header, payload, signature = token.split(".")
    return ".".join([_reencoded(header, changes), payload, signature])


def break_signature(token: str) -> str:
    """The same header and payload with one bit of the signature flipped."""
    header, payload, signature = token.split(".")
    raw = bytearray(_b64url(signature))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([header, payload, _b64url_encode(bytes(raw))])


# --- Reflection -----------------------------------------------------------------------------


def _v1_reflection_messages():
    """grpc.reflection.v1 message classes.

    grpcio-reflection ships only v1alpha stubs. v1 is the same file under another package,
    so the v1alpha descriptor is renamed and loaded into a private pool.
    """
    proto = descriptor_pb2.FileDescriptorProto()
    v1alpha_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = "grpc/reflection/v1/reflection.proto"
    proto.package = "grpc.reflection.v1"
    old, new = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."

    def rename(messages):
        for message in messages:
            for field in message.field:
                if field.type_name.startswith(old):
                    field.type_name = new + field.type_name[len(old):]
            rename(message.nested_type)

    rename(proto.message_type)
    for service in proto.service:
        for method in service.method:
            method.input_type = new + method.input_type[len(old):]
            method.output_type = new + method.output_type[len(old):]
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    request = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionRequest"))
    response = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionResponse"))
    return request, response


class ReflectionError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(f"reflection error {code}: {message}")
        self.code = code


class Reflection:
    """A minimal gRPC server reflection client for v1alpha or v1."""

    def __init__(self, channel: grpc.Channel, version: str):
        if version == "v1alpha":
            request, response = v1alpha_pb2.ServerReflectionRequest, v1alpha_pb2.ServerReflectionResponse
        elif version == "v1":
            request, response = _v1_reflection_messages()
        else:
            raise ValueError(version)
        self._request = request
        self._call = channel.stream_stream(
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=request.SerializeToString,
            response_deserializer=response.FromString,
        )

    def _ask(self, **kwargs):
        responses = list(self._call(iter([self._request(host="", **kwargs)]), timeout=RPC_TIMEOUT))
        assert len(responses) == 1, f"expected one reflection response, got {len(responses)}"
        response = responses[0]
        if response.WhichOneof("message_response") == "error_response":
            raise ReflectionError(response.error_response.error_code,
                                  response.error_response.error_message)
        return response

    def list_services(self) -> list[str]:
        response = self._ask(list_services="")
        return [service.name for service in response.list_services_response.service]

    def _files(self, response) -> list[descriptor_pb2.FileDescriptorProto]:
        return [descriptor_pb2.FileDescriptorProto.FromString(raw)
                for raw in response.file_descriptor_response.file_descriptor_proto]

    def file_by_filename(self, name: str) -> list[descriptor_pb2.FileDescriptorProto]:
        return self._files(self._ask(file_by_filename=name))

    def file_containing_symbol(self, symbol: str) -> list[descriptor_pb2.FileDescriptorProto]:
        return self._files(self._ask(file_containing_symbol=symbol))


# --- Waiting --------------------------------------------------------------------------------


def wait_ready(channel: grpc.Channel, process, deadline_seconds: float) -> None:
    """Waits for the channel to connect, failing early if the process has exited."""
    deadline = time.monotonic() + deadline_seconds
    future = grpc.channel_ready_future(channel)
    while True:
        try:
            future.result(timeout=0.25)
            return
        except grpc.FutureTimeoutError:
            if process.poll() is not None:
                future.cancel()
                raise RuntimeError(f"server exited with {process.returncode} before it was ready")
            if time.monotonic() > deadline:
                future.cancel()
                raise RuntimeError(f"server not ready after {deadline_seconds} s")


def names(items: Iterable[Any]) -> list[str]:
    return [item.name for item in items]

"""Runs spaceone-core's own authentication handler against a spaceid server.

Run with the python of a venv that has `spaceone-core==2.0.144` (not the suite's venv). It
reads one JSON object from stdin:

    {"endpoint": "grpc://127.0.0.1:PORT",      # CONNECTORS.SpaceConnector.endpoints.identity
     "system_token": "...",                     # the service's TOKEN setting
     "tokens": {"name": "JWT", ...},            # tokens to verify, in order
     "sign": {"name": {"private_pem": "...", "claims": {...}}, ...},
                                                # tokens to sign first (RS256) and verify
     "public_keys": ["domain-...", ...]}        # domains whose public key to fetch as-is

and prints one JSON object: {"verified": {name: RESULT}, "public_keys": {domain_id: RESULT}}.
A RESULT is {"ok": true, ...} with what the handler put in the transaction (role_type,
domain_id, user_id, workspace_id, token_type, owner_type) or the key, or {"ok": false,
"error_code": ..., "message": ...}.

The service is configured the way a SpaceONE service's global config does it, and every
token is verified by a fresh handler in a fresh transaction, as for a request. The handler
caches public keys in this process (5 minutes), so one run sees the key it fetched first.
"""

import json
import logging
import sys
import threading

from jwcrypto import jwk
from spaceone.core import config
from spaceone.core.auth.jwt import JWTUtil
from spaceone.core.connector.space_connector import SpaceConnector
from spaceone.core.error import ERROR_BASE
from spaceone.core.handler.authentication_handler import SpaceONEAuthenticationHandler
from spaceone.core.transaction import create_transaction, delete_transaction

META = {
    "role_type": "authorization.role_type",
    "domain_id": "authorization.domain_id",
    "user_id": "authorization.user_id",
    "workspace_id": "authorization.workspace_id",
    "token_type": "authorization.token_type",
    "owner_type": "authorization.owner_type",
    "audience": "authorization.audience",
    "permissions": "authorization.permissions",
}


def failure(error: Exception) -> dict:
    if isinstance(error, ERROR_BASE):
        return {"ok": False, "error_code": error.error_code, "message": error.message}
    return {"ok": False, "error_code": type(error).__name__, "message": str(error)}


def configure(endpoint: str, system_token: str) -> None:
    config.init_conf(package="spaceid_probe")
    config.set_global_force(
        CONNECTORS={"SpaceConnector": {"endpoints": {"identity": endpoint}}},
        TOKEN=system_token,
    )


def new_transaction(meta: dict):
    delete_transaction()
    return create_transaction(meta=meta, thread_id=str(threading.current_thread().ident))


def verify(token: str) -> dict:
    transaction = new_transaction({"token": token})
    try:
        SpaceONEAuthenticationHandler({}).verify({})
    except Exception as error:  # noqa: BLE001 - every failure is a result to report
        return failure(error)
    return {"ok": True, **{key: transaction.get_meta(meta) for key, meta in META.items()}}


def sign(private_pem: str, claims: dict) -> str:
    private = jwk.JWK.from_pem(private_pem.encode())
    return JWTUtil.encode(claims, json.loads(private.export_private()))


def public_key(domain_id: str, system_token: str) -> dict:
    new_transaction({})
    try:
        response = SpaceConnector(service="identity").dispatch(
            "Domain.get_public_key", {"domain_id": domain_id}, token=system_token)
    except Exception as error:  # noqa: BLE001
        return failure(error)
    return {"ok": True, "response": response}


def main() -> None:
    logging.disable(logging.CRITICAL)
    request = json.load(sys.stdin)
    configure(request["endpoint"], request["system_token"])
    tokens = dict(request.get("tokens", {}))
    for name, spec in request.get("sign", {}).items():
        tokens[name] = sign(spec["private_pem"], spec["claims"])
    result = {
        "verified": {name: verify(token) for name, token in tokens.items()},
        "public_keys": {domain_id: public_key(domain_id, request["system_token"])
                        for domain_id in request.get("public_keys", [])},
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

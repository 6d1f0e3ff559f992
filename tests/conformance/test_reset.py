"""UserProfile.reset_password (README "Codes, resets and MFA"): who gets mail, the reset link
and what its token opens, three mails an hour, and the temporary-password mode with
UPDATE_PASSWORD.

Mail is read from the session's SMTP sink (`smtp_sink` in conftest). A user's address is
verified through the API (verify_email, then confirm_email with the mailed code), as a user
would. Reset mail is sent in the background after the answer, so a test that expects none
waits a little (NO_MAIL_GRACE) before it says so.

Every test works on users it creates for itself through the admin CLI, with addresses of
their own, so no other test sees a changed password or a spent reset allowance.
"""

import re
import time
import uuid

import grpc
import pytest
from google.protobuf import empty_pb2
from spaceone.api.identity.v2 import user_pb2, user_profile_pb2

from conformance_support import (PASSWORD, RPC_TIMEOUT, auth, claims, describe, get, grant, issue,
                                 jwt_parts, profile, rpc_error, update)
from smtp_sink import code_in, html_part, text_part

NEW_PASSWORD = "N3wPassw0rd!r"
OTHER_PASSWORD = "0therPassw0rd!r"
CONSOLE_URL = "http://localhost:8080"
LINK = re.compile(re.escape(CONSOLE_URL) + r"/reset-password\?token=([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")
TEMPORARY_PASSWORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{16}(?![A-Za-z0-9])")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Reset mail leaves after the answer; how long a test waits before it says none came.
NO_MAIL_GRACE = 2.0
# The default lifetime of a reset link (--reset-link-ttl).
LINK_TTL = 3600
UPDATE_PASSWORD = user_pb2.UserRequiredAction.Value("UPDATE_PASSWORD")


# --- Helpers ----------------------------------------------------------------------------


def new_user(spaceid, world, label: str, *extra: str) -> str:
    """A user of its own, created through the admin CLI; its e-mail address is its user_id."""
    user_id = f"reset-{label}-{uuid.uuid4().hex[:8]}@example.com"
    args = ["user", "create", "--domain-id", world.domain_id, "--user-id", user_id,
            "--name", "Reset Tester", "--email", user_id, *extra]
    if "EXTERNAL" not in extra:
        args += ["--password", PASSWORD]
    created = spaceid.cli(*args)
    assert created["user_id"] == user_id, created
    return user_id


def sign_in(world, user_id: str, password: str = PASSWORD) -> str:
    return issue(world.channel, world.domain_id, user_id, password).access_token


def verify_address(world, smtp_sink, user_id: str) -> None:
    """Makes the user's address verified, through the API and the mailed code."""
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    profile(world.channel).verify_email(user_profile_pb2.VerifyEmailRequest(),
                                        metadata=auth(token), timeout=RPC_TIMEOUT)
    confirmed = profile(world.channel).confirm_email(
        user_profile_pb2.ConfirmEmailRequest(verify_code=code_in(inbox.next())),
        metadata=auth(token), timeout=RPC_TIMEOUT)
    assert confirmed.email_verified is True, confirmed


def eligible_user(spaceid, world, smtp_sink, label: str, *extra: str) -> str:
    """A LOCAL user with a verified address: the only kind that gets reset mail."""
    user_id = new_user(spaceid, world, label, *extra)
    verify_address(world, smtp_sink, user_id)
    return user_id


def reset_password(channel, user_id: str, domain_id: str):
    """UserProfile.reset_password, without a token; the answer must be Empty."""
    answer = profile(channel).reset_password(
        user_profile_pb2.UserPasswordResetRequest(user_id=user_id, domain_id=domain_id),
        timeout=RPC_TIMEOUT)
    assert isinstance(answer, empty_pb2.Empty), type(answer)
    return answer


def link_token(mail) -> str:
    """The token of the one reset link in the text part of a mail."""
    text = text_part(mail.message)
    tokens = LINK.findall(text)
    assert len(set(tokens)) == 1, f"expected one {CONSOLE_URL}/reset-password link:\n{text}"
    return tokens[0]


def reset_link(world, smtp_sink, user_id: str, channel=None) -> str:
    """Asks for a reset and returns the token of the link mailed to the user."""
    inbox = smtp_sink.inbox(user_id)
    reset_password(channel or world.channel, user_id, world.domain_id)
    return link_token(inbox.next())


def use_link(channel, token: str, **fields):
    """UserProfile.update with the reset token as the `token` metadata."""
    return update(channel, token, **fields)


def assert_error(error: grpc.RpcError, code: grpc.StatusCode, prefix: str) -> None:
    assert error.code() == code, describe(error)
    assert error.details().startswith(prefix), describe(error)


def assert_unauthenticated(error: grpc.RpcError) -> None:
    assert_error(error, grpc.StatusCode.UNAUTHENTICATED, "ERROR_AUTHENTICATE_FAILURE")


def assert_denied(error: grpc.RpcError) -> None:
    assert_error(error, grpc.StatusCode.PERMISSION_DENIED, "ERROR_PERMISSION_DENIED")


def assert_signs_in(world, user_id: str, password: str) -> str:
    tokens = issue(world.channel, world.domain_id, user_id, password)
    assert get(world.channel, tokens.access_token).user_id == user_id
    return tokens.access_token


def assert_password_refused(world, user_id: str, password: str) -> None:
    assert_unauthenticated(rpc_error(issue, world.channel, world.domain_id, user_id, password))


def no_mail_to(smtp_sink, start: int, address: str, grace: float = NO_MAIL_GRACE) -> None:
    """No mail to `address` since the sink held `start` mails, after waiting `grace` s."""
    time.sleep(grace)
    got = [str(mail.message["Subject"]) for mail in smtp_sink.received(start)
           if address.lower() in (r.lower() for r in mail.rcpt_to)]
    assert not got, f"expected no mail to {address}, got {got}"


# --- Who gets mail ------------------------------------------------------------------------


def test_an_eligible_user_is_mailed_a_reset_link(spaceid, world, smtp_sink):
    user_id = eligible_user(spaceid, world, smtp_sink, "eligible")
    inbox = smtp_sink.inbox(user_id)
    answer = reset_password(world.channel, user_id, world.domain_id)
    assert answer == empty_pb2.Empty()
    mail = inbox.next()
    message = mail.message
    assert user_id in str(message["To"]), message["To"]
    assert message.get_content_type() == "multipart/alternative", message.get_content_type()
    token = link_token(mail)
    assert f"{CONSOLE_URL}/reset-password?token={token}" in html_part(message).replace(
        "&amp;", "&"), "the HTML part must carry the same link"
    assert 'lang="en"' in html_part(message)
    assert not HANGUL.search(text_part(message)), "English is the default language"
    inbox.assert_empty(grace=NO_MAIL_GRACE)


@pytest.mark.parametrize("case", ["unknown-user", "other-domain", "external", "unverified",
                                  "disabled"])
def test_reset_for_an_ineligible_user_answers_empty_and_mails_nothing(spaceid, world, smtp_sink,
                                                                      case):
    domain_id = world.domain_id
    if case == "unknown-user":
        user_id = f"reset-nobody-{uuid.uuid4().hex[:8]}@example.com"
    elif case == "other-domain":
        user_id = eligible_user(spaceid, world, smtp_sink, "otherdomain")
        domain_id = f"domain-{uuid.uuid4().hex[:12]}"
    elif case == "external":
        # EXTERNAL users cannot sign in here, so their address cannot be verified through
        # the API: this one has an address, unverified.
        user_id = new_user(spaceid, world, "external", "--auth-type", "EXTERNAL")
    elif case == "unverified":
        user_id = new_user(spaceid, world, "unverified")
    else:
        user_id = eligible_user(spaceid, world, smtp_sink, "disabled")
        disabled = spaceid.cli("user", "disable", "--domain-id", world.domain_id,
                               "--user-id", user_id)
        assert disabled["state"] == "DISABLED", disabled
    start = smtp_sink.count()
    assert reset_password(world.channel, user_id, domain_id) == empty_pb2.Empty()
    # An eligible user asking at the same moment does get its mail: the background sender
    # is working, and had time enough to send the other one too.
    control = eligible_user(spaceid, world, smtp_sink, "control")
    control_inbox = smtp_sink.inbox(control)
    reset_password(world.channel, control, world.domain_id)
    link_token(control_inbox.next())
    no_mail_to(smtp_sink, start, user_id)
    if case == "unverified":
        # Nothing changed: the password still signs in, and no action is required.
        token = assert_signs_in(world, user_id, PASSWORD)
        assert UPDATE_PASSWORD not in get(world.channel, token).required_actions


@pytest.mark.parametrize("field", ["user_id", "domain_id"])
def test_reset_without_user_id_or_domain_id_is_refused(spaceid, world, smtp_sink, field):
    user_id = eligible_user(spaceid, world, smtp_sink, "required")
    start = smtp_sink.count()
    request = {"user_id": user_id, "domain_id": world.domain_id, field: ""}
    error = rpc_error(reset_password, world.channel, request["user_id"], request["domain_id"])
    assert_error(error, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_REQUIRED_PARAMETER")
    assert field in error.details(), describe(error)
    no_mail_to(smtp_sink, start, user_id)


def test_reset_mail_is_in_the_users_language(spaceid, world, smtp_sink):
    user_id = eligible_user(spaceid, world, smtp_sink, "korean", "--language", "ko")
    inbox = smtp_sink.inbox(user_id)
    reset_password(world.channel, user_id, world.domain_id)
    mail = inbox.next()
    assert HANGUL.search(str(mail.message["Subject"])), mail.message["Subject"]
    assert HANGUL.search(text_part(mail.message)), text_part(mail.message)
    assert 'lang="ko"' in html_part(mail.message)
    link_token(mail)


# --- The reset link -----------------------------------------------------------------------


def test_the_link_token_is_a_password_reset_token_not_signed_with_the_access_key(
        spaceid, world, smtp_sink):
    user_id = eligible_user(spaceid, world, smtp_sink, "jwt")
    token = reset_link(world, smtp_sink, user_id)
    header, payload = jwt_parts(token)
    assert header.get("alg") == "RS256", header
    assert payload.get("typ") == "PASSWORD_RESET_TOKEN", payload
    assert payload.get("exp", 0) - payload.get("iat", 0) == LINK_TTL, payload
    # The access key is the one other services verify with; its kid is in every access
    # token. No endpoint here publishes the key set, so the access token's kid stands for it.
    access = issue(world.channel, world.domain_id, user_id)
    access_kid = jwt_parts(access.access_token)[0]["kid"]
    assert header.get("kid"), header
    assert header["kid"] != access_kid, (header, access_kid)


def test_the_link_sets_a_new_password_once_and_ends_earlier_tokens(spaceid, world, smtp_sink):
    user_id = eligible_user(spaceid, world, smtp_sink, "use")
    before = issue(world.channel, world.domain_id, user_id)
    token = reset_link(world, smtp_sink, user_id)

    # Nothing changes until the link is used.
    assert_signs_in(world, user_id, PASSWORD)
    assert get(world.channel, before.access_token).user_id == user_id
    assert grant(world.channel, before.refresh_token, "USER", world.domain_id).access_token

    info = use_link(world.channel, token, password=NEW_PASSWORD)
    assert info.user_id == user_id, info

    assert_signs_in(world, user_id, NEW_PASSWORD)
    assert_password_refused(world, user_id, PASSWORD)
    assert_unauthenticated(rpc_error(get, world.channel, before.access_token))
    assert_unauthenticated(rpc_error(grant, world.channel, before.refresh_token, "USER",
                                     world.domain_id))
    # Once.
    assert_unauthenticated(rpc_error(use_link, world.channel, token, password=OTHER_PASSWORD))
    assert_password_refused(world, user_id, OTHER_PASSWORD)
    assert_signs_in(world, user_id, NEW_PASSWORD)


@pytest.mark.parametrize("fields", [
    pytest.param({"password": NEW_PASSWORD, "name": "Reset Name"}, id="password-and-name"),
    pytest.param({"password": NEW_PASSWORD, "email": "reset-elsewhere@example.org"},
                 id="password-and-email"),
    pytest.param({"password": NEW_PASSWORD, "language": "ko"}, id="password-and-language"),
    pytest.param({"password": NEW_PASSWORD, "timezone": "Asia/Seoul"}, id="password-and-timezone"),
    pytest.param({"name": "Reset Name"}, id="name-only"),
])
def test_the_link_opens_nothing_but_a_password_update(spaceid, world, smtp_sink, fields):
    user_id = eligible_user(spaceid, world, smtp_sink, "onlypassword")
    token = reset_link(world, smtp_sink, user_id)
    assert_denied(rpc_error(use_link, world.channel, token, **fields))
    # Nothing changed, and the refused call did not use the link up.
    own = sign_in(world, user_id)
    info = get(world.channel, own)
    assert info.name == "Reset Tester" and info.email == user_id and not info.language.startswith(
        "ko"), info
    assert use_link(world.channel, token, password=NEW_PASSWORD).user_id == user_id
    assert_signs_in(world, user_id, NEW_PASSWORD)


def test_the_link_token_is_not_an_access_or_refresh_token(spaceid, world, smtp_sink):
    user_id = eligible_user(spaceid, world, smtp_sink, "notaccess")
    token = reset_link(world, smtp_sink, user_id)
    assert_unauthenticated(rpc_error(get, world.channel, token))
    for scope in ("USER", "DOMAIN"):
        assert_unauthenticated(rpc_error(grant, world.channel, token, scope, world.domain_id))
    # Still good for what it is for.
    assert use_link(world.channel, token, password=NEW_PASSWORD).user_id == user_id
    assert_signs_in(world, user_id, NEW_PASSWORD)


def test_a_newer_link_ends_the_older_one(spaceid, world, smtp_sink):
    user_id = eligible_user(spaceid, world, smtp_sink, "newer")
    older = reset_link(world, smtp_sink, user_id)
    newer = reset_link(world, smtp_sink, user_id)
    assert older != newer
    assert_unauthenticated(rpc_error(use_link, world.channel, older, password=OTHER_PASSWORD))
    assert_signs_in(world, user_id, PASSWORD)
    assert use_link(world.channel, newer, password=NEW_PASSWORD).user_id == user_id
    assert_signs_in(world, user_id, NEW_PASSWORD)


def test_a_password_change_ends_the_link(spaceid, world, smtp_sink):
    user_id = eligible_user(spaceid, world, smtp_sink, "changed")
    token = reset_link(world, smtp_sink, user_id)
    update(world.channel, sign_in(world, user_id), password=NEW_PASSWORD)
    assert_unauthenticated(rpc_error(use_link, world.channel, token, password=OTHER_PASSWORD))
    assert_password_refused(world, user_id, OTHER_PASSWORD)
    assert_signs_in(world, user_id, NEW_PASSWORD)


def test_a_disable_ends_the_link(spaceid, world, smtp_sink):
    user_id = eligible_user(spaceid, world, smtp_sink, "disable")
    token = reset_link(world, smtp_sink, user_id)
    for action, state in (("disable", "DISABLED"), ("enable", "ENABLED")):
        printed = spaceid.cli("user", action, "--domain-id", world.domain_id, "--user-id", user_id)
        assert printed["state"] == state, printed
    assert_unauthenticated(rpc_error(use_link, world.channel, token, password=NEW_PASSWORD))
    assert_password_refused(world, user_id, NEW_PASSWORD)
    assert_signs_in(world, user_id, PASSWORD)


def test_a_link_cannot_set_a_weak_password(spaceid, world, smtp_sink):
    user_id = eligible_user(spaceid, world, smtp_sink, "weak")
    token = reset_link(world, smtp_sink, user_id)
    error = rpc_error(use_link, world.channel, token, password="short")
    assert_error(error, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_INVALID_PARAMETER")
    assert "password" in error.details(), describe(error)
    assert_signs_in(world, user_id, PASSWORD)
    # The refused password did not use the link up.
    assert use_link(world.channel, token, password=NEW_PASSWORD).user_id == user_id
    assert_signs_in(world, user_id, NEW_PASSWORD)


# --- Three mails an hour ------------------------------------------------------------------


def test_at_most_three_reset_mails_an_hour(spaceid, world, smtp_sink):
    user_id = eligible_user(spaceid, world, smtp_sink, "limit")
    inbox = smtp_sink.inbox(user_id)
    for _ in range(5):
        assert reset_password(world.channel, user_id, world.domain_id) == empty_pb2.Empty()
    tokens = [link_token(inbox.next()) for _ in range(3)]
    inbox.assert_empty(grace=NO_MAIL_GRACE)
    assert len(set(tokens)) == 3, tokens
    # The requests that sent nothing changed nothing: a mailed link still works (the
    # newest; the mails may arrive in any order, so each is tried and exactly one works).
    outcomes = []
    for token in tokens:
        try:
            outcomes.append(use_link(world.channel, token, password=NEW_PASSWORD).user_id)
        except grpc.RpcError as error:
            assert_unauthenticated(error)
            outcomes.append(describe(error))
    assert outcomes.count(user_id) == 1, outcomes
    assert_signs_in(world, user_id, NEW_PASSWORD)
    # And a sixth request within the hour sends nothing either.
    reset_password(world.channel, user_id, world.domain_id)
    inbox.assert_empty(grace=NO_MAIL_GRACE)


# --- Temporary-password mode --------------------------------------------------------------


@pytest.fixture(scope="module")
def temporary(spaceid, world):
    """A second server on the same database that mails temporary passwords."""
    server = spaceid.serve("temporary-password",
                           env={"SPACEID_PASSWORD_RESET": "temporary-password"})
    yield server
    status = server.stop()
    assert status == 0, f"temporary-password server exited with {status}\n{server.log_tail()}"


def temporary_password_in(mail) -> str:
    text = text_part(mail.message)
    found = set(TEMPORARY_PASSWORD.findall(text))
    assert len(found) == 1, f"expected one 16-character password, found {found}:\n{text}"
    password = found.pop()
    assert re.search("[a-z]", password) and re.search("[A-Z]", password) \
        and re.search("[0-9]", password), password
    assert LINK.search(text) is None, "temporary-password mode mails no link"
    return password


def issue_when_in_effect(world, user_id: str, password: str, seconds: float = 3.0):
    """Token.issue with a password that takes effect just after it is mailed; a few tries."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return issue(world.channel, world.domain_id, user_id, password)
        except grpc.RpcError as error:
            assert_unauthenticated(error)
            if time.monotonic() > deadline:
                raise AssertionError(f"the mailed password did not sign in within {seconds} s: "
                                     f"{describe(error)}")
            time.sleep(0.75)


def test_temporary_password_mode_mails_a_password_that_requires_a_new_one(spaceid, world,
                                                                          smtp_sink, temporary):
    user_id = eligible_user(spaceid, world, smtp_sink, "temporary")
    before = issue(world.channel, world.domain_id, user_id)
    inbox = smtp_sink.inbox(user_id)
    assert reset_password(temporary.channel, user_id, world.domain_id) == empty_pb2.Empty()
    temporary_password = temporary_password_in(inbox.next())

    tokens = issue_when_in_effect(world, user_id, temporary_password)
    assert claims(tokens.access_token).get("permissions") == ["identity:UserProfile"], \
        claims(tokens.access_token)
    assert_password_refused(world, user_id, PASSWORD)
    # Every earlier token died.
    assert_unauthenticated(rpc_error(get, world.channel, before.access_token))
    assert_unauthenticated(rpc_error(grant, world.channel, before.refresh_token, "USER",
                                     world.domain_id))

    info = get(world.channel, tokens.access_token)
    assert UPDATE_PASSWORD in info.required_actions, info
    error = rpc_error(grant, world.channel, tokens.refresh_token, "USER", world.domain_id)
    assert_error(error, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_UPDATE_PASSWORD_REQUIRED")

    updated = update(world.channel, tokens.access_token, password=NEW_PASSWORD)
    assert UPDATE_PASSWORD not in updated.required_actions, updated

    fresh = issue(world.channel, world.domain_id, user_id, NEW_PASSWORD)
    assert "permissions" not in claims(fresh.access_token), claims(fresh.access_token)
    assert UPDATE_PASSWORD not in get(world.channel, fresh.access_token).required_actions
    granted = grant(world.channel, fresh.refresh_token, "USER", world.domain_id)
    assert get(world.channel, granted.access_token).user_id == user_id
    assert_password_refused(world, user_id, temporary_password)


def test_temporary_password_mode_changes_nothing_for_an_ineligible_user(spaceid, world,
                                                                        smtp_sink, temporary):
    user_id = new_user(spaceid, world, "tempunverified")
    before = issue(world.channel, world.domain_id, user_id)
    start = smtp_sink.count()
    assert reset_password(temporary.channel, user_id, world.domain_id) == empty_pb2.Empty()
    no_mail_to(smtp_sink, start, user_id)
    assert get(world.channel, before.access_token).user_id == user_id
    tokens = issue(world.channel, world.domain_id, user_id, PASSWORD)
    assert "permissions" not in claims(tokens.access_token), claims(tokens.access_token)
    assert UPDATE_PASSWORD not in get(world.channel, tokens.access_token).required_actions
    assert grant(world.channel, tokens.refresh_token, "USER", world.domain_id).access_token

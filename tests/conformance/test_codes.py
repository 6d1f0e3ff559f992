"""One-time codes by e-mail: verify_email / confirm_email, the five-tries rule, expiry, and
MFA by e-mail (enable_mfa, confirm_mfa, disable_mfa, and Token.issue in two steps).

The codes are read from real mail: the server sends through SMTP to the session's sink
(`smtp_sink` in conftest), and each test reads the mail to the address it expects.

Every test works on users it creates for itself through the admin CLI, with addresses of
their own, so no other test sees a changed e-mail address or MFA setting.
"""

import re
import time
import uuid

import grpc
import pytest
from spaceone.api.identity.v2 import token_pb2, token_pb2_grpc, user_pb2, user_profile_pb2

from conformance_support import (PASSWORD, RPC_TIMEOUT, auth, claims, describe, get, issue, profile,
                                 rpc_error, struct, struct_to_dict, update)
from smtp_sink import code_in, html_part, text_part

MfaState = user_pb2.MFA.State
# Code lifetime of the second server, the one that lets codes expire during a test.
SHORT_TTL = 2
HANGUL = re.compile(r"[\uac00-\ud7a3]")
MALFORMED_CODES = [
    pytest.param("12345", id="5-digits"),
    pytest.param("1234567", id="7-digits"),
    pytest.param("12345a", id="letter"),
    pytest.param(" 123456", id="space"),
    pytest.param("\uff11\uff12\uff13\uff14\uff15\uff16", id="fullwidth-digits"),
]


# --- Helpers ----------------------------------------------------------------------------


def new_user(spaceid, world, label: str) -> str:
    """A user of its own, created through the admin CLI; its e-mail address is its user_id."""
    user_id = f"codes-{label}-{uuid.uuid4().hex[:8]}@example.com"
    created = spaceid.cli("user", "create", "--domain-id", world.domain_id, "--user-id", user_id,
                          "--password", PASSWORD, "--name", "Codes Tester", "--email", user_id)
    assert created["user_id"] == user_id, created
    return user_id


def other_address(label: str) -> str:
    return f"codes-{label}-{uuid.uuid4().hex[:8]}@example.org"


def sign_in(world, user_id: str) -> str:
    return issue(world.channel, world.domain_id, user_id).access_token


def wrong(code: str) -> str:
    """A well-formed code that is not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def verify_email(channel, token, email: str | None = None):
    request = user_profile_pb2.VerifyEmailRequest()
    if email is not None:
        request.email = email
    return profile(channel).verify_email(request, metadata=auth(token), timeout=RPC_TIMEOUT)


def confirm_email(channel, token, code: str):
    return profile(channel).confirm_email(user_profile_pb2.ConfirmEmailRequest(verify_code=code),
                                          metadata=auth(token), timeout=RPC_TIMEOUT)


def enable_mfa(channel, token, mfa_type: str = "EMAIL", options: dict | None = None):
    request = user_profile_pb2.EnableMFARequest(mfa_type=mfa_type)
    if options is not None:
        request.options.CopyFrom(struct(options))
    return profile(channel).enable_mfa(request, metadata=auth(token), timeout=RPC_TIMEOUT)


def disable_mfa(channel, token):
    return profile(channel).disable_mfa(user_profile_pb2.DisableMFARequest(),
                                        metadata=auth(token), timeout=RPC_TIMEOUT)


def confirm_mfa(channel, token, code: str):
    return profile(channel).confirm_mfa(user_profile_pb2.ConfirmMFARequest(verify_code=code),
                                        metadata=auth(token), timeout=RPC_TIMEOUT)


def issue_mfa(channel, domain_id: str, user_id: str, verify_code: str,
              password: str = PASSWORD) -> token_pb2.TokenInfo:
    """The second step of a sign-in: Token.issue with auth_type MFA and the mailed code."""
    request = token_pb2.IssueTokenRequest(
        credentials=struct({"user_id": user_id, "password": password}),
        auth_type=token_pb2.IssueTokenRequest.AuthType.MFA,
        verify_code=verify_code,
        domain_id=domain_id,
    )
    assert request.auth_type == 3
    return token_pb2_grpc.TokenStub(channel).issue(request, timeout=RPC_TIMEOUT)


def assert_error(error: grpc.RpcError, code: grpc.StatusCode, prefix: str) -> None:
    assert error.code() == code, describe(error)
    assert error.details().startswith(prefix), describe(error)


def assert_wrong_code(error: grpc.RpcError) -> None:
    assert_error(error, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_INVALID_PARAMETER")
    assert "verify_code" in error.details(), describe(error)


def assert_too_many(error: grpc.RpcError) -> None:
    assert_error(error, grpc.StatusCode.RESOURCE_EXHAUSTED, "ERROR_TOO_MANY_ATTEMPTS")


def assert_mfa_required(error: grpc.RpcError) -> None:
    assert_error(error, grpc.StatusCode.UNAUTHENTICATED, "ERROR_MFA_REQUIRED:")


def mfa_options(info) -> dict:
    return struct_to_dict(info.mfa.options)


def with_mfa_on(spaceid, world, smtp_sink, label: str) -> tuple[str, str, str]:
    """A new user with MFA by e-mail turned on: its user_id, an access token from before MFA
    was on (refused now: turning MFA on ends every session), and the MFA address."""
    user_id = new_user(spaceid, world, label)
    token = sign_in(world, user_id)
    address = other_address(label)
    inbox = smtp_sink.inbox(address)
    enable_mfa(world.channel, token, options={"email": address})
    info = confirm_mfa(world.channel, token, code_in(inbox.next()))
    assert info.mfa.state == MfaState.ENABLED, info
    return user_id, token, address


def sign_in_with_mfa(world, inbox, user_id: str) -> str:
    """Both steps of a sign-in with MFA by e-mail on, the code read from `inbox`; the access
    token."""
    assert_mfa_required(rpc_error(issue, world.channel, world.domain_id, user_id))
    code = code_in(inbox.next())
    return issue_mfa(world.channel, world.domain_id, user_id, code).access_token


def mfa_code_for_sign_in(world, smtp_sink, user_id: str, address: str) -> str:
    """The first step of a sign-in with MFA on, and the code it mails."""
    inbox = smtp_sink.inbox(address)
    assert_mfa_required(rpc_error(issue, world.channel, world.domain_id, user_id))
    return code_in(inbox.next())


@pytest.fixture(scope="module")
def short_lived(spaceid, world):
    """A second server on the same database whose codes live SHORT_TTL seconds."""
    server = spaceid.serve("short-ttl", env={"SPACEID_EMAIL_CODE_TTL": str(SHORT_TTL),
                                             "SPACEID_MFA_CODE_TTL": str(SHORT_TTL)})
    yield server
    status = server.stop()
    assert status == 0, f"short-ttl server exited with {status}\n{server.log_tail()}"


def sleep_past_expiry(sent_at: float) -> None:
    time.sleep(max(0.0, sent_at + SHORT_TTL + 0.5 - time.monotonic()))


# --- verify_email and confirm_email -------------------------------------------------------


def test_verify_email_mails_a_code_that_confirms_the_address(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "verify")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    assert get(world.channel, token).email_verified is False

    verify_email(world.channel, token)
    mail = inbox.next()
    message = mail.message
    assert message.get_content_type() == "multipart/alternative", message.get_content_type()
    assert user_id in str(message["To"]), message["To"]
    code = code_in(mail)
    assert code in html_part(message), "the HTML part must carry the same code"
    assert 'lang="en"' in html_part(message)
    assert not HANGUL.search(text_part(message)), "English is the default language"
    # Sending alone verifies nothing.
    assert get(world.channel, token).email_verified is False

    confirmed = confirm_email(world.channel, token, code)
    assert confirmed.user_id == user_id
    assert confirmed.email == user_id
    assert confirmed.email_verified is True
    assert get(world.channel, token).email_verified is True
    # Mail went through SMTP, not into the outbox folder.
    assert not list((spaceid.workdir / "outbox").glob("*.eml"))


def test_a_used_email_code_is_refused(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "used")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    verify_email(world.channel, token)
    code = code_in(inbox.next())
    assert confirm_email(world.channel, token, code).email_verified is True
    assert_wrong_code(rpc_error(confirm_email, world.channel, token, code))


def test_verify_email_with_a_new_address_sets_it_unverified_and_mails_it(spaceid, world,
                                                                         smtp_sink):
    user_id = new_user(spaceid, world, "newaddr")
    token = sign_in(world, user_id)
    old_inbox = smtp_sink.inbox(user_id)
    verify_email(world.channel, token)
    old_code = code_in(old_inbox.next())

    new_address = other_address("newaddr")
    new_inbox = smtp_sink.inbox(new_address)
    verify_email(world.channel, token, email=new_address)
    info = get(world.channel, token)
    assert info.email == new_address
    assert info.email_verified is False
    new_code = code_in(new_inbox.next())
    old_inbox.assert_empty()

    # The code sent to the old address was replaced, and was for another address anyway.
    if old_code != new_code:
        assert_wrong_code(rpc_error(confirm_email, world.channel, token, old_code))
    confirmed = confirm_email(world.channel, token, new_code)
    assert confirmed.email == new_address
    assert confirmed.email_verified is True


def test_a_code_for_an_address_the_user_no_longer_has_is_refused(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "moved")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    verify_email(world.channel, token)
    code = code_in(inbox.next())
    update(world.channel, token, email=other_address("moved"))
    assert_wrong_code(rpc_error(confirm_email, world.channel, token, code))
    assert get(world.channel, token).email_verified is False


def test_verification_mail_is_in_the_users_language(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "korean")
    token = sign_in(world, user_id)
    update(world.channel, token, language="ko")
    inbox = smtp_sink.inbox(user_id)
    verify_email(world.channel, token)
    mail = inbox.next()
    assert HANGUL.search(str(mail.message["Subject"])), mail.message["Subject"]
    assert HANGUL.search(text_part(mail.message)), text_part(mail.message)
    assert 'lang="ko"' in html_part(mail.message)
    assert confirm_email(world.channel, token, code_in(mail)).email_verified is True


def test_confirm_email_refuses_a_wrong_code_and_keeps_the_right_one(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "wrong")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    verify_email(world.channel, token)
    code = code_in(inbox.next())
    assert_wrong_code(rpc_error(confirm_email, world.channel, token, wrong(code)))
    assert get(world.channel, token).email_verified is False
    assert confirm_email(world.channel, token, code).email_verified is True


def test_confirm_email_without_a_code_sent_is_refused(spaceid, world):
    user_id = new_user(spaceid, world, "nocode")
    token = sign_in(world, user_id)
    assert_wrong_code(rpc_error(confirm_email, world.channel, token, "123456"))
    assert get(world.channel, token).email_verified is False


@pytest.mark.parametrize("malformed", MALFORMED_CODES)
def test_confirm_email_refuses_a_code_that_is_not_six_digits(spaceid, world, smtp_sink,
                                                            malformed):
    user_id = new_user(spaceid, world, "malformed")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    verify_email(world.channel, token)
    code = code_in(inbox.next())
    for _ in range(6):
        assert_wrong_code(rpc_error(confirm_email, world.channel, token, malformed))
    # A malformed code is refused before it is counted: six of them leave every try.
    for _ in range(4):
        assert_wrong_code(rpc_error(confirm_email, world.channel, token, wrong(code)))
    assert confirm_email(world.channel, token, code).email_verified is True


def test_confirm_email_refuses_an_empty_code(spaceid, world):
    token = sign_in(world, new_user(spaceid, world, "empty"))
    error = rpc_error(confirm_email, world.channel, token, "")
    assert_error(error, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_")
    assert "verify_code" in error.details(), describe(error)


def test_verify_and_confirm_email_need_a_token(world):
    for call in (lambda: profile(world.channel).verify_email(
                     user_profile_pb2.VerifyEmailRequest(), timeout=RPC_TIMEOUT),
                 lambda: profile(world.channel).confirm_email(
                     user_profile_pb2.ConfirmEmailRequest(verify_code="123456"),
                     timeout=RPC_TIMEOUT)):
        assert_error(rpc_error(call), grpc.StatusCode.UNAUTHENTICATED, "ERROR_")


def test_verify_email_refuses_a_malformed_address(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "badaddr")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    error = rpc_error(verify_email, world.channel, token, email="not-an-email")
    assert_error(error, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_INVALID_PARAMETER")
    assert "email" in error.details(), describe(error)
    assert get(world.channel, token).email == user_id
    inbox.assert_empty()


# --- Five tries ---------------------------------------------------------------------------


def test_five_wrong_codes_lock_the_code_even_against_the_right_one(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "five")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    verify_email(world.channel, token)
    code = code_in(inbox.next())
    for _ in range(5):
        assert_wrong_code(rpc_error(confirm_email, world.channel, token, wrong(code)))

    assert_too_many(rpc_error(confirm_email, world.channel, token, code))
    assert get(world.channel, token).email_verified is False
    # No new code while the locked one is live: nothing is mailed.
    assert_too_many(rpc_error(verify_email, world.channel, token))
    inbox.assert_empty()
    assert_too_many(rpc_error(confirm_email, world.channel, token, code))
    assert get(world.channel, token).email_verified is False


def test_four_wrong_codes_leave_the_fifth_try_to_the_right_one(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "four")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    verify_email(world.channel, token)
    code = code_in(inbox.next())
    for _ in range(4):
        assert_wrong_code(rpc_error(confirm_email, world.channel, token, wrong(code)))
    assert confirm_email(world.channel, token, code).email_verified is True


def test_a_resend_does_not_give_new_tries(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "resend")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    verify_email(world.channel, token)
    first = code_in(inbox.next())
    for _ in range(3):
        assert_wrong_code(rpc_error(confirm_email, world.channel, token, wrong(first)))

    verify_email(world.channel, token)
    second = code_in(inbox.next())
    for _ in range(2):
        assert_wrong_code(rpc_error(confirm_email, world.channel, token, wrong(second)))
    assert_too_many(rpc_error(confirm_email, world.channel, token, second))


# --- Expiry (a second server whose codes live SHORT_TTL seconds) ----------------------------


def test_an_expired_email_code_is_refused(spaceid, world, smtp_sink, short_lived):
    user_id = new_user(spaceid, world, "expired")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    sent_at = time.monotonic()
    verify_email(short_lived.channel, token)
    code = code_in(inbox.next())
    sleep_past_expiry(sent_at)
    assert_wrong_code(rpc_error(confirm_email, world.channel, token, code))
    assert get(world.channel, token).email_verified is False


def test_a_locked_code_can_be_replaced_once_it_has_expired(spaceid, world, smtp_sink,
                                                          short_lived):
    user_id = new_user(spaceid, world, "relock")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    sent_at = time.monotonic()
    verify_email(short_lived.channel, token)
    code = code_in(inbox.next())
    for _ in range(5):
        assert_wrong_code(rpc_error(confirm_email, world.channel, token, wrong(code)))
    assert_too_many(rpc_error(verify_email, world.channel, token))
    assert time.monotonic() < sent_at + SHORT_TTL, "too slow: the code expired during the test"

    sleep_past_expiry(sent_at)
    verify_email(world.channel, token)
    fresh = code_in(inbox.next())
    # A new code, with every try of its own.
    for _ in range(4):
        assert_wrong_code(rpc_error(confirm_email, world.channel, token, wrong(fresh)))
    assert confirm_email(world.channel, token, fresh).email_verified is True


def test_an_expired_mfa_sign_in_code_is_refused(spaceid, world, smtp_sink, short_lived):
    user_id, _, address = with_mfa_on(spaceid, world, smtp_sink, "mfaexpired")
    inbox = smtp_sink.inbox(address)
    sent_at = time.monotonic()
    assert_mfa_required(rpc_error(issue, short_lived.channel, world.domain_id, user_id))
    code = code_in(inbox.next())
    sleep_past_expiry(sent_at)
    error = rpc_error(issue_mfa, world.channel, world.domain_id, user_id, code)
    assert_error(error, grpc.StatusCode.UNAUTHENTICATED, "ERROR_AUTHENTICATE_FAILURE")


# --- MFA: enable_mfa, confirm_mfa, disable_mfa -------------------------------------------------


def test_enable_mfa_mails_a_code_to_the_mfa_address_and_confirm_turns_it_on(spaceid, world,
                                                                           smtp_sink):
    user_id = new_user(spaceid, world, "enable")
    token = sign_in(world, user_id)
    address = other_address("enable")
    mfa_inbox, user_inbox = smtp_sink.inbox(address), smtp_sink.inbox(user_id)

    pending = enable_mfa(world.channel, token, options={"email": address})
    assert pending.user_id == user_id
    assert pending.mfa.state == MfaState.DISABLED, pending.mfa
    assert pending.mfa.mfa_type == "EMAIL", pending.mfa
    assert mfa_options(pending).get("email") == address, pending.mfa
    mail = mfa_inbox.next()
    assert mail.message.get_content_type() == "multipart/alternative"
    code = code_in(mail)
    user_inbox.assert_empty()
    # Pending is not on: a password alone still signs in, and mails nothing.
    assert issue(world.channel, world.domain_id, user_id).access_token
    mfa_inbox.assert_empty()

    assert_wrong_code(rpc_error(confirm_mfa, world.channel, token, wrong(code)))
    assert get(world.channel, token).mfa.state == MfaState.DISABLED

    enabled = confirm_mfa(world.channel, token, code)
    assert enabled.mfa.state == MfaState.ENABLED, enabled.mfa
    assert enabled.mfa.mfa_type == "EMAIL"
    assert mfa_options(enabled).get("email") == address
    # Turning MFA on ends every session from before, the caller's too.
    error = rpc_error(get, world.channel, token)
    assert_error(error, grpc.StatusCode.UNAUTHENTICATED, "ERROR_AUTHENTICATE_FAILURE")
    fresh = sign_in_with_mfa(world, mfa_inbox, user_id)
    assert get(world.channel, fresh).mfa.state == MfaState.ENABLED


def test_enable_mfa_when_it_is_on_is_refused(spaceid, world, smtp_sink):
    user_id, _, address = with_mfa_on(spaceid, world, smtp_sink, "again")
    inbox = smtp_sink.inbox(address)
    token = sign_in_with_mfa(world, inbox, user_id)
    another = other_address("again")
    another_inbox = smtp_sink.inbox(another)
    error = rpc_error(enable_mfa, world.channel, token, options={"email": another})
    assert_error(error, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_INVALID_STATE")
    info = get(world.channel, token)
    assert info.mfa.state == MfaState.ENABLED
    assert mfa_options(info).get("email") == address
    inbox.assert_empty()
    another_inbox.assert_empty()


def test_sign_in_with_mfa_takes_two_steps(spaceid, world, smtp_sink):
    user_id, _, address = with_mfa_on(spaceid, world, smtp_sink, "twostep")
    inbox = smtp_sink.inbox(address)
    error = rpc_error(issue, world.channel, world.domain_id, user_id)
    assert_mfa_required(error)
    code = code_in(inbox.next())

    tokens = issue_mfa(world.channel, world.domain_id, user_id, code)
    assert claims(tokens.access_token)["aud"] == user_id
    assert claims(tokens.refresh_token)["aud"] == user_id
    assert get(world.channel, tokens.access_token).user_id == user_id
    # The code works once.
    error = rpc_error(issue_mfa, world.channel, world.domain_id, user_id, code)
    assert_error(error, grpc.StatusCode.UNAUTHENTICATED, "ERROR_AUTHENTICATE_FAILURE")
    inbox.assert_empty()


def test_mfa_sign_in_with_a_wrong_password_mails_nothing(spaceid, world, smtp_sink):
    user_id, _, address = with_mfa_on(spaceid, world, smtp_sink, "badpw")
    inbox = smtp_sink.inbox(address)
    error = rpc_error(issue, world.channel, world.domain_id, user_id, "Wr0ngPassw0rd!")
    assert_error(error, grpc.StatusCode.UNAUTHENTICATED, "ERROR_AUTHENTICATE_FAILURE")
    inbox.assert_empty()
    # Nor does the code of a real first step let a wrong password in.
    code = mfa_code_for_sign_in(world, smtp_sink, user_id, address)
    error = rpc_error(issue_mfa, world.channel, world.domain_id, user_id, code,
                      password="Wr0ngPassw0rd!")
    assert_error(error, grpc.StatusCode.UNAUTHENTICATED, "ERROR_AUTHENTICATE_FAILURE")
    assert issue_mfa(world.channel, world.domain_id, user_id, code).access_token


def test_mfa_sign_in_with_a_wrong_code_is_refused(spaceid, world, smtp_sink):
    user_id, _, address = with_mfa_on(spaceid, world, smtp_sink, "wrongmfa")
    code = mfa_code_for_sign_in(world, smtp_sink, user_id, address)
    error = rpc_error(issue_mfa, world.channel, world.domain_id, user_id, wrong(code))
    assert_error(error, grpc.StatusCode.UNAUTHENTICATED, "ERROR_AUTHENTICATE_FAILURE")
    assert issue_mfa(world.channel, world.domain_id, user_id, code).access_token


def test_a_new_first_step_replaces_the_sign_in_code(spaceid, world, smtp_sink):
    user_id, _, address = with_mfa_on(spaceid, world, smtp_sink, "replace")
    first = mfa_code_for_sign_in(world, smtp_sink, user_id, address)
    second = mfa_code_for_sign_in(world, smtp_sink, user_id, address)
    if first != second:
        error = rpc_error(issue_mfa, world.channel, world.domain_id, user_id, first)
        assert_error(error, grpc.StatusCode.UNAUTHENTICATED, "ERROR_AUTHENTICATE_FAILURE")
    assert issue_mfa(world.channel, world.domain_id, user_id, second).access_token


@pytest.mark.parametrize("malformed", MALFORMED_CODES + [pytest.param("", id="empty")])
def test_mfa_sign_in_refuses_a_code_that_is_not_six_digits(spaceid, world, smtp_sink,
                                                          malformed):
    user_id, _, address = with_mfa_on(spaceid, world, smtp_sink, "mfamalformed")
    inbox = smtp_sink.inbox(address)
    error = rpc_error(issue_mfa, world.channel, world.domain_id, user_id, malformed)
    assert_error(error, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_")
    assert "verify_code" in error.details(), describe(error)
    inbox.assert_empty()


def test_mfa_sign_in_for_a_user_without_mfa_is_refused(spaceid, world):
    user_id = new_user(spaceid, world, "nomfa")
    error = rpc_error(issue_mfa, world.channel, world.domain_id, user_id, "123456")
    assert_error(error, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_INVALID_PARAMETER")
    # The password alone signs the user in.
    assert issue(world.channel, world.domain_id, user_id).access_token


def test_disable_mfa_mails_a_code_and_confirm_turns_it_off(spaceid, world, smtp_sink):
    user_id, _, address = with_mfa_on(spaceid, world, smtp_sink, "disable")
    inbox, user_inbox = smtp_sink.inbox(address), smtp_sink.inbox(user_id)
    token = sign_in_with_mfa(world, inbox, user_id)

    requested = disable_mfa(world.channel, token)
    assert requested.mfa.state == MfaState.ENABLED, "disable_mfa alone changes nothing"
    code = code_in(inbox.next())
    user_inbox.assert_empty()
    assert_mfa_required(rpc_error(issue, world.channel, world.domain_id, user_id))
    inbox.next()  # the sign-in code of that attempt

    assert_wrong_code(rpc_error(confirm_mfa, world.channel, token, wrong(code)))
    assert get(world.channel, token).mfa.state == MfaState.ENABLED
    disabled = confirm_mfa(world.channel, token, code)
    assert disabled.mfa.state == MfaState.DISABLED, disabled.mfa
    # Turning MFA off ends every session from before too.
    error = rpc_error(get, world.channel, token)
    assert_error(error, grpc.StatusCode.UNAUTHENTICATED, "ERROR_AUTHENTICATE_FAILURE")

    # The password alone signs in again, and nothing is mailed.
    token = sign_in(world, user_id)
    assert get(world.channel, token).mfa.state == MfaState.DISABLED
    inbox.assert_empty()
    error = rpc_error(disable_mfa, world.channel, token)
    assert_error(error, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_INVALID_STATE")

    # And it can be turned on again.
    enable_mfa(world.channel, token, options={"email": address})
    assert confirm_mfa(world.channel, token, code_in(inbox.next())).mfa.state == MfaState.ENABLED


def test_disable_mfa_when_it_is_not_on_is_refused(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "notenabled")
    token = sign_in(world, user_id)
    error = rpc_error(disable_mfa, world.channel, token)
    assert_error(error, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_INVALID_STATE")

    # Pending (enabled but not confirmed) is not on either.
    address = other_address("notenabled")
    inbox = smtp_sink.inbox(address)
    enable_mfa(world.channel, token, options={"email": address})
    inbox.next()
    error = rpc_error(disable_mfa, world.channel, token)
    assert_error(error, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_INVALID_STATE")
    inbox.assert_empty()


def test_an_mfa_code_works_once(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "mfaonce")
    token = sign_in(world, user_id)
    address = other_address("mfaonce")
    inbox = smtp_sink.inbox(address)
    enable_mfa(world.channel, token, options={"email": address})
    code = code_in(inbox.next())
    assert confirm_mfa(world.channel, token, code).mfa.state == MfaState.ENABLED
    token = sign_in_with_mfa(world, inbox, user_id)
    disable_mfa(world.channel, token)
    disable_code = code_in(inbox.next())
    if disable_code != code:
        # The enable code is used, and was for turning MFA on anyway.
        assert_wrong_code(rpc_error(confirm_mfa, world.channel, token, code))
    assert confirm_mfa(world.channel, token, disable_code).mfa.state == MfaState.DISABLED


@pytest.mark.parametrize("mfa_type, options", [
    pytest.param("SMS", {"email": "x@example.org"}, id="unknown-type"),
    pytest.param("EMAIL", {}, id="no-email"),
    pytest.param("EMAIL", None, id="no-options"),
    pytest.param("EMAIL", {"email": "not-an-email"}, id="malformed-email"),
])
def test_enable_mfa_refuses_bad_settings(spaceid, world, smtp_sink, mfa_type, options):
    user_id = new_user(spaceid, world, "badmfa")
    token = sign_in(world, user_id)
    inbox = smtp_sink.inbox(user_id)
    before = smtp_sink.count()
    error = rpc_error(enable_mfa, world.channel, token, mfa_type=mfa_type, options=options)
    assert_error(error, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_")
    assert error.details().startswith(("ERROR_INVALID_PARAMETER", "ERROR_REQUIRED_PARAMETER")), \
        describe(error)
    info = get(world.channel, token)
    assert info.mfa.state != MfaState.ENABLED
    assert not mfa_options(info), info.mfa
    inbox.assert_empty()
    assert not [mail for mail in smtp_sink.received(before) if "x@example.org" in mail.rcpt_to]
    # Nothing changed: the password alone still signs in.
    assert issue(world.channel, world.domain_id, user_id).access_token


def test_confirm_mfa_refuses_a_code_that_is_not_six_digits(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "confmalformed")
    token = sign_in(world, user_id)
    address = other_address("confmalformed")
    inbox = smtp_sink.inbox(address)
    enable_mfa(world.channel, token, options={"email": address})
    code = code_in(inbox.next())
    for malformed in ["12345", "1234567", "abcdef", ""]:
        error = rpc_error(confirm_mfa, world.channel, token, malformed)
        assert_error(error, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_")
    assert confirm_mfa(world.channel, token, code).mfa.state == MfaState.ENABLED


# --- Mail that cannot be delivered ----------------------------------------------------------


def test_verify_email_when_the_mail_is_refused_is_unavailable(spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "undeliverable")
    token = sign_in(world, user_id)
    refused = other_address("refused")
    smtp_sink.refused.add(refused)
    error = rpc_error(verify_email, world.channel, token, email=refused)
    assert_error(error, grpc.StatusCode.UNAVAILABLE, "ERROR_MAIL_UNAVAILABLE")
    assert get(world.channel, token).email_verified is False


def test_mfa_sign_in_when_the_code_cannot_be_mailed_is_unavailable(spaceid, world, smtp_sink):
    user_id, _, address = with_mfa_on(spaceid, world, smtp_sink, "nomail")
    smtp_sink.refused.add(address)
    try:
        error = rpc_error(issue, world.channel, world.domain_id, user_id)
        assert_error(error, grpc.StatusCode.UNAVAILABLE, "ERROR_MAIL_UNAVAILABLE")
    finally:
        smtp_sink.refused.discard(address)
    # Once mail goes through again, so does the sign-in.
    code = mfa_code_for_sign_in(world, smtp_sink, user_id, address)
    assert issue_mfa(world.channel, world.domain_id, user_id, code).access_token


def totp(secret_base32: str, at: float | None = None) -> str:
    """The RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret at a time."""
    import base64
    import hashlib
    import hmac
    import struct as binary
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, binary.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = binary.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def test_mfa_by_authenticator_app_shows_the_secret_once_and_each_code_works_once(
        spaceid, world, smtp_sink):
    user_id = new_user(spaceid, world, "totp")
    token = sign_in(world, user_id)
    before = smtp_sink.count()
    info = enable_mfa(world.channel, token, mfa_type="OTP")
    options = mfa_options(info)
    assert info.mfa.state == MfaState.DISABLED
    assert info.mfa.mfa_type == "OTP"
    secret = options["otp_secret"]
    assert options["otpauth_uri"].startswith("otpauth://totp/"), options
    assert f"secret={secret}" in options["otpauth_uri"], options
    assert "otp_secret" not in mfa_options(get(world.channel, token)), "shown once only"

    # Codes near a step's end could expire mid-test: start at the beginning of a step.
    time.sleep(max(0.0, 30 - time.time() % 30 + 0.2) if time.time() % 30 > 25 else 0)
    code = totp(secret)
    assert confirm_mfa(world.channel, token, code).mfa.state == MfaState.ENABLED
    assert_mfa_required(rpc_error(issue, world.channel, world.domain_id, user_id))
    error = rpc_error(issue_mfa, world.channel, world.domain_id, user_id, code)
    assert_error(error, grpc.StatusCode.UNAUTHENTICATED, "ERROR_AUTHENTICATE_FAILURE")
    assert smtp_sink.count() == before, "no mail for an authenticator app"

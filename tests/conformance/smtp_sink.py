"""A small SMTP server on 127.0.0.1 that keeps every mail it is given, for the tests to read.

It speaks just enough plain SMTP (no TLS, no AUTH) for a client such as the server's
lettre transport: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT, any number of mails on a
connection. A mail is stored, parsed with the stdlib `email` package, before DATA is
answered, so it is there as soon as the call that sent it returns.

Recipients in `refused` (lower case) are answered 550 at RCPT, to make the server's delivery
fail.
"""

from __future__ import annotations

import email
import email.policy
import re
import socketserver
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

MAX_LINE = 64 * 1024
MAX_DATA = 10 * 1024 * 1024
ADDRESS = re.compile(r"^(?:FROM|TO):\s*<([^>]*)>", re.IGNORECASE)


@dataclass
class Received:
    """One mail as the sink received it: its envelope and the parsed message."""

    mail_from: str
    rcpt_to: list[str]
    raw: bytes
    message: EmailMessage


class _Handler(socketserver.StreamRequestHandler):
    """One SMTP session."""

    server: "_Server"
    timeout = 60

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        sink = self.server.sink
        mail_from: str | None = None
        rcpt_to: list[str] = []
        self.reply("220 127.0.0.1 conformance SMTP sink")
        while True:
            line = self.rfile.readline(MAX_LINE)
            if not line:
                return
            command = line.decode("utf-8", errors="replace").rstrip("\r\n")
            verb, _, argument = command.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.reply("250-127.0.0.1\r\n250-8BITMIME\r\n250 SMTPUTF8")
            elif verb == "HELO":
                self.reply("250 127.0.0.1")
            elif verb == "MAIL":
                match = ADDRESS.match(argument)
                if not match:
                    self.reply("501 5.5.4 syntax: MAIL FROM:<address>")
                    continue
                mail_from, rcpt_to = match.group(1), []
                self.reply("250 2.1.0 OK")
            elif verb == "RCPT":
                match = ADDRESS.match(argument)
                if mail_from is None:
                    self.reply("503 5.5.1 MAIL first")
                elif not match:
                    self.reply("501 5.5.4 syntax: RCPT TO:<address>")
                elif match.group(1).lower() in sink.refused:
                    self.reply("550 5.1.1 mailbox unavailable")
                else:
                    rcpt_to.append(match.group(1))
                    self.reply("250 2.1.5 OK")
            elif verb == "DATA":
                if mail_from is None or not rcpt_to:
                    self.reply("503 5.5.1 MAIL and RCPT first")
                    continue
                self.reply("354 end with <CRLF>.<CRLF>")
                raw = self.read_data()
                if raw is None:
                    return
                sink.keep(mail_from, rcpt_to, raw)
                mail_from, rcpt_to = None, []
                self.reply("250 2.0.0 kept")
            elif verb == "RSET":
                mail_from, rcpt_to = None, []
                self.reply("250 2.0.0 OK")
            elif verb == "NOOP":
                self.reply("250 2.0.0 OK")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("502 5.5.2 command not implemented")

    def read_data(self) -> bytes | None:
        """The message up to the lone dot, with dot-stuffing undone; None if the peer left."""
        lines = []
        size = 0
        while True:
            line = self.rfile.readline(MAX_LINE)
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                return b"".join(lines)
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if size > MAX_DATA:
                raise ValueError("mail larger than the sink accepts")
            lines.append(line)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    sink: "SmtpSink"


class SmtpSink:
    """The running sink: its URL for the server, and every mail it has received."""

    def __init__(self) -> None:
        self.refused: set[str] = set()
        self._received: list[Received] = []
        self._changed = threading.Condition()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.sink = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="smtp-sink", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"smtp://{host}:{port}"

    def start(self) -> "SmtpSink":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def keep(self, mail_from: str, rcpt_to: list[str], raw: bytes) -> None:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._changed:
            self._received.append(Received(mail_from, list(rcpt_to), raw, message))
            self._changed.notify_all()

    def count(self) -> int:
        with self._changed:
            return len(self._received)

    def received(self, start: int = 0) -> list[Received]:
        with self._changed:
            return list(self._received[start:])

    def inbox(self, address: str) -> "Inbox":
        """The mail to `address` from now on."""
        return Inbox(self, address, self.count())

    def wait_for(self, address: str, start: int, timeout: float) -> tuple[int, Received | None]:
        """The first mail to `address` at index `start` or later, and the index after it."""
        address = address.lower()
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index in range(start, len(self._received)):
                    if address in (r.lower() for r in self._received[index].rcpt_to):
                        return index + 1, self._received[index]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return len(self._received), None
                self._changed.wait(remaining)


@dataclass
class Inbox:
    """A reader of the mail to one address, from the moment it was made."""

    sink: SmtpSink
    address: str
    position: int
    read: list[Received] = field(default_factory=list)

    def next(self, timeout: float = 10) -> Received:
        """Waits for the next mail to the address and returns it."""
        position, mail = self.sink.wait_for(self.address, self.position, timeout)
        if mail is None:
            raise AssertionError(f"no mail to {self.address} within {timeout} s")
        self.position = position
        self.read.append(mail)
        return mail

    def pending(self, grace: float = 0.3) -> list[Received]:
        """The mail to the address not read yet, after waiting `grace` seconds for late ones."""
        time.sleep(grace)
        address = self.address.lower()
        return [mail for mail in self.sink.received(self.position)
                if address in (r.lower() for r in mail.rcpt_to)]

    def assert_empty(self, grace: float = 0.3) -> None:
        unread = self.pending(grace)
        assert not unread, (f"expected no mail to {self.address}, got "
                            f"{[str(mail.message['Subject']) for mail in unread]}")


# --- Reading a mail ---------------------------------------------------------------------------

CODE_LINE = re.compile(r"^\s*(\d{6})\s*$", re.MULTILINE)


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, f"no text/plain part in {message.get_content_type()} mail"
    return part.get_content()


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, f"no text/html part in {message.get_content_type()} mail"
    return part.get_content()


def code_in(mail: Received) -> str:
    """The 6-digit code on a line of its own in the text part; exactly one must be there."""
    text = text_part(mail.message)
    codes = CODE_LINE.findall(text)
    assert len(codes) == 1, f"expected one 6-digit code in the text part, found {codes}:\n{text}"
    return codes[0]

"""Fixtures: a bootstrapped spaceid database and a running `spaceid serve` on 127.0.0.1.

The binary comes from `SPACEID_BIN` (default `<repo>/target/release/spaceid`). One server
runs for the whole session; every test reaches it through the published stubs.

The database is a SQLite file in a temporary directory unless
`SPACEID_CONFORMANCE_DATABASE_URL` names a PostgreSQL one
(`postgres://USER:PASSWORD@127.0.0.1:5432/DB`), which must be empty and is not cleaned up.

Mail goes through SMTP to a sink the session starts on 127.0.0.1 (`smtp_sink`), which keeps
every message for the tests to read.

The server speaks the API generation `SPACEID_API_GENERATION` names (`seeds`, the default, or
`current`), and the installed spaceone-api package must be that generation's (run.sh sees to
both). A run of the current generation collects only the files written for either package.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

import tool_venvs
from conformance_support import GENERATION, PASSWORD, wait_ready
from smtp_sink import SmtpSink

REPO_ROOT = Path(__file__).resolve().parents[2]

# The files each generation's run collects: the seeds' run everything but the current
# generation's own tests; the current run the UserProfile, WorkspaceUser, Token, reflection,
# descriptor and spacectl tests, which speak either package, and its own.
EITHER_GENERATION = {"test_user_profile.py", "test_workspace_user.py", "test_token.py",
                     "test_reflection.py", "test_descriptors.py", "test_spacectl.py"}
if GENERATION == "current":
    collect_ignore = [path.name for path in Path(__file__).parent.glob("test_*.py")
                      if path.name not in EITHER_GENERATION | {"test_current.py"}]
else:
    collect_ignore = ["test_current.py"]
DATABASE_URL_VAR = "SPACEID_CONFORMANCE_DATABASE_URL"
READY_SECONDS = 30
STOP_SECONDS = 10


def spaceid_bin() -> Path:
    return Path(os.environ.get("SPACEID_BIN", REPO_ROOT / "target" / "release" / "spaceid"))


def database_url(workdir: Path) -> str:
    """The PostgreSQL database from the environment, else a SQLite file in `workdir`."""
    url = os.environ.get(DATABASE_URL_VAR, "")
    if not url:
        return f"sqlite://{workdir / 'spaceid.db'}?mode=rwc"
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.fail(f"{DATABASE_URL_VAR} must be a postgres:// URL", pytrace=False)
    return url


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A running `spaceid serve` and how to reach it."""

    process: subprocess.Popen
    address: str
    log: Path
    channel: grpc.Channel

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> int:
        """SIGTERM, then the exit status; fails if the process does not exit in time."""
        self.channel.close()
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"spaceid did not exit within {STOP_SECONDS} s of SIGTERM\n{self.log_tail()}")


class Spaceid:
    """The binary, bound to one temporary database."""

    def __init__(self, workdir: Path, smtp_url: str):
        binary = spaceid_bin()
        if not binary.is_file():
            pytest.fail(f"spaceid binary not found at {binary} (set SPACEID_BIN)", pytrace=False)
        self.binary = binary
        self.workdir = workdir
        # Settings come from the environment too: start from one without the server's own.
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith("SPACEID_") and key != "DATABASE_URL"}
        self.env["DATABASE_URL"] = database_url(workdir)
        self.env["SPACEID_BCRYPT_COST"] = "4"
        self.env["SPACEID_API_GENERATION"] = GENERATION
        self.env["SPACEID_SMTP_URL"] = smtp_url
        # Where mail would land if SMTP were not used; the tests expect it to stay empty.
        self.env["SPACEID_OUTBOX"] = str(workdir / "outbox")

    def cli(self, *args: str) -> dict:
        """Runs an admin command and returns the one JSON object it prints."""
        done = subprocess.run([str(self.binary), *args], env=self.env, capture_output=True,
                              text=True, timeout=120, cwd=self.workdir)
        if done.returncode != 0:
            pytest.fail(f"`spaceid {' '.join(args)}` exited {done.returncode}: "
                        f"{done.stderr.strip()}", pytrace=False)
        try:
            return json.loads(done.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"`spaceid {' '.join(args)}` printed no JSON object: {done.stdout!r}",
                        pytrace=False)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """Runs a command and returns how it ended, whatever its exit status."""
        return subprocess.run([str(self.binary), *args], env=self.env, capture_output=True,
                              text=True, timeout=120, cwd=self.workdir)

    def has_command(self, *words: str) -> bool:
        """Whether this binary knows the (sub)command `words`."""
        return self.run(*words, "--help").returncode == 0

    def serve(self, name: str = "server", env: dict[str, str] | None = None) -> Server:
        """A server on the same database; `env` adds or overrides settings for this one."""
        address = f"127.0.0.1:{free_port()}"
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as sink:
            process = subprocess.Popen([str(self.binary), "serve", "--listen", address],
                                       env={**self.env, **(env or {})}, stdout=sink,
                                       stderr=subprocess.STDOUT, cwd=self.workdir)
        channel = grpc.insecure_channel(address)
        server = Server(process, address, log, channel)
        try:
            wait_ready(channel, process, READY_SECONDS)
        except RuntimeError as error:
            server.stop()
            pytest.fail(f"{error}\n{server.log_tail()}", pytrace=False)
        return server


@dataclass
class User:
    user_id: str
    password: str = PASSWORD


@dataclass
class World:
    """What the bootstrap created, plus the running server."""

    server: Server
    channel: grpc.Channel
    domain_id: str
    workspace_1: str
    workspace_2: str
    admin: User
    owner: User          # WORKSPACE_OWNER of workspace_1
    member: User         # WORKSPACE_MEMBER of workspace_1
    plain: User          # no role binding at all
    profile: User        # used by the UserProfile.update tests
    password_change: User  # used by the password-change test
    bootstrap: dict = field(default_factory=dict)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Starts building, in the background, the tool venvs the selected tests need
    (a test module lists them in `TOOL_VENVS`)."""
    needed = []
    for item in items:
        for name in getattr(item.module, "TOOL_VENVS", ()):
            if name not in needed:
                needed.append(name)
    tool_venvs.start(needed)


@pytest.fixture(scope="session")
def smtp_sink():
    """The SMTP server every mail of the session goes to."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def spaceid(tmp_path_factory, smtp_sink: SmtpSink) -> Spaceid:
    return Spaceid(tmp_path_factory.mktemp("spaceid"), smtp_sink.url)


@pytest.fixture(scope="session")
def world(spaceid: Spaceid):
    domain = spaceid.cli("init", "--domain-name", "conformance", "--admin-user-id",
                         "admin@example.com", "--admin-password", PASSWORD,
                         "--admin-name", "Admin", "--admin-email", "admin@example.com")
    domain_id = domain["domain_id"]
    workspace_1 = spaceid.cli("workspace", "create", "--domain-id", domain_id, "--name", "One")
    workspace_2 = spaceid.cli("workspace", "create", "--domain-id", domain_id, "--name", "Two")
    users = {}
    for key, user_id in [("owner", "owner@example.com"), ("member", "member@example.com"),
                         ("plain", "plain@example.com"), ("profile", "profile@example.com"),
                         ("password_change", "pwchange@example.com")]:
        users[key] = spaceid.cli("user", "create", "--domain-id", domain_id, "--user-id", user_id,
                                 "--password", PASSWORD, "--name", key.title(),
                                 "--email", user_id)
    bindings = {
        "owner": spaceid.cli("role-binding", "create", "--domain-id", domain_id, "--user-id",
                             "owner@example.com", "--role-id", "managed-workspace-owner",
                             "--workspace-id", workspace_1["workspace_id"]),
        "member": spaceid.cli("role-binding", "create", "--domain-id", domain_id, "--user-id",
                              "member@example.com", "--role-id", "managed-workspace-member",
                              "--workspace-id", workspace_1["workspace_id"]),
    }
    server = spaceid.serve()
    world = World(
        server=server, channel=server.channel, domain_id=domain_id,
        workspace_1=workspace_1["workspace_id"], workspace_2=workspace_2["workspace_id"],
        admin=User("admin@example.com"), owner=User("owner@example.com"),
        member=User("member@example.com"), plain=User("plain@example.com"),
        profile=User("profile@example.com"), password_change=User("pwchange@example.com"),
        bootstrap={"domain": domain, "workspaces": [workspace_1, workspace_2], "users": users,
                   "bindings": bindings},
    )
    yield world
    status = server.stop()
    assert status == 0, f"spaceid exited with {status} after SIGTERM\n{server.log_tail()}"


@pytest.fixture(scope="session")
def channel(world: World) -> grpc.Channel:
    return world.channel


def create_system_token(spaceid: Spaceid, name: str) -> dict:
    """`spaceid system-token create` ({"token", "jti", "expires_at"}); skips the calling test
    while the binary has no such command."""
    if not spaceid.has_command("system-token", "create"):
        pytest.skip("not implemented by this server yet: `spaceid system-token`")
    return spaceid.cli("system-token", "create", "--name", name, "--expires-in", "1d")


@pytest.fixture(scope="session")
def system_token(spaceid: Spaceid, world: World) -> dict:
    return create_system_token(spaceid, "conformance")

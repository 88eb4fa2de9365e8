"""A real Request Tracker 5 for the tests (Debian's request-tracker5 + rt5-standalone + rt5-db-sqlite,
installed by `make rt`), started on a free local port with its own copy of the packaged SQLite database.

    server = RTServer(tmp_dir).start()     # copies the database, writes a site config, waits for REST2
    server.token                           # auth token of the assistant's RT user (limited rights)
    server.staff("POST", "ticket/1/correspond", json={...})   # RT's own REST2 API as root (staff)
    server.stop(); server.start()          # the same database and port again

The site configuration lives in the copy's folder (RT_SITE_CONFIG_DIR), so the packaged /etc config
and database are never touched, and each test session starts from the packaged database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import requests

RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
RT_LIB = Path("/usr/share/request-tracker5/lib")
PACKAGED_DB = Path("/var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb")
ROOT_USER, ROOT_PASSWORD = "root", "password"  # the Debian package's initial superuser
ASSISTANT_USER = "alimail-assistant"
# The rights the README tells administrators to grant the assistant's RT user on its queue.
ASSISTANT_RIGHTS = ("SeeQueue", "CreateTicket", "ShowTicket", "ShowTicketComments", "CommentOnTicket")

SETUP_SCRIPT = r"""
use strict; use warnings;
use lib '%(lib)s';
use RT; RT::LoadConfig(); RT::Init();
my ($name, $queue_name, @rights) = @ARGV;
my $user = RT::User->new(RT->SystemUser);
$user->Load($name);
unless ($user->Id) {
  my ($ok, $msg) = $user->Create(Name => $name, EmailAddress => "$name\@assistant.invalid", Privileged => 1);
  die "user: $msg" unless $ok;
}
my $queue = RT::Queue->new(RT->SystemUser);
$queue->Load($queue_name) or die "no queue $queue_name";
for my $right (@rights) {
  $user->PrincipalObj->GrantRight(Right => $right, Object => $queue);
}
my $root = RT::User->new(RT->SystemUser);
$root->Load('root');
$root->SetPassword('%(root_password)s');  # re-hashed at the test config's BcryptCost
my $token = RT::AuthToken->new(RT->SystemUser);
my ($ok, $msg, $auth) = $token->Create(Owner => $user->Id, Description => 'alimail assistant tests');
die "token: $msg" unless $ok;
print "$auth\n";
"""


def installed() -> bool:
    return RT_SERVER.is_file() and PACKAGED_DB.is_file()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RTServer:
    def __init__(self, folder: Path, port: Optional[int] = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.database = folder / "rtdb"
        self.config_dir = folder / "RT_SiteConfig.d"
        self.log = folder / "rt-server.log"
        self.process: Optional[subprocess.Popen] = None
        self.token: Optional[str] = None
        self.startup_seconds: Optional[float] = None  # the first start, until REST2 answered

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api(self) -> str:
        return self.url + "REST/2.0/"

    def environment(self) -> Dict[str, str]:
        return {**os.environ, "RT_SITE_CONFIG_DIR": str(self.config_dir)}

    def prepare(self) -> None:
        """Copy the packaged database and write the site config (once)."""
        if self.database.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGED_DB, self.database)
        self.config_dir.mkdir(exist_ok=True)
        (self.config_dir / "50-alimail-tests.pm").write_text(
            "\n".join(
                [
                    "Set($rtname, 'alimail-test');",
                    "Set($Organization, 'alimail-test');",
                    "Set($Timezone, 'UTC');",
                    "Set($WebPath, '');",
                    "Set($WebDomain, '127.0.0.1');",
                    f"Set($WebPort, {self.port});",
                    f"Set($WebBaseURL, 'http://127.0.0.1:{self.port}');",
                    "Set($DatabaseType, 'SQLite');",
                    f"Set($DatabaseName, '{self.database}');",
                    "Set($LogToSyslog, undef);",
                    "Set($LogToSTDERR, 'error');",
                    # Tests only: cheap password/token hashes (RT's default costs ~0.3 s per request).
                    "Set($BcryptCost, 4);",
                    "Set($CorrespondAddress, 'rt@alimail.test');",
                    "Set($CommentAddress, 'rt-comment@alimail.test');",
                    # No mail leaves the machine: RT's "sendmail" appends each message to a file here.
                    "Set($MailCommand, 'sendmailpipe');",
                    f"Set($SendmailPath, '{self.folder / 'sendmail.sh'}');",
                    "Set($SendmailArguments, '');",
                    "1;",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        sendmail = self.folder / "sendmail.sh"
        sendmail.write_text(f"#!/bin/sh\ncat >> '{self.folder / 'outgoing-mail.txt'}'\n", encoding="utf-8")
        sendmail.chmod(0o755)

    def start(self, timeout: float = 60.0) -> "RTServer":
        if self.running:
            return self
        self.prepare()
        started = time.monotonic()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(RT_SERVER), "--port", str(self.port)],
                cwd=self.folder,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends it and its children
            )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rt-server exited ({self.process.returncode}); see {self.log}")
            try:
                answer = requests.get(self.api + "rt", auth=(ROOT_USER, ROOT_PASSWORD), timeout=5)
                if answer.status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"RT did not answer within {timeout} s; see {self.log}")
        if self.startup_seconds is None:
            self.startup_seconds = time.monotonic() - started
        if self.token is None:
            self.token = self._assistant_token()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None
        # Wait until the port refuses connections, so a test that stopped RT sees it down.
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)

    def _assistant_token(self) -> str:
        script = self.folder / "setup-assistant.pl"
        script.write_text(SETUP_SCRIPT % {"lib": RT_LIB, "root_password": ROOT_PASSWORD}, encoding="utf-8")
        done = subprocess.run(
            ["perl", str(script), ASSISTANT_USER, "General", *ASSISTANT_RIGHTS],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout.strip().splitlines()[-1]

    # -- RT's own API as staff (root) ---------------------------------------------------------
    def staff(self, method: str, path: str, **kwargs: Any) -> Tuple[int, Any]:
        answer = requests.request(method, self.api + path, auth=(ROOT_USER, ROOT_PASSWORD), timeout=30, **kwargs)
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, answer.text

    def search(self, query: str) -> list:
        """Tickets matching TicketSQL `query` (id, Subject, Status, Queue, Priority), all pages."""
        found: list = []
        page = 1
        while True:
            _, body = self.staff(
                "GET",
                "tickets",
                params={"query": query, "fields": "Subject,Status,Priority,Queue", "per_page": 100, "page": page},
            )
            found += body.get("items", [])
            if page >= int(body.get("pages") or 1):
                return found
            page += 1

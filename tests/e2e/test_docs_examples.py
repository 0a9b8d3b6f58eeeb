"""Every command and example of README.md and docs/*.md runs as written against a fresh server.

The examples are read from the Markdown itself (fenced `bash` and `js` blocks), so a doc change
that breaks one fails here. The only edit is the address: `http://localhost:3006` becomes the
test server's free loopback port. A new `bash`/`js` block must be run here or listed in
NOT_RUN with a reason (test_every_example_is_run_or_excused).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from tests.e2e.socket_harness import ROOT, ServerProc

pytestmark = pytest.mark.e2e

JS_DIR = ROOT / "tests" / "e2e" / "js"
DOC_URL = "http://localhost:3006"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_LANGS = {"bash", "sh", "shell", "js", "javascript", "mjs"}
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.M | re.S)


@dataclass(frozen=True)
class Block:
    page: str  # path relative to the repository
    lang: str
    code: str

    @property
    def first_line(self) -> str:
        return self.code.strip().splitlines()[0].strip()


def blocks() -> list[Block]:
    found = []
    for page in PAGES:
        for lang, code in FENCE.findall(page.read_text(encoding="utf-8")):
            found.append(Block(str(page.relative_to(ROOT)), lang, code))
    return found


def block(page: str, starts: str) -> Block:
    """The one runnable block of `page` whose first line starts with `starts`."""
    hits = [
        b
        for b in blocks()
        if b.page == page and b.lang in RUN_LANGS and b.first_line.startswith(starts)
    ]
    assert len(hits) == 1, f"{page}: expected one block starting {starts!r}, found {len(hits)}"
    return hits[0]


# The blocks this file runs, as (page, start of first line).
RUN = {
    ("README.md", 'eval "$(make -s token ROLE=doctor'),
    ("README.md", "# Endpoint 1."),
    ("README.md", "# Access log:"),
    ("README.md", "# Forward a message:"),  # issue #16 B
    ("README.md", 'const { io } = require("socket.io-client");'),
    ("docs/realtime.md", "// connect.mjs"),
    ("docs/realtime.md", "// session.mjs"),
    ("docs/realtime.md", "// send.mjs"),
    ("docs/realtime.md", "// listen.mjs"),
    ("docs/realtime.md", "// sync.mjs"),
    ("docs/attachments.md", "const api ="),
    ("docs/attachments.md", "API=http://localhost:3006/api/v1/messages"),
    ("docs/attachments.md", "# a 1x1 PNG to send"),
    ("README.md", "# Edit and react:"),  # issue #16 part A
    # Doctors' tools (#17): templates and analytics, a voice note.
    ("README.md", "# Templates:"),
    ("docs/attachments.md", "# A voice note"),
}
# Blocks that start long-running servers or the whole suite: the test starts the same server
# (`python -m socket_tier.local`, what `make run` runs) itself.
NOT_RUN = {
    ("README.md", "make run     # installs what is missing"): "serves until stopped; tested below",
    ("docs/events.md", "make run "): "serves until stopped (with PRINT_EVENTS or a Kafka broker)",
    ("README.md", "make legal-hold "): "a second terminal next to `make run`: the same make "
    "targets run against `make run` in tests/e2e/test_operator_socket_e2e.py (and with "
    "MONGODB_URI in tests/integration/test_retention_mongo.py)",
}


def test_every_example_is_run_or_excused() -> None:
    known = RUN | set(NOT_RUN)
    for b in blocks():
        if b.lang not in RUN_LANGS:
            continue
        assert any(b.page == page and b.first_line.startswith(s) for page, s in known), (
            f"{b.page}: a new example ({b.first_line!r}) must be run by this file or excused"
        )
    for page, starts in RUN:
        block(page, starts)  # each one still exists, exactly once


@contextlib.contextmanager
def started() -> Iterator[ServerProc]:
    """`make run`'s server on a free port; a generous start deadline: the machine is shared."""
    # Where `make token` (run in the repository) records the users it mints, as `make run` reads.
    proc = ServerProc("local", {"DEV_DIRECTORY_FILE": str(ROOT / ".cache" / "dev-users.jsonl")})
    try:
        yield proc.start(timeout=90)
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProc]:
    with started() as proc:
        yield proc


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # Under tests/e2e/js so that `require`/`import "socket.io-client"` find its node_modules,
    # as in the folder where a reader ran `npm install socket.io-client`.
    subprocess.run([str(JS_DIR / "install.sh")], check=True, timeout=300)
    with tempfile.TemporaryDirectory(dir=JS_DIR, prefix=".docs-") as path:
        yield Path(path)


def local(code: str, server: ServerProc) -> str:
    return code.replace(DOC_URL, server.url)


def user_env() -> dict[str, str]:
    """A reader's shell: no settings of the test run (ENVIRONMENT, database URLs...)."""
    drop = {"ENVIRONMENT", "NODE_ENV", "MONGODB_URI", "REDIS_URL", "KAFKA_BROKER", "PORT"}
    return {k: v for k, v in os.environ.items() if k not in drop}


# Run before the Markdown's commands: curl fails on an HTTP error (still printing the body), so
# a step that answers 4xx/5xx fails the script as it would fail the reader.
PRELUDE = """set -euo pipefail
curl() { command curl --fail-with-body "$@"; }
"""
SAVE_ENV = """
for name in DOCTOR_TOKEN DOCTOR_ID PATIENT_TOKEN PATIENT_ID CONV MSG; do
  printf '%s=%s\\n' "$name" "${!name}"
done > "$DOCS_ENV_OUT"
"""


@pytest.fixture(scope="module")
def walkthrough(server: ServerProc, workdir: Path) -> tuple[dict[str, str], str]:
    """README's token and curl steps, then docs/attachments.md's curl steps, in one shell."""
    script = "\n".join(
        [
            PRELUDE,
            f"cd {ROOT}",  # `make token` runs in the repository's folder, as the README says
            local(block("README.md", 'eval "$(make -s token ROLE=doctor').code, server),
            local(block("README.md", "# Endpoint 1.").code, server),
            local(block("README.md", "# Access log:").code, server),
            local(block("README.md", "# Edit and react:").code, server),  # issue #16 part A
            local(block("README.md", "# Forward a message:").code, server),  # issue #16 B
            f"cd {workdir}",  # the attachment steps write files: keep them out of the repo
            local(block("docs/attachments.md", "API=http://localhost").code, server),
            local(block("docs/attachments.md", "# a 1x1 PNG to send").code, server),
            local(block("README.md", "# Templates:").code, server),  # #17
            local(block("docs/attachments.md", "# A voice note").code, server),  # #17
            SAVE_ENV,
        ]
    )
    env_out = workdir / "walkthrough.env"
    bash = shutil.which("bash")
    assert bash
    assert shutil.which("curl")
    assert shutil.which("make")
    done = subprocess.run(
        [bash, "-c", script],
        env={**user_env(), "DOCS_ENV_OUT": str(env_out)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    values = dict(line.split("=", 1) for line in env_out.read_text().splitlines())
    return values, done.stdout


class Lines:
    """A child's output line by line, each wait bounded (readline alone could block forever)."""

    def __init__(self, stream: IO[Any]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []

        def pump() -> None:
            for raw in stream:
                self.queue.put(raw.decode() if isinstance(raw, bytes) else raw)
            self.queue.put(None)  # end of output

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, wanted: str, timeout: float) -> str:
        """The next line containing `wanted`."""
        while True:
            line = self.queue.get(timeout=timeout)
            assert line is not None, f"output ended without {wanted!r}: {''.join(self.seen)}"
            self.seen.append(line)
            if wanted in line:
                return line

    def rest(self, timeout: float) -> str:
        """Everything up to the end of the output."""
        while (line := self.queue.get(timeout=timeout)) is not None:
            self.seen.append(line)
        return "".join(self.seen)


def test_ready_line_in_readme_is_what_make_run_prints() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = next(line for line in readme.splitlines() if "Messaging service ready" in line)
    with started() as proc:
        assert proc.proc is not None
        assert proc.proc.stdout is not None
        # The line is printed once the port listens; lines before it are logs.
        printed = Lines(proc.proc.stdout).wait_for("Messaging service ready", timeout=90)

    def ports(line: str) -> str:
        return re.sub(r":\d+", ":<port>", line.strip())

    assert ports(printed) == ports(documented)


def test_readme_curl_walkthrough(walkthrough: tuple[dict[str, str], str]) -> None:
    values, out = walkthrough
    assert re.fullmatch(r"[0-9a-f]{24}", values["CONV"])
    assert re.fullmatch(r"[0-9a-f]{24}", values["MSG"])
    assert "Message deleted successfully" in out
    assert '"status":"healthy"' in out
    assert "1 messages marked as read" in out
    assert '"totalUnread":1' in out  # before mark-read: the doctor's one message
    # docs/attachments.md: the presigned upload (S3's 204) and both file messages
    assert "\n204\n" in out
    assert out.count("File sent successfully") == 2
    # README's Compliance steps: the access log, the FHIR Bundle and the JSON export
    assert "Access log retrieved successfully" in out
    assert '"action":"history.read"' in out
    assert '"resourceType":"Bundle"' in out
    assert "Conversation exported successfully" in out
    # README's Edits and reactions steps (issue #16 part A)
    assert "Message updated successfully" in out
    assert '{"content":"Douleur depuis 2 jours"' in out
    assert '"isEdited":true' in out
    assert "Reaction added" in out
    assert "Reaction removed" in out
    # Forwarding and scheduled messages (issue #16 B)
    assert "Message forwarded successfully" in out
    assert '"forwardedFrom":{"messageId":' in out
    assert '"status":"pending"' in out
    assert "Scheduled message cancelled" in out


def test_doctor_tools_and_voice_examples(walkthrough: tuple[dict[str, str], str]) -> None:
    """README's templates and analytics steps and docs/attachments.md's voice note (#17)."""
    _, out = walkthrough
    assert "Templates retrieved successfully" in out
    assert "Bonjour John Doe, vos résultats sont arrivés. Dr. Sarah Smith" in out
    assert "Template updated successfully" in out
    assert "Template deleted successfully" in out
    assert "Analytics retrieved successfully" in out
    assert '"awaitingReply"' in out
    assert '"messageType": "audio"' in out  # the reply's data, as json.dumps writes it
    assert '"content": "Sent a voice message"' in out
    assert '"durationSeconds": 1.0' in out
    assert re.search(r"(?im)^content-disposition: inline;", out)


def node(path: Path, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("node")
    assert exe, "Node.js is required for the docs' JavaScript examples"
    return subprocess.run(
        [exe, path.name],
        cwd=path.parent,
        env={**user_env(), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def save(workdir: Path, name: str, code: str) -> Path:
    path = workdir / name
    path.write_text(code, encoding="utf-8")
    return path


def test_readme_js_example_round_trip_and_exit(
    server: ServerProc, workdir: Path, walkthrough: tuple[dict[str, str], str]
) -> None:
    values, _ = walkthrough
    code = local(block("README.md", 'const { io } = require("socket.io-client");').code, server)
    script = save(workdir, "realtime.js", code)
    # Twice: a second run is a new message (a fixed tempId would make it a silent retry), and
    # each run ends by itself (the subprocess timeout fails a script that never exits).
    for _ in range(2):
        done = node(script, values)
        assert done.returncode == 0, done.stderr + done.stdout
        assert "doctor got: Bonjour docteur" in done.stdout
        assert "read:" in done.stdout
        assert "duplicate: true" not in done.stdout


def test_realtime_connect_and_session_examples(
    server: ServerProc, workdir: Path, walkthrough: tuple[dict[str, str], str]
) -> None:
    values, _ = walkthrough
    for name, expected in (("connect", "connected:"), ("session", "connected:")):
        script = save(
            workdir, f"{name}.mjs", local(block("docs/realtime.md", f"// {name}.mjs").code, server)
        )
        done = node(script, values)
        assert done.returncode == 0, done.stderr + done.stdout
        assert expected in done.stdout, done.stderr + done.stdout
    # The same connect example with a forged token shows the refusal, as the docs say
    refused = node(workdir / "connect.mjs", {**values, "PATIENT_TOKEN": "not-a-token"})
    assert refused.returncode == 0, refused.stdout
    assert "refused: Invalid token" in refused.stdout, refused.stdout


def test_realtime_listen_send_and_sync_examples(
    server: ServerProc, workdir: Path, walkthrough: tuple[dict[str, str], str]
) -> None:
    values, _ = walkthrough
    code = {
        n: local(block("docs/realtime.md", f"// {n}.mjs").code, server)
        for n in ("listen", "send", "sync")
    }
    listen = save(workdir, "listen.mjs", code["listen"])
    exe = shutil.which("node")
    assert exe
    listener = subprocess.Popen(
        [exe, listen.name],
        cwd=workdir,
        env={**user_env(), **values},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert listener.stdout is not None
        output = Lines(listener.stdout)
        output.wait_for("listening", timeout=30)  # connected: now send
        sent = node(save(workdir, "send.mjs", code["send"]), values)
        assert sent.returncode == 0, sent.stderr + sent.stdout
        assert "ok: true" in sent.stdout, sent.stdout
        assert "duplicate: false" in sent.stdout, sent.stdout
        rest = output.rest(timeout=30)
        assert listener.wait(10) == 0, rest
        assert "from John Doe: Bonjour docteur" in rest, rest
        assert "marked read:" in rest, rest
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait(10)
    synced = node(save(workdir, "sync.mjs", code["sync"]), values)
    assert synced.returncode == 0, synced.stderr + synced.stdout
    match = re.search(r"up to seq (\d+)", synced.stdout)
    assert match, synced.stdout
    assert int(match.group(1)) >= 2, synced.stdout


# docs/attachments.md's browser function, called as a page would: with a token and a File.
BROWSER_CALL = """
const token = process.env.PATIENT_TOKEN;
{code}
const pdf = new File(["%PDF-1.4\\n%docs test\\n"], "compte-rendu.pdf",
  {{ type: "application/pdf" }});
const sent = await sendFile(process.env.CONV, process.env.DOCTOR_ID, pdf, "Mon compte-rendu");
const file = await fetch(sent.attachment.url);
const body = await file.text();
console.log(JSON.stringify({{ status: file.status, body, name: sent.attachment.fileName }}));
"""


def test_attachments_browser_example(
    server: ServerProc, workdir: Path, walkthrough: tuple[dict[str, str], str]
) -> None:
    values, _ = walkthrough
    code = local(block("docs/attachments.md", "const api =").code, server)
    script = save(workdir, "upload.mjs", BROWSER_CALL.format(code=code))
    done = node(script, values)
    assert done.returncode == 0, done.stderr + done.stdout
    last = done.stdout.strip().splitlines()[-1]
    assert '"status":200' in last, last
    assert "%docs test" in last, last
    assert "compte-rendu.pdf" in last, last

"""The demo chat page (web/) in a real browser: Debian's Chromium driven by playwright-core, a
patient and a doctor against `python -m socket_tier.local` as `make run` starts it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import media_samples
from tests.e2e.socket_harness import ROOT, ServerProc

pytestmark = pytest.mark.e2e

BROWSER_DIR = ROOT / "tests" / "e2e" / "browser"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def demo_server() -> Iterator[ServerProc]:
    # Embedded stand-ins, development sign-in on; a roomier sending budget, because the script
    # seeds a page and a half of history to scroll through.
    proc = ServerProc("local", {"RATE_LIMIT_MESSAGES": "1000"})
    try:
        # A cold start imports moto and the whole app; on a busy CI machine that takes a while.
        yield proc.start(timeout=90)
    finally:
        proc.stop()


def run_page_script(
    server: ServerProc,
    shots: Path | None = None,
    *,
    script: str = "chat.js",
    args: tuple[str, ...] = (),
) -> dict[str, object]:
    """Install what the browser test needs (fails loudly without Chromium) and run it."""
    node = shutil.which("node")
    assert node, "Node.js is required for the browser test"
    subprocess.run([str(BROWSER_DIR / "install.sh")], check=True, timeout=600)
    assert os.access(CHROMIUM, os.X_OK), f"Chromium is required for the browser test ({CHROMIUM})"
    args = (node, str(BROWSER_DIR / script), server.url, *([str(shots)] if shots else []), *args)
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr + done.stdout
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_patient_and_doctor_chat_in_the_browser(demo_server: ServerProc) -> None:
    # `make screenshots` sets SCREENSHOTS_DIR: the same run then saves the two windows.
    shots = os.environ.get("SCREENSHOTS_DIR")
    seen = run_page_script(demo_server, Path(shots) if shots else None)
    assert seen["ok"] is True
    # 30 on the first page, then the older ones after scrolling up.
    assert int(str(seen["doctorMessages"])) > 30


def test_voice_notes_templates_and_analytics_in_the_browser(
    demo_server: ServerProc, tmp_path: Path
) -> None:
    """#17 on the page: a real MP3 and WebM (tests/media_samples.py), a doctor's templates, the
    analytics table; patients see neither panel (doctor_tools.js checks each step)."""
    (tmp_path / "note.mp3").write_bytes(media_samples.mp3())
    (tmp_path / "clip.webm").write_bytes(media_samples.webm(video=True))
    seen = run_page_script(demo_server, script="doctor_tools.js", args=(str(tmp_path),))
    assert seen["ok"] is True
    assert seen["patientPanels"] is False
    assert seen["templateText"] == (
        "Bonjour Marie Curie, vos résultats sont arrivés. Dr. Claire Martin"
    )
    # The player's source is the presigned link, the declared duration is shown (40 frames of
    # MPEG-1 Layer III at 44.1 kHz: 1.04 s, declared as 1).
    assert seen["audioSrcSigned"] is True
    assert seen["audioDuration"] == "Duration 0:01"
    # Seeded today: the patient's question and video (received 2), the doctor's template and
    # voice note (sent 2); one reply (the template), the video still awaiting one.
    assert seen["today"] == ["2", "2"]
    assert seen["total"] == ["2", "2"]
    assert (seen["awaiting"], seen["replies"]) == ("1", "1")
    assert seen["median"] not in ("", "—")

"""The README's walkthrough from a cold start: `make token` mints both users, then the patient
opens a conversation with a doctor who has never called the API (same steps, same variables)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.socket_harness import PYTHON, ROOT, ServerProc, servers

pytestmark = pytest.mark.e2e


def make_token(env: dict[str, str], role: str, name: str, prefix: str) -> dict[str, str]:
    """`eval "$(make -s token ROLE=.. NAME=.. EXPORT=..)"`: the script make runs."""
    out = subprocess.run(
        [PYTHON, "scripts/mint_token.py", "--role", role, "--name", name, "--as", prefix],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assignments = out.strip().removeprefix("export ").split(" ")
    return dict(a.split("=", 1) for a in assignments)


def test_a_patient_reaches_a_doctor_who_never_called_the_api(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MONGODB_URI")},
        "PYTHONPATH": f"{ROOT / 'layers'}:{ROOT}",
        "ENVIRONMENT": "development",
        "DEV_DIRECTORY_FILE": str(tmp_path / "dev-users.jsonl"),
    }
    proc = ServerProc("local", {"DEV_DIRECTORY_FILE": env["DEV_DIRECTORY_FILE"]})
    with servers(proc):
        # Minted while the server runs (the walkthrough's order); the doctor never calls
        doctor = make_token(env, "doctor", "Dr. Sarah Smith", "DOCTOR")
        patient = make_token(env, "patient", "John Doe", "PATIENT")
        r = httpx.post(
            f"{proc.url}/api/v1/messages/conversations",
            json={"recipientId": doctor["DOCTOR_ID"], "recipientType": "doctor"},
            headers={"Authorization": f"Bearer {patient['PATIENT_TOKEN']}"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        assert r.json()["data"]["recipient"]["name"] == "Dr. Sarah Smith"
        # An id nobody minted stays unknown
        stranger = httpx.post(
            f"{proc.url}/api/v1/messages/conversations",
            json={"recipientId": "673a1b2c3d4e5f6a7b8c9d99", "recipientType": "doctor"},
            headers={"Authorization": f"Bearer {patient['PATIENT_TOKEN']}"},
            timeout=10,
        )
        assert stranger.status_code == 404

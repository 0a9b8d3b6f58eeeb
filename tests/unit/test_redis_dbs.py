"""Each test file that starts socket tiers on the shared test Redis owns its logical db (#13).

Two files on one db would see each other's presence, reap each other's users or flush each
other's keys when run together; this keeps the numbers apart as files are added.
"""

import re
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# `with_db(redis_url(), 7)`, `own_db(12)`, `DB = 14` (then `with_db(redis_url(), DB)`)
PATTERNS = (
    re.compile(r"with_db\(redis_url\(\),\s*(\d+)\)"),
    re.compile(r"own_db\((\d+)\)"),
    re.compile(r"^DB\s*=\s*(\d+)", re.MULTILINE),
)


def test_no_two_test_files_share_a_redis_db() -> None:
    owners: dict[int, set[str]] = defaultdict(set)
    for path in TESTS.rglob("test_*.py"):
        if path.name == Path(__file__).name:
            continue  # its own examples above
        text = path.read_text()
        for pattern in PATTERNS:
            for number in pattern.findall(text):
                owners[int(number)].add(path.relative_to(TESTS).as_posix())
    assert owners, "the patterns no longer match how tests pick their db"
    shared = {db: sorted(files) for db, files in owners.items() if len(files) > 1}
    assert not shared, shared
    assert all(0 < db < 64 for db in owners), owners  # 0 is the default; start.sh makes 64

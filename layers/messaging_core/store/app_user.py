"""One-time deploy step: create the application's DocumentDB user and its least-privilege role.

The functions and tasks connect as this user, never as the master (deploy.md, "Database user").
Run once after the first deploy, from a shell inside the VPC that may read the master secret:

    python -m messaging_core.store.app_user --master-secret-arn ARN --app-secret-arn ARN

The role reads and writes the service's collections of one database, and may only insert into
and read the `audit` collection (the access trail is append-only, issue #15).

Idempotent: an existing user gets its password and its one role set again. Secrets Manager's
multi-user rotation then takes over (it clones this user's roles for `<name>_clone`).
Nothing here prints a password, a URI or a secret's text.
"""

import argparse
import asyncio
import json
from typing import Any, Protocol

from ..config import get_settings, mongodb_uri_of, read_secret


class AdminDb(Protocol):
    async def command(self, command: dict[str, Any]) -> dict[str, Any]: ...


# The service's collections (store/mongo.py, store/uploads.py): read and write.
READ_WRITE_COLLECTIONS = (
    "conversations",
    "messages",
    "users",
    "uploads",
    "upload_claims",
    "audit_outbox",
    "legal_holds",
    "scheduled_messages",  # scheduled messages (issue #16 B, store/scheduled.py)
    "scheduled_claims",
    "membership_claims",  # care-team membership changes (#18, store/mongo_care_teams.py)
)
READ_WRITE_ACTIONS = ["find", "insert", "update", "remove", "createCollection", "createIndex"]
# The access audit trail (audit.py) is append-only: insert and read, never update or remove.
AUDIT_COLLECTION = "audit"
APPEND_ONLY_ACTIONS = ["find", "insert", "createCollection", "createIndex"]
APP_ROLE = "esanteMessagingApp"


def app_privileges(db_name: str) -> list[dict[str, Any]]:
    """Per collection, so no privilege on "every collection" reaches the audit trail."""
    privileges: list[dict[str, Any]] = [
        {"resource": {"db": db_name, "collection": name}, "actions": list(READ_WRITE_ACTIONS)}
        for name in READ_WRITE_COLLECTIONS
    ]
    privileges.append(
        {
            "resource": {"db": db_name, "collection": AUDIT_COLLECTION},
            "actions": list(APPEND_ONLY_ACTIONS),
        }
    )
    return privileges


def app_roles() -> list[dict[str, str]]:
    """Least privilege: the one user-defined role (its privileges name one database only)."""
    return [{"role": APP_ROLE, "db": "admin"}]


async def ensure_app_role(admin: AdminDb, db_name: str) -> None:
    """Create the role, or reset its privileges (user-defined roles live in `admin`)."""
    found = await admin.command({"rolesInfo": APP_ROLE})
    verb = "updateRole" if found.get("roles") else "createRole"
    await admin.command({verb: APP_ROLE, "privileges": app_privileges(db_name), "roles": []})


async def ensure_app_user(admin: AdminDb, username: str, password: str, db_name: str) -> str:
    """Create the user, or reset its password and roles; returns "created" or "updated"."""
    if not username or username in ("admin", "root") or not password:
        raise ValueError("the application user needs its own name and a password")
    await ensure_app_role(admin, db_name)
    found = await admin.command({"usersInfo": username})
    verb = "updateUser" if found.get("users") else "createUser"
    await admin.command({verb: username, "pwd": password, "roles": app_roles()})
    return "updated" if verb == "updateUser" else "created"


async def _main(master_arn: str, app_arn: str, ca_file: str | None) -> str:
    from pymongo import AsyncMongoClient

    settings = get_settings()
    app = json.loads(read_secret(app_arn))
    master_uri = mongodb_uri_of(read_secret(master_arn), "admin")
    ca = ca_file or settings.mongodb_tls_ca_file
    options: dict[str, Any] = {"serverSelectionTimeoutMS": 10000}
    if ca:
        options["tlsCAFile"] = ca  # DocumentDB's certificate verified, as for the service
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(master_uri, **options)
    try:
        db_name = str(app.get("dbname") or settings.mongodb_db)
        return await ensure_app_user(client.admin, app["username"], app["password"], db_name)
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--master-secret-arn", required=True)
    parser.add_argument("--app-secret-arn", required=True)
    parser.add_argument("--ca-file", default=None, help="RDS CA bundle (default: settings)")
    args = parser.parse_args()
    outcome = asyncio.run(_main(args.master_secret_arn, args.app_secret_arn, args.ca_file))
    print(f"application user {outcome}")


if __name__ == "__main__":
    main()

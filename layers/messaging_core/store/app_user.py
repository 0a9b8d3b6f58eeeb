"""One-time deploy step: create the application's DocumentDB user, readWrite on one database.

The functions and tasks connect as this user, never as the master (deploy.md, "Database user").
Run once after the first deploy, from a shell inside the VPC that may read the master secret:

    python -m messaging_core.store.app_user --master-secret-arn ARN --app-secret-arn ARN

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


def app_roles(db_name: str) -> list[dict[str, str]]:
    """Least privilege: read and write the service's collections, in its one database only."""
    return [{"role": "readWrite", "db": db_name}]


async def ensure_app_user(admin: AdminDb, username: str, password: str, db_name: str) -> str:
    """Create the user, or reset its password and roles; returns "created" or "updated"."""
    if not username or username in ("admin", "root") or not password:
        raise ValueError("the application user needs its own name and a password")
    found = await admin.command({"usersInfo": username})
    verb = "updateUser" if found.get("users") else "createUser"
    await admin.command({verb: username, "pwd": password, "roles": app_roles(db_name)})
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

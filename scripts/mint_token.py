"""Mint a development token: `make token ROLE=doctor [USER_ID=<24 hex>] [NAME="Dr. Smith"]`.

With DEV_DIRECTORY_FILE (set by `make token` and `make run`), the minted user is recorded there:
the embedded directory of `make run` knows them before they call the API.
"""

import argparse
import sys

from messaging_core.adapters.directory import record_dev_user
from messaging_core.auth import mint_token
from messaging_core.config import get_settings
from messaging_core.ids import is_object_id, new_id
from messaging_core.models import UserProfile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", choices=("patient", "doctor"), default="patient")
    parser.add_argument("--user-id", default="", help="24-hex user id (a new one if empty)")
    parser.add_argument("--name", default="", help="display name carried in the token")
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument(
        "--as", dest="prefix", default="", help="print `export <AS>_TOKEN=... <AS>_ID=...`"
    )
    args = parser.parse_args()
    settings = get_settings()
    if settings.environment == "production":
        print("refusing to mint tokens in production", file=sys.stderr)
        return 2
    user_id = args.user_id or new_id()
    if not is_object_id(user_id):
        print("USER_ID must be 24 hex characters", file=sys.stderr)
        return 2
    if args.hours * 3600 > settings.jwt_max_lifetime_seconds:
        print(
            "--hours exceeds JWT_MAX_LIFETIME_SECONDS: the token would be refused", file=sys.stderr
        )
        return 2
    token = mint_token(settings, user_id, args.role, args.name or None, args.hours * 3600)
    if settings.dev_directory_file:
        record_dev_user(
            settings.dev_directory_file, UserProfile(user_id, args.role, args.name or None)
        )
    if args.prefix:
        print(f"export {args.prefix}_TOKEN={token} {args.prefix}_ID={user_id}")
    else:
        print(f"user id: {user_id}\nrole:    {args.role}\ntoken:   {token}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

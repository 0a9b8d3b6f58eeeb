"""The one-time deploy step that creates the application's database user (least privilege)."""

from typing import Any

import pytest
from messaging_core.store.app_user import app_roles, ensure_app_user


class FakeAdmin:
    def __init__(self, users: list[str]) -> None:
        self.users = users
        self.commands: list[dict[str, Any]] = []

    async def command(self, command: dict[str, Any]) -> dict[str, Any]:
        self.commands.append(command)
        if "usersInfo" in command:
            return {"users": [{"user": u} for u in self.users if u == command["usersInfo"]]}
        return {"ok": 1}


async def test_the_user_is_created_with_readwrite_on_one_database_only() -> None:
    admin = FakeAdmin([])
    assert await ensure_app_user(admin, "esante_app", "pw", "esante-messaging") == "created"
    create = admin.commands[-1]
    assert create == {
        "createUser": "esante_app",
        "pwd": "pw",
        "roles": [{"role": "readWrite", "db": "esante-messaging"}],
    }
    # no admin role, no role on another database, no "any database" role
    assert app_roles("esante-messaging") == [{"role": "readWrite", "db": "esante-messaging"}]


async def test_running_it_again_resets_the_password_and_roles() -> None:
    admin = FakeAdmin(["esante_app"])
    assert await ensure_app_user(admin, "esante_app", "new", "db") == "updated"
    assert admin.commands[-1]["updateUser"] == "esante_app"
    assert admin.commands[-1]["roles"] == [{"role": "readWrite", "db": "db"}]


@pytest.mark.parametrize(("user", "password"), [("", "pw"), ("admin", "pw"), ("esante_app", "")])
async def test_refuses_a_missing_or_administrative_identity(user: str, password: str) -> None:
    admin = FakeAdmin([])
    with pytest.raises(ValueError, match="its own name and a password"):
        await ensure_app_user(admin, user, password, "db")
    assert admin.commands == []

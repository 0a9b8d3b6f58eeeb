"""The one-time deploy step that creates the application's database user (least privilege)."""

from typing import Any

import pytest
from messaging_core.store.app_user import APP_ROLE, app_privileges, app_roles, ensure_app_user


class FakeAdmin:
    def __init__(self, users: list[str], roles: tuple[str, ...] = ()) -> None:
        self.users = users
        self.roles = roles
        self.commands: list[dict[str, Any]] = []

    async def command(self, command: dict[str, Any]) -> dict[str, Any]:
        self.commands.append(command)
        if "usersInfo" in command:
            return {"users": [{"user": u} for u in self.users if u == command["usersInfo"]]}
        if "rolesInfo" in command:
            return {"roles": [{"role": r} for r in self.roles if r == command["rolesInfo"]]}
        return {"ok": 1}


ROLE = [{"role": APP_ROLE, "db": "admin"}]


async def test_the_user_is_created_with_its_one_role_on_one_database_only() -> None:
    admin = FakeAdmin([])
    assert await ensure_app_user(admin, "esante_app", "pw", "esante-messaging") == "created"
    role, create = admin.commands[-3], admin.commands[-1]
    assert role["createRole"] == APP_ROLE
    assert role["roles"] == []
    assert create == {"createUser": "esante_app", "pwd": "pw", "roles": ROLE}
    # no admin role, no built-in readWrite (it would reach the audit trail), no other database
    assert app_roles() == ROLE
    for privilege in role["privileges"]:
        assert privilege["resource"]["db"] == "esante-messaging"
        assert privilege["resource"]["collection"]  # never "" (every collection)


async def test_the_audit_trail_is_insert_and_find_only() -> None:
    # Issue #15: the application's user can append to and read the audit trail, nothing else.
    by_collection = {
        p["resource"]["collection"]: set(p["actions"]) for p in app_privileges("esante-messaging")
    }
    assert by_collection["audit"] == {"find", "insert", "createCollection", "createIndex"}
    assert not {"update", "remove", "dropCollection"} & by_collection["audit"]
    assert {"update", "remove"} <= by_collection["messages"]  # the rest is read-write
    assert "audit" in by_collection
    assert "" not in by_collection


async def test_running_it_again_resets_the_password_and_roles() -> None:
    admin = FakeAdmin(["esante_app"], roles=(APP_ROLE,))
    assert await ensure_app_user(admin, "esante_app", "new", "db") == "updated"
    assert admin.commands[-3]["updateRole"] == APP_ROLE
    assert admin.commands[-1]["updateUser"] == "esante_app"
    assert admin.commands[-1]["roles"] == ROLE


@pytest.mark.parametrize(("user", "password"), [("", "pw"), ("admin", "pw"), ("esante_app", "")])
async def test_refuses_a_missing_or_administrative_identity(user: str, password: str) -> None:
    admin = FakeAdmin([])
    with pytest.raises(ValueError, match="its own name and a password"):
        await ensure_app_user(admin, user, password, "db")
    assert admin.commands == []

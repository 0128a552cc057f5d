"""Who is calling and what they may do: Appwrite's roles and permission strings.

A request with the API key is the server (every permission, no checks). A request with a
session is a user with the roles `any`, `users`, `user:<id>` (and the `/unverified` variants
Appwrite adds); a request with neither is a guest (`any`, `guests`). A permission string
`read("user:u1")` grants `read` to that role; `write` stands for create, update and delete.
Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from .errors import AppwriteError

PERMISSION = re.compile(r'^(read|write|create|update|delete)\("([^"]+)"\)$')
WRITE_ACTIONS = ("create", "update", "delete")


@dataclasses.dataclass(frozen=True)
class Identity:
    """The caller of one request (or the owner of one Realtime connection)."""

    admin: bool = False
    user_id: str | None = None

    @property
    def roles(self) -> frozenset[str]:
        if self.user_id is None:
            return frozenset({"any", "guests"})
        uid = self.user_id
        return frozenset({"any", "users", "users/unverified", f"user:{uid}", f"user:{uid}/unverified"})

    @property
    def role_name(self) -> str:
        return "admin" if self.admin else "users" if self.user_id else "guests"


SERVER = Identity(admin=True)
GUEST = Identity()


def grants(permissions: Iterable[str], action: str, roles: frozenset[str]) -> bool:
    """Whether one of `permissions` gives `action` to one of `roles`."""
    for permission in permissions:
        match = PERMISSION.match(permission)
        if match is None:
            continue
        granted, role = match.groups()
        if (granted == action or (granted == "write" and action in WRITE_ACTIONS)) and role in roles:
            return True
    return False


def may(identity: Identity, action: str, container: Iterable[str], item: Iterable[str] | None) -> bool:
    """Table/bucket-level permissions, then the row's/file's own when row/file security is on
    (`item` is None when it is off)."""
    if identity.admin:
        return True
    roles = identity.roles
    return grants(container, action, roles) or (item is not None and grants(item, action, roles))


def unauthorized() -> AppwriteError:
    return AppwriteError(
        401, "user_unauthorized", "The current user is not authorized to perform the requested action."
    )


def missing_scope(identity: Identity, scope: str) -> AppwriteError:
    return AppwriteError(
        401,
        "general_unauthorized_scope",
        f"{identity.role_name.capitalize()} (role: {identity.role_name}) missing scope ({scope})",
    )


def require_server(identity: Identity, scope: str) -> None:
    """Console-only operations (databases, tables, columns, buckets) need the API key."""
    if not identity.admin:
        raise missing_scope(identity, scope)


def check_own_roles(identity: Identity, permissions: Iterable[str]) -> None:
    """A user may only hand out permissions to roles they have themselves, as on Appwrite."""
    if identity.admin:
        return
    for permission in permissions:
        match = PERMISSION.match(permission)
        if match is not None and match.group(2) not in identity.roles:
            allowed = ", ".join(sorted(identity.roles))
            raise AppwriteError(
                401,
                "user_unauthorized",
                f"Permissions must be one of: ({allowed})",
            )

"""Accounts and sessions of the double: what the Web SDK's `Account` service calls.

Anonymous (unless the project turned that method off: `anonymous_sessions=False`, 501 as on
Appwrite) and email/password sessions; each records the client address it came from, which the
Users API (API key only) lists with the user's sessions. A session is a secret the browser sends back as the
cookie `a_session_<project>` or, where cookies cannot be used, in the `X-Fallback-Cookies`
header (JSON `{"a_session_<project>": "<secret>"}`), which the Web SDK keeps in localStorage:
the double sets both, as Appwrite does for an endpoint on another domain than the page.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from typing import Any

from aiohttp import web

from .errors import AppwriteError, conflict, invalid
from .identity import GUEST, Identity, missing_scope, require_server
from .model import IDENTITY, check_id, no_content, now_iso, ok, params_of

SESSION_DAYS = 365


@dataclasses.dataclass
class User:
    id: str
    email: str = ""
    password: str = dataclasses.field(default="", repr=False)
    name: str = ""
    created: str = dataclasses.field(default_factory=now_iso)

    def to_json(self) -> dict[str, Any]:
        return {
            "$id": self.id,
            "$createdAt": self.created,
            "$updatedAt": self.created,
            "name": self.name,
            "registration": self.created,
            "status": True,
            "labels": [],
            "passwordUpdate": self.created if self.password else "",
            "email": self.email,
            "phone": "",
            "emailVerification": False,
            "phoneVerification": False,
            "mfa": False,
            "prefs": {},
            "targets": [],
            "accessedAt": self.created,
        }


@dataclasses.dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    provider: str
    secret: str = dataclasses.field(repr=False)
    created: str = dataclasses.field(default_factory=now_iso)
    ip: str = "127.0.0.1"  # the client address the session was created from

    def to_json(self) -> dict[str, Any]:
        return {
            "$id": self.id,
            "$createdAt": self.created,
            "$updatedAt": self.created,
            "userId": self.user_id,
            "expire": self.created,
            "provider": self.provider,
            "providerUid": "",
            "providerAccessToken": "",
            "providerAccessTokenExpiry": "",
            "providerRefreshToken": "",
            "ip": self.ip,
            "osCode": "",
            "osName": "",
            "osVersion": "",
            "clientType": "browser",
            "clientCode": "",
            "clientName": "",
            "clientVersion": "",
            "clientEngine": "",
            "clientEngineVersion": "",
            "deviceName": "desktop",
            "deviceBrand": "",
            "deviceModel": "",
            "countryCode": "--",
            "countryName": "Unknown",
            "current": True,
            "factors": ["password"] if self.provider == "email" else ["anonymous"],
            "secret": "",
            "mfaUpdatedAt": "",
        }


class AccountsState:
    """Users and their sessions, with the `/v1/account` handlers."""

    def __init__(self, project: str, *, anonymous_sessions: bool = True) -> None:
        self.project = project
        self.anonymous_sessions = anonymous_sessions  # the project's "Anonymous" auth method
        self.users: dict[str, User] = {}
        self.sessions: dict[str, Session] = {}  # by secret

    @property
    def cookie_name(self) -> str:
        return f"a_session_{self.project}"

    def routes(self, prefix: str = "/v1/account") -> list[web.RouteDef]:
        return [
            web.get(prefix, self.get_account),
            web.post(prefix, self.create_account),
            web.post(prefix + "/sessions/anonymous", self.anonymous_session),
            web.post(prefix + "/sessions/email", self.email_session),
            web.delete(prefix + "/sessions/{session}", self.delete_session),
        ]

    def server_routes(self, prefix: str = "/v1/users") -> list[web.RouteDef]:
        """The Users API (API key only): what the web intake reads of a request's owner."""
        return [
            web.get(prefix + "/{user}", self.get_user),
            web.get(prefix + "/{user}/sessions", self.list_user_sessions),
        ]

    # who is calling

    def identify(self, request: web.Request) -> Identity:
        session = self.session_of(request)
        return Identity(user_id=session.user_id) if session is not None else GUEST

    def session_of(self, request: web.Request) -> Session | None:
        secret = request.cookies.get(self.cookie_name) or self.fallback_secret(request)
        return self.sessions.get(secret) if secret else None

    def fallback_secret(self, request: web.Request) -> str | None:
        raw = request.headers.get("x-fallback-cookies")
        if not raw:
            return None
        try:
            value = json.loads(raw).get(self.cookie_name)
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    def user_of_secret(self, secret: str) -> User | None:
        session = self.sessions.get(secret)
        return self.users.get(session.user_id) if session is not None else None

    # handlers

    async def get_account(self, request: web.Request) -> web.Response:
        identity: Identity = request[IDENTITY]
        if identity.user_id is None:
            raise missing_scope(identity, "account")
        return ok(self.users[identity.user_id].to_json())

    async def create_account(self, request: web.Request) -> web.Response:
        params = await params_of(request)
        user_id = str(params.get("userId", ""))
        user_id = secrets.token_hex(10) if user_id == "unique()" else check_id(user_id, "userId")
        email = str(params.get("email", "")).strip().lower()
        password = str(params.get("password", ""))
        if "@" not in email:
            raise invalid("Invalid `email` param: Value must be a valid email address")
        if not 8 <= len(password) <= 256:
            raise invalid("Invalid `password` param: Password must be between 8 and 256 characters long.")
        if user_id in self.users or any(u.email == email for u in self.users.values()):
            raise conflict("user_already_exists", "A user with the same id, email, or phone")
        user = User(user_id, email, password, str(params.get("name") or ""))
        self.users[user_id] = user
        return ok(user.to_json(), 201)

    async def anonymous_session(self, request: web.Request) -> web.Response:
        if not self.anonymous_sessions:
            raise AppwriteError(
                501,
                "user_auth_method_unsupported",
                "The requested authentication method is either disabled or unsupported. "
                "Please check the supported authentication methods in the Appwrite console.",
            )
        self.refuse_second_session(request)
        user = User(secrets.token_hex(10))
        self.users[user.id] = user
        return self.start_session(user, "anonymous", request.remote)

    def user_of(self, request: web.Request) -> User:
        require_server(request[IDENTITY], "users.read")
        user = self.users.get(request.match_info["user"])
        if user is None:
            raise AppwriteError(404, "user_not_found", "User with the requested ID could not be found.")
        return user

    async def get_user(self, request: web.Request) -> web.Response:
        return ok(self.user_of(request).to_json())

    async def list_user_sessions(self, request: web.Request) -> web.Response:
        user = self.user_of(request)
        found = [s.to_json() | {"current": False} for s in self.sessions.values() if s.user_id == user.id]
        return ok({"total": len(found), "sessions": found})

    async def email_session(self, request: web.Request) -> web.Response:
        self.refuse_second_session(request)
        params = await params_of(request)
        email = str(params.get("email", "")).strip().lower()
        user = next((u for u in self.users.values() if u.email and u.email == email), None)
        if user is None or not secrets.compare_digest(user.password, str(params.get("password", ""))):
            raise AppwriteError(
                401, "user_invalid_credentials", "Invalid credentials. Please check the email and password."
            )
        return self.start_session(user, "email", request.remote)

    async def delete_session(self, request: web.Request) -> web.Response:
        session = self.session_of(request)
        if session is None:
            raise missing_scope(request[IDENTITY], "account")
        del self.sessions[session.secret]
        response = no_content()
        response.del_cookie(self.cookie_name, path="/")
        return response

    def refuse_second_session(self, request: web.Request) -> None:
        if self.session_of(request) is not None:
            raise AppwriteError(
                401,
                "user_session_already_exists",
                "Creation of a session is prohibited when a session is active.",
            )

    def start_session(self, user: User, provider: str, ip: str | None) -> web.Response:
        session = Session(secrets.token_hex(8), user.id, provider, secrets.token_urlsafe(32), ip=ip or "")
        self.sessions[session.secret] = session
        response = ok(session.to_json(), 201)
        response.set_cookie(
            self.cookie_name,
            session.secret,
            max_age=SESSION_DAYS * 86400,
            path="/",
            httponly=True,
            samesite="Lax",
        )
        response.headers["X-Fallback-Cookies"] = json.dumps({self.cookie_name: session.secret})
        return response

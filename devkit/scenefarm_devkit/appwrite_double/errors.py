"""Appwrite's error answers: `{"message", "code", "type"}` with the HTTP status in `code`."""

from __future__ import annotations


class AppwriteError(Exception):
    """Raised by the double's handlers; the server turns it into Appwrite's JSON error body."""

    def __init__(self, code: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.type = type_
        self.message = message

    def body(self) -> dict[str, object]:
        return {"message": self.message, "code": self.code, "type": self.type, "version": "double"}


def not_found(type_: str, what: str) -> AppwriteError:
    return AppwriteError(404, type_, f"{what} with the requested ID could not be found.")


def conflict(type_: str, what: str) -> AppwriteError:
    return AppwriteError(409, type_, f"{what} with the requested ID already exists.")


def invalid(message: str, type_: str = "general_argument_invalid") -> AppwriteError:
    return AppwriteError(400, type_, message)

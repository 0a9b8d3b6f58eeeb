"""One error hierarchy for the core; each edge maps it once (REST status codes, socket `error`)."""


class DomainError(Exception):
    """Base of every error the core raises on purpose; `message` is safe to show to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(DomainError):
    """Bad input: malformed id, missing field, value out of range."""


class Unauthorized(DomainError):
    """Missing, malformed, expired or forged credentials."""


class Forbidden(DomainError):
    """Authenticated, but not allowed to do this (not a participant, patient to patient...)."""


class NotFound(DomainError):
    """The conversation, message or object does not exist (or is not visible)."""


class Conflict(DomainError):
    """The request clashes with the current state (for example an upload key used twice)."""


class TooLarge(DomainError):
    """A body or file over the configured limit."""


class RateLimited(DomainError):
    """The caller is over its sending budget."""


class Unavailable(DomainError):
    """A backing service could not be reached; retrying later may succeed."""


class DuplicateKey(Exception):
    """Raised by a repository when a unique key already exists (adapter-level, not user-facing)."""

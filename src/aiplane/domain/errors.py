"""One error hierarchy for the whole platform, classified by what the caller should do.

    AiplaneError
    ├── InvalidInput        the request is wrong; fix it and retry
    ├── Unauthorized        no valid credentials; authenticate
    ├── Forbidden           valid credentials, not allowed; ask for a role
    ├── NotFound            the thing does not exist (or is not visible to the caller)
    ├── Conflict            the thing already exists or is in the wrong state
    ├── QuotaExceeded       the tenant's quota does not admit the change
    ├── PayloadTooLarge     the body exceeds the configured limit
    ├── RateLimited         too many requests; retry after retry_after seconds
    └── Unavailable         try again later (retry_after seconds)

HTTP status codes live in one table at the edge (aiplane.api.problems), never here.
Every message is one sentence that names the offending value and, where there is one, the fix.
"""

from __future__ import annotations


class AiplaneError(Exception):
    """Base of every error aiplane raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(AiplaneError):
    pass


class Unauthorized(AiplaneError):
    pass


class Forbidden(AiplaneError):
    pass


class NotFound(AiplaneError):
    pass


class Conflict(AiplaneError):
    pass


class QuotaExceeded(AiplaneError):
    pass


class PayloadTooLarge(AiplaneError):
    pass


class Unavailable(AiplaneError):
    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(AiplaneError):
    """Too many requests for a rate limit (a tenant's, a key's, or failed logins from an address)."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after

"""What publishing answers when a request is wrong: field by field (422), or no such entry (404)."""

from __future__ import annotations


class FieldErrors(ValueError):
    """One message per field that is wrong (422 in the API, next to the field in the form)."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class PublishError(LookupError):
    """No such entry (404)."""

"""Who may read an entry's files and who may change the entry.

Metadata is public for every published entry. Files of an ``open`` entry are for everyone; of a
``shared`` or ``closed`` entry for the publisher's editors, admins, and people whose access
request was approved (until its end date, if one was given). Drafts are seen by their
publisher's editors and admins only.
"""

from __future__ import annotations

from datetime import date

from explorer.accounts.store import User, publisher_slug
from explorer.catalogue.models import Entry


class AccessDenied(Exception):
    """``status`` 401 (sign in first) or 403 (signed in, not allowed); ``reason`` in plain words."""

    def __init__(self, status: int, reason: str, entry_id: str = ""):
        self.status = status
        self.reason = reason
        self.entry_id = entry_id
        super().__init__(reason)


class AccessPolicy:
    def __init__(self, store):
        self.store = store

    @staticmethod
    def can_edit(user: User | None, entry: Entry | None = None, publisher: str | None = None) -> bool:
        if user is None:
            return False
        name = publisher if publisher is not None else (entry.publisher if entry is not None else "")
        return user.is_admin or (bool(name) and publisher_slug(name) in user.publisher_slugs)

    def can_read_data(self, user: User | None, entry: Entry) -> bool:
        if entry.access_level == "open":
            return True
        if user is None:
            return False
        if self.can_edit(user, entry):
            return True
        return self.store.has_grant(entry.id, user.id, date.today().isoformat())

    def check_data(self, user: User | None, entry: Entry) -> None:
        if self.can_read_data(user, entry):
            return
        how = (entry.access_note.rstrip(".") + ". ") if entry.access_note else ""
        ask = f"Request access at /access/{entry.id}/request."
        if user is None:
            raise AccessDenied(401, f"The files of this dataset are {entry.access_level}: sign in and "
                                    f"request access. {how}{ask}", entry.id)
        raise AccessDenied(403, f"The files of this dataset are {entry.access_level} and you have no "
                                f"access yet. {how}{ask}", entry.id)

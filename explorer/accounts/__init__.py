"""Accounts: people, the publishers they act for, and how they prove who they are.

Owns users and their publisher memberships (role ``editor`` or ``admin``), argon2 password
hashes, server-side sessions, API tokens (stored as hashes), the sign-in rate limit, and the
Flask side of it (session cookie, CSRF, OpenID Connect). Imports ``explorer.settings`` and
``explorer.catalogue.models`` only; the registry does not know about accounts.

Storage sits behind :class:`explorer.accounts.store.AccountStore` (SQLite file beside the registry,
``EXPLORER_HOME/accounts.sqlite3``), so another backend (PostgreSQL, a later issue) implements the
same methods.
"""

from explorer.accounts.store import (  # noqa: F401
    ROLES,
    AccountError,
    AccountStore,
    Membership,
    SQLiteAccountStore,
    User,
    open_accounts,
    publisher_slug,
)

"""Publishing: publishers' own entries, their versions, uploads and who may read shared data.

Owns drafts, versions (who, when, the whole entry, so any two can be diffed and any one
restored), archive, uploads with provenance (who, when, sha256, original file name), the join
report of an upload, the audit log of every decision, and access requests and grants for shared
and closed entries. Imports ``explorer.catalogue.models``, ``explorer.catalogue.registry`` (a published version is
written there; the registry's version counter tells every worker), ``explorer.accounts`` and,
for the join report, ``explorer.geo.joins``. Nothing here knows about Flask or Dash.

Storage is :class:`explorer.publishing.store.PublishingStore` over the accounts database file.
"""

from explorer.publishing.access import AccessDenied, AccessPolicy  # noqa: F401
from explorer.publishing.errors import FieldErrors, PublishError  # noqa: F401
from explorer.publishing.service import Publishing  # noqa: F401

"""The web side: the app factory and every HTTP route beside the Dash pages.

Owns ``app`` (``create_app``), the index page (``index_page``: the ``ExplorerDash`` subclass that
builds it, with ``first_paint``, ``static_html``, ``preload``, ``page_scripts``), the JSON and
write APIs (``api``, ``publish_api``), the publishing and account pages (``publish_pages``,
``publish_html``, ``accounts``), export and short-link routes, ``security``, ``callback_guard``,
``path_redaction``, ``ratelimit``, ``compression``, ``production`` (gunicorn) and ``warmup`` (ready means warm).

The top floor of ``explorer``: may import every other sub-package, and the Dash ``layouts`` and
``callbacks`` packages. Nothing in ``explorer`` below it imports ``web``.
"""

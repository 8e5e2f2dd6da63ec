"""The `explorer` command. With no sub-command it serves the app.

    explorer serve [--host] [--port] [--data-dir DIR] [--workers N [--threads T]]
    explorer catalogue harvest SOURCE [--kind lds|ckan|dcat|bundled] [--json]
    explorer catalogue search QUERY [--facet KEY=VALUE …] [--limit N] [--json]
    explorer catalogue show ID [--json]
    explorer data fetch ID [--resource R] [--force]
    explorer data load ID [--resource R] [--no-join] [--json]
    explorer settings [--json]
    explorer users add EMAIL [--publisher SLUG --role editor|admin] | users list [--json]
    explorer tokens create EMAIL [--name N] [--json] | tokens list | tokens revoke ID
    explorer warm [--json]
    explorer db upgrade [--json] | db copy --from sqlite:///HOME --to postgresql://…
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from explorer.settings import SETTINGS, Settings


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _registry(settings: Settings, harvest_bundled: bool = True):
    from explorer.services import open_registry

    return open_registry(settings, harvest_bundled=harvest_bundled)


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group(invoke_without_command=True)
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the registry, store and cache (EXPLORER_HOME).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Local folder that already holds data files (EXPLORER_DATA_DIR).")
@click.option("--offline", is_flag=True, default=None, help="Never download (EXPLORER_OFFLINE).")
@click.pass_context
def main(ctx: click.Context, home: Path | None, data_dir: Path | None, offline: bool | None) -> None:
    """London Data Explorer: a city data registry with maps, charts and provenance."""
    try:
        settings = Settings.from_env(home=home, data_dir=data_dir, offline=offline)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    ctx.obj = {"settings": settings}
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Local folder that already holds data files.")
@click.option("--debug", is_flag=True, help="Dash debug mode (hot reload, error overlay).")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Serve with gunicorn and this many worker processes (production); without it, "
                   "the development server.")
@click.option("--threads", type=click.IntRange(1, 64), default=None,
              help="Threads per gunicorn worker (default 4; only with --workers).")
@click.option("--access-log", is_flag=True, help="Log every request (only with --workers).")
@click.pass_context
def serve(ctx: click.Context, host: str = "127.0.0.1", port: int = 8050,
          data_dir: Path | None = None, debug: bool = False, workers: int | None = None,
          threads: int | None = None, access_log: bool = False) -> None:
    """Run the app (the default command): the development server, or gunicorn with --workers."""
    settings = _settings(ctx)
    if data_dir is not None:
        settings = settings.with_(data_dir=data_dir)
    if workers is None and (threads is not None or access_log):
        raise click.UsageError("--threads and --access-log only apply with --workers N")
    if workers is not None and debug:
        raise click.UsageError("--debug is for the development server; leave out --workers to use it")
    if settings.data_dir is not None:
        if settings.data_dir.is_dir():
            click.echo(f"Local data folder: {settings.data_dir} (files found there are used without a download)")
        else:
            click.echo(f"Warning: local data folder {settings.data_dir} does not exist", err=True)
    else:
        click.echo("No local data folder: datasets are downloaded from their sources when first needed.")
    click.echo(f"Registry and store: {settings.home}")
    if not settings.public_url:   # links are built from the Host header: only the hosts it may be
        from explorer.guards.request_limits import WILDCARD_ADDRESSES

        if host not in WILDCARD_ADDRESSES:
            settings = settings.with_(allowed_hosts=f"{settings.allowed_hosts} {host}".strip())
        elif not settings.allowed_hosts:
            click.echo("Note: only requests for localhost are answered until EXPLORER_PUBLIC_URL or "
                       "EXPLORER_ALLOWED_HOSTS names this server's public host", err=True)
    if workers is not None:
        from explorer.web import production

        try:
            production.gunicorn_options(host, port, workers, threads, access_log)
            from explorer.data.cache import cache_config
            cache_config(settings)
            from explorer.web.security import parse_frame_ancestors
            parse_frame_ancestors(settings.frame_ancestors)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        cache = settings.cache_url or f"filesystem under {settings.cache_dir}"
        click.echo(f"London Data Explorer on http://{host}:{port}/ (gunicorn, {workers} worker(s); "
                   f"cache: {cache})")
        production.run(settings, host=host, port=port, workers=workers, threads=threads,
                       access_log=access_log)
        return
    import os

    from explorer.web.app import create_app

    app = create_app(settings)
    if not debug or os.environ.get("WERKZEUG_RUN_MAIN") == "true":  # not in the reloader's watcher
        from explorer.web.warmup import DEV_FIRST_REQUEST_S, start_warmup
        # in a thread that yields to requests: the first ones are answered meanwhile (/healthz: starting)
        start_warmup(app, address=f"http://{f'[{host}]' if ':' in host else host}:{port}",
                     first_request_s=DEV_FIRST_REQUEST_S)
    click.echo(f"London Data Explorer on http://{host}:{port}/")
    app.run(host=host, port=port, debug=debug)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was made, and how long it took, as JSON.")
@click.pass_context
def warm(ctx: click.Context, as_json: bool) -> None:
    """Fill the cache (EXPLORER_CACHE_URL) ahead of a deploy: theme pages, their charts and the
    geometry of their maps and of the default map, made by this version of the code."""
    import time

    from explorer.web.app import create_app
    from explorer.data.cache import redact_url

    settings = _settings(ctx)
    started = time.monotonic()
    app = create_app(settings)
    from explorer.web.warmup import warm_app

    steps = warm_app(app, renderer=False)
    total = round(time.monotonic() - started, 2)
    cache = redact_url(settings.cache_url) if settings.cache_url else f"filesystem under {settings.cache_dir}"
    failed = [name for name, step in steps.items() if step.get("detail") == "failed"]
    from explorer.data.cache import code_digest

    if as_json:
        _echo_json({"cache": cache, "seconds": total, "code_digest": code_digest(), "steps": steps,
                    "failed": failed})
    else:
        for name, step in steps.items():
            click.echo(f"{name}: {step.get('detail', 'done')} ({step['s']:.1f} s)")
        click.echo(f"Cache filled in {total:.1f} s for code {code_digest()[:12]}: {cache}")
        if not settings.cache_url:
            click.echo("Note: this is this host's filesystem cache; set EXPLORER_CACHE_URL=redis://… "
                       "to fill the cache every worker and host shares.")
    if failed:
        raise SystemExit(1)


# Catalogue -------------------------------------------------------------------------------------
@main.group()
def catalogue() -> None:
    """Harvest, search and show registry entries."""


@catalogue.command()
@click.argument("source")
@click.option("--kind", type=click.Choice(["lds", "ckan", "dcat", "jkan", "bundled"]), default=None,
              help="Source type (detected when omitted; a folder is read as JKAN).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def harvest(ctx: click.Context, source: str, kind: str | None, as_json: bool) -> None:
    """Harvest SOURCE (a file, a JKAN folder, an http(s) URL, or 'bundled') into the registry."""
    from explorer.catalogue.harvest import HarvestError, harvest as run_harvest

    settings = _settings(ctx)
    registry = _registry(settings, harvest_bundled=False)
    try:
        report = run_harvest(source, registry, settings, kind=kind)
    except HarvestError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(report.summary())


@catalogue.command("sources")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def catalogue_sources(ctx: click.Context, as_json: bool) -> None:
    """List the federated sources: last harvest, counts, last error."""
    from explorer.catalogue.sources import SourcesError, describe

    settings = _settings(ctx)
    registry = _registry(settings)
    try:
        rows = describe(registry, settings)
    except SourcesError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _echo_json({"sources": rows, "entries": registry.count()})
        return
    for row in rows:
        counts = row.get("counts") or {}
        click.echo(f"{row['name']} ({row['kind']}): {row['entries']} entries; "
                   f"last harvest {row.get('last_harvest') or 'never'}"
                   + (f" from {row['origin']}" if row.get("origin") else ""))
        if counts:
            click.echo("  " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        if row.get("last_error"):
            click.echo(f"  last error: {row['last_error']}")


@catalogue.command("refresh")
@click.option("--source", "only", default=None, metavar="NAME", help="Only this source.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def catalogue_refresh(ctx: click.Context, only: str | None, as_json: bool) -> None:
    """Harvest the sources again (a source that fails keeps its entries; the error is recorded)."""
    from explorer.catalogue.sources import SourcesError, refresh

    settings = _settings(ctx)
    registry = _registry(settings)
    try:
        states = refresh(registry, settings, only=only)
    except SourcesError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _echo_json(states)
    else:
        for name, state in states.items():
            counts = state.get("counts") or {}
            click.echo(f"{name}: " + ", ".join(f"{n} {k}" for k, n in counts.items())
                       + (f" (error: {state['last_error']})" if state.get("last_error") else ""))
    if any(not state.get("ok") for state in states.values()):
        ctx.exit(1)


def _parse_facets(values: tuple[str, ...]) -> dict[str, list[str]]:
    from explorer.catalogue.registry import FACETS

    filters: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or not value:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--facet")
        if key not in FACETS:
            raise click.BadParameter(f"{key!r}: facets are {', '.join(FACETS)}", param_hint="--facet")
        filters.setdefault(key, []).append(value.strip())
    return filters


@catalogue.command()
@click.argument("query", required=False, default="")
@click.option("--facet", "facets", multiple=True, metavar="KEY=VALUE",
              help="Filter: theme, publisher, format, licence, geography, frequency, access.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0, 1000))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--sort", type=click.Choice(["relevance", "updated"]), default="relevance",
              show_default=True, help="Order: best match first, or last updated first.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search(ctx: click.Context, query: str, facets: tuple[str, ...], limit: int, offset: int,
           as_json: bool, sort: str = "relevance") -> None:
    """Search the registry: a question or keywords (words and meaning, misspellings corrected)."""
    registry = _registry(_settings(ctx))
    results = registry.search(query, _parse_facets(facets), limit=limit, offset=offset, sort=sort)
    if as_json:
        _echo_json(results.to_dict())
        return
    if results.did_you_mean:
        click.echo(f"Did you mean: {results.did_you_mean}")
    click.echo(f"{results.total} dataset{'s' if results.total != 1 else ''}"
               + (f" for {query!r}" if query else ""))
    if not results.total and results.suggestions:
        click.echo("Closest searches: " + "; ".join(results.suggestions))
    for hit in results.hits:
        e = hit.entry
        badges = ", ".join(x for x in [e.publisher, e.licence, "/".join(e.formats),
                                       e.smallest_geography or ""] if x)
        click.echo(f"  {e.id:<36} {e.title}")
        if badges:
            click.echo(f"  {'':<36} {badges}")
    for key, values in results.facets.items():
        click.echo(f"{key}: " + ", ".join(f"{v} ({n})" for v, n in values[:8]))


@catalogue.command()
@click.argument("dataset_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, dataset_id: str, as_json: bool) -> None:
    """Show one registry entry."""
    from explorer.services import entry_document

    registry = _registry(_settings(ctx))
    entry = registry.get(dataset_id)
    if entry is None:
        raise click.ClickException(f"no dataset {dataset_id!r} in the registry")
    doc = entry_document(registry, entry)
    if as_json:
        _echo_json(doc)
        return
    click.echo(entry.title)
    click.echo("=" * min(len(entry.title), 80))
    for label, key in [("id", "id"), ("publisher", "publisher"), ("licence", "licence"),
                       ("attribution", "attribution"), ("access", "access_level"),
                       ("updated", "updated"), ("update frequency", "update_frequency"),
                       ("smallest geography", "smallest_geography"), ("page", "upstream_url")]:
        if doc.get(key):
            click.echo(f"{label:>19}: {doc[key]}")
    if doc.get("stale"):
        click.echo(f"{'stale':>19}: {doc['stale']['days_old']} days old, expected every "
                   f"{doc['stale']['expected_days']} days")
    if entry.description:
        click.echo("")
        click.echo(entry.description)
    for caveat in entry.caveats:
        click.echo(f"Caveat: {caveat}")
    click.echo("")
    for res in entry.resources:
        click.echo(f"- {res.id} [{res.format}] {res.title or ''}")
        if res.url:
            click.echo(f"    {res.url}")
        if res.local_path:
            click.echo(f"    local: {res.local_path}")


# Data ------------------------------------------------------------------------------------------
@main.group()
def data() -> None:
    """Fetch and load dataset files."""


def _service(ctx: click.Context):
    from explorer.services import make_data_service

    settings = _settings(ctx)
    return make_data_service(settings, _registry(settings))


@data.command()
@click.argument("dataset_id")
@click.option("--resource", "resource_id", default=None, help="Resource id (default: the first).")
@click.option("--force", is_flag=True, help="Download again even if a copy exists.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def fetch(ctx: click.Context, dataset_id: str, resource_id: str | None, force: bool, as_json: bool) -> None:
    """Make a dataset's file available locally (data folder, store, or download)."""
    from explorer.geo.joins import DatasetError

    service = _service(ctx)
    try:
        resolved = service.fetch(dataset_id, resource_id, force=force)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _echo_json({"path": str(resolved.path), "provenance": resolved.provenance.to_dict()})
    else:
        prov = resolved.provenance
        click.echo(f"{resolved.path}")
        click.echo(f"  origin {prov.origin}, {prov.size:,} bytes, sha256 {prov.sha256}")


@data.command()
@click.argument("dataset_id")
@click.option("--resource", "resource_id", default=None, help="Resource id (default: the first).")
@click.option("--no-join", is_flag=True, help="Do not join tables to boundaries.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def load(ctx: click.Context, dataset_id: str, resource_id: str | None, no_join: bool, as_json: bool) -> None:
    """Load a dataset: rows, geometry, CRS, boundary join and provenance."""
    from explorer.geo.joins import DatasetError

    service = _service(ctx)
    try:
        loaded = service.load(dataset_id, resource_id, join=not no_join)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    summary = loaded.summary()
    if as_json:
        _echo_json(summary)
        return
    click.echo(f"{loaded.entry.title} [{loaded.resource.id}]")
    click.echo(f"  rows: {summary['rows']:,}   kind: {summary['kind']}   geometry: "
               f"{summary['geometry_type'] or '-'}   crs: {summary['crs'] or '-'}")
    geo = summary["geography"]
    if geo:
        click.echo(f"  joined to {geo['boundary_set']} ({geo['level']} {geo['year']}, {geo['code_scheme']})"
                   f" on {geo['code_column']}: {geo['matched']:,} matched, {geo['unmatched']:,} unmatched"
                   f" ({geo['match_rate']:.1%})")
        for warning in geo.get("warnings") or []:
            click.echo(f"  warning: {warning}")
    if summary["join_error"]:
        click.echo(f"  not joined: {summary['join_error']}")
    click.echo("  provenance:")
    for step in summary["provenance"].get("transformations", []):
        click.echo(f"    - {step}")


@main.command("settings")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show_settings(ctx: click.Context, as_json: bool) -> None:
    """Show every setting, its environment variable and its current value."""
    settings = _settings(ctx)
    secret = {"secret_key", "oidc_client_secret"}   # never printed
    rows = [{"name": s.name, "env": s.env, "help": s.help,
             "value": ("(set)" if getattr(settings, s.name) else "") if s.name in secret else getattr(settings, s.name)}
            for s in SETTINGS]
    from explorer.db import redact_url

    for row in rows:       # a database address may carry a password: never printed either
        if row["name"] == "database_url":
            row["value"] = redact_url(row["value"])
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['env']:<30} {row['value']}")
        click.echo(f"{'':<30} {row['help']}")


from explorer.export.commands import export_group  # noqa: E402 - `explorer export chart|map|theme`
from explorer.accounts.commands import tokens_group, users_group  # noqa: E402 - `explorer users|tokens …`

from explorer.db.commands import db_group  # noqa: E402 - `explorer db upgrade|copy`

main.add_command(users_group)
main.add_command(tokens_group)
main.add_command(db_group)

main.add_command(export_group)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`explorer users …` and `explorer tokens …`: accounts from the command line.

    explorer users add EMAIL [--publisher SLUG --role editor|admin] [--name NAME] [--password-stdin]
    explorer users list [--json]
    explorer tokens create EMAIL [--name N] [--json]     prints the token once; only its hash is kept
    explorer tokens list [EMAIL] [--json]
    explorer tokens revoke TOKEN_ID
"""

from __future__ import annotations

import json
import sys

import click

from explorer.accounts.store import ROLES, AccountError


def _stores(ctx: click.Context):
    from explorer.publishing.service import open_publishing
    from explorer.services import open_registry

    settings = ctx.obj["settings"]
    registry = open_registry(settings, harvest_bundled=False)
    accounts, _ = open_publishing(settings, registry)
    return accounts, registry


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group("users")
def users_group() -> None:
    """People who publish: add them to a publisher with a role, list them."""


@users_group.command("add")
@click.argument("email")
@click.option("--publisher", default=None, help="The publisher's short name (slug), e.g. camden.")
@click.option("--publisher-name", default=None, help="The publisher's name as the registry spells it "
              "(default: the registry's publisher with this slug, else the slug).")
@click.option("--role", type=click.Choice(ROLES), default=None,
              help="editor: the publisher's entries; admin: every entry and the users.")
@click.option("--name", default="", help="The person's name, shown in version history.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@click.option("--no-password", is_flag=True, help="No password: the person signs in with OpenID Connect.")
@click.pass_context
def users_add(ctx, email, publisher, publisher_name, role, name, password_stdin, no_password):
    """Add EMAIL (or give an existing account another publisher or role)."""
    if publisher and not role:
        raise click.UsageError("--publisher needs --role editor|admin")
    accounts, registry = _stores(ctx)
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not no_password and accounts.find_user(email) is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if publisher and not publisher_name:
        from explorer.accounts.store import publisher_slug

        names = [v for v, _ in registry.facet_totals().get("publisher", [])]
        publisher_name = next((n for n in names if publisher_slug(n) == publisher_slug(publisher)), None)
    try:
        user = accounts.add_user(email, password, name=name, publisher=publisher,
                                 publisher_name=publisher_name, role=role)
    except AccountError as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}") from None
    roles = ", ".join(f"{m.role} of {m.name}" for m in user.memberships) or "no publisher role"
    click.echo(f"{user.email}: {roles}")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_list(ctx, as_json):
    """Every account with its publishers and roles."""
    accounts, _ = _stores(ctx)
    users = [u.to_dict() for u in accounts.list_users()]
    if as_json:
        _echo_json(users)
        return
    for u in users:
        roles = ", ".join(f"{p['role']} of {p['name']} ({p['slug']})" for p in u["publishers"]) or "no role"
        click.echo(f"{u['email']}: {roles}")


@click.group("tokens")
def tokens_group() -> None:
    """API tokens for the write API (Authorization: Bearer <token>)."""


@tokens_group.command("create")
@click.argument("email")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tokens_create(ctx, email, name, as_json):
    """Create a token for EMAIL; it is printed once and only its hash is kept."""
    accounts, _ = _stores(ctx)
    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"no account {email!r} (add it with `explorer users add`)")
    token_id, token = accounts.create_token(user.id, name)
    if as_json:
        _echo_json({"token": token, "id": token_id, "name": name, "email": user.email})
    else:
        click.echo(token)
        click.echo(f"(token {token_id} for {user.email}; it is not shown again)", err=True)


@tokens_group.command("list")
@click.argument("email", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tokens_list(ctx, email, as_json):
    """Tokens (never their values): id, owner, name, created, last used, revoked."""
    accounts, _ = _stores(ctx)
    user_id = None
    if email:
        user = accounts.find_user(email)
        if user is None:
            raise click.ClickException(f"no account {email!r}")
        user_id = user.id
    rows = accounts.list_tokens(user_id)
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        state = f"revoked {r['revoked']}" if r["revoked"] else f"last used {r['last_used'] or 'never'}"
        click.echo(f"{r['id']}: {r['email']} {r['name']!r}, created {r['created']}, {state}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def tokens_revoke(ctx, token_id):
    """Revoke token TOKEN_ID (see `explorer tokens list`); it stops working at once."""
    accounts, _ = _stores(ctx)
    if not accounts.revoke_token(token_id):
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")

"""The publishers' web area and the account pages, as server-rendered HTML forms.

    /account/sign-in  /account/sign-out  /account            sign in (password or OpenID Connect), your requests
    /publish                                                 your publishers' entries, new entry, inbox
    /publish/new   /publish/<id>                             the entry form (draft, publish), resources, versions
    /publish/<id>/upload  /publish/<id>/url                  add a file (upload) or a link
    /publish/<id>/report/<resource>                          the join report; try another column or boundary year
    /publish/<id>/diff  /publish/<id>/revert  …/publish  …/archive
    /publish/requests                                        requests for access to shared and closed entries
    /access/<id>/request                                     ask for access, stating the purpose

Why plain HTML forms rather than Dash pages: a form post is one request the server checks whole
(CSRF field, the signed-in user, every field) and answers with the page and its field errors;
there is no client state to forge, the pages run no script (nothing for the CSP to allow), work
with JavaScript off and with a keyboard, and a file upload is streamed to disk under a size limit
instead of travelling base64-encoded through a callback.
"""

from __future__ import annotations

import logging
import math
from urllib.parse import urlencode

from flask import Flask, redirect, request
from markupsafe import Markup

from explorer.web.accounts import CsrfRefused, current_user, safe_next, sign_in, sign_out
from explorer.catalogue.models import ACCESS_LEVELS, GEOGRAPHY_LEVELS, UPDATE_FREQUENCIES
from explorer.web.publish_html import csrf_field, e, error_summary, field, page, post_button, table
from explorer.publishing import AccessDenied, FieldErrors, PublishError
from explorer.publishing.service import LICENCES, form_values
from explorer.publishing.uploads import FORMAT_LABELS

log = logging.getLogger(__name__)
SIGN_IN_FAILED = ("Those details did not work, or sign-in is paused for a few minutes after several "
                  "attempts. Check the email address and password and try again later.")
ACCESS_LABELS = {"open": "Open: anyone may use the files",
                 "shared": "Shared: files for approved people and organisations",
                 "closed": "Closed: files only for named people, on request"}


def csrf_failure_page(_refused: CsrfRefused | None = None):
    return page("The form had expired", Markup(
        '<p>This form could not be accepted because its security token was missing or out of date '
        '(for example after signing in or out in another tab). Go back, reload the page and send it again.</p>'),
        status=403)


def _see_other(url: str):
    return redirect(url, code=303)


def _sign_in_redirect():
    return _see_other("/account/sign-in?" + urlencode({"next": request.full_path.rstrip("?")}))


def _denied(exc: AccessDenied):
    if exc.status == 401:
        return _sign_in_redirect()
    return page("Not allowed", Markup(f'<p class="notice notice--error">{e(exc.reason)}</p>'
                                      '<p><a href="/publish">Back to your entries</a></p>'), status=403)


def _not_found(message: str):
    return page("Not found", Markup(f"<p>{e(message)}</p>"), status=404)


def _entry_form(values: dict, errors: dict, publishers: list[str], action: str, submit_labels,
                extra: str = "") -> Markup:
    frequencies = [("", "Choose…")] + [(k, k.replace("-", " ").capitalize()) for k in UPDATE_FREQUENCIES]
    geographies = [("", "Choose…")] + [(k, k.replace("-", " ").upper() if k in ("msoa", "lsoa") else
                                        k.replace("-", " ").capitalize()) for k in GEOGRAPHY_LEVELS]
    pubs = [("", "Choose…")] + [(p, p) for p in publishers]
    licences = [("", "Choose…")] + [(k, title) for k, title, _ in LICENCES]
    buttons = "".join(f'<button type="submit" name="action" value="{e(v)}" class="pub-button{" pub-button--secondary" if i else ""}">{e(lab)}</button>'
                      for i, (v, lab) in enumerate(submit_labels))
    parts = [
        error_summary(errors),
        f'<form method="post" action="{e(action)}" class="pub-form" novalidate'
        + (' enctype="multipart/form-data">' if extra else ">"), csrf_field(),
        field("title", "Title", values.get("title"), errors, required=True,
              hint="What the data is about, as a resident would search for it."),
        field("description", "Description", values.get("description"), errors, kind="textarea",
              hint="Markdown: what is measured, how, and known caveats. Shown as text; HTML is not run."),
        field("publisher", "Publisher", values.get("publisher"), errors, kind="select", options=pubs, required=True),
        '<div class="pub-row">',
        field("licence", "Licence", values.get("licence"), errors, kind="select", options=licences, required=True),
        field("licence_other", "Other licence: its name", values.get("licence_other"), errors,
              hint="Only when you chose 'Other'."),
        field("licence_url", "Other licence: its address", values.get("licence_url"), errors, kind="url"),
        "</div>",
        '<div class="pub-row">',
        field("themes", "Themes", values.get("themes"), errors, hint="Separated by commas, e.g. Environment, Health."),
        field("tags", "Tags", values.get("tags"), errors, hint="Separated by commas."),
        "</div>",
        '<div class="pub-row">',
        field("update_frequency", "How often it is updated", values.get("update_frequency"), errors,
              kind="select", options=frequencies),
        field("temporal_start", "Period covered: from", values.get("temporal_start"), errors,
              hint="A year, month or date: 2019, 2019-04 or 2019-04-01."),
        field("temporal_end", "Period covered: to", values.get("temporal_end"), errors),
        "</div>",
        '<div class="pub-row">',
        field("spatial_coverage", "Area covered", values.get("spatial_coverage"), errors,
              hint="e.g. Greater London, or the London Borough of Camden."),
        field("smallest_geography", "Smallest geography", values.get("smallest_geography"), errors,
              kind="select", options=geographies),
        "</div>",
        field("access_level", "Who may use the files", values.get("access_level") or "open", errors, kind="radio",
              options=[(k, ACCESS_LABELS[k]) for k in ACCESS_LEVELS],
              hint="Everyone sees the description; shared and closed files need an approved request."),
        field("access_note", "How access works", values.get("access_note"), errors, kind="textarea",
              hint="For shared or closed data: who may get it, on what terms."),
        field("access_contact", "Contact for access", values.get("access_contact"), errors, kind="email"),
        extra,
        f'<div class="pub-actions">{buttons}</div></form>',
    ]
    return Markup("".join(str(p) for p in parts))


def _form_input() -> dict:
    keys = ("title", "description", "publisher", "licence", "licence_other", "licence_url", "themes", "tags",
            "update_frequency", "temporal_start", "temporal_end", "spatial_coverage", "smallest_geography",
            "access_level", "access_note", "access_contact")
    return {k: request.form.get(k, "") for k in keys}


def svg_preview(frame, kind: str, width: int = 560, height: int = 420) -> Markup:
    """A small drawing of the joined shapes or points (no script, no tiles): what will be on the map."""
    try:
        geo = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
        if geo.empty:
            return Markup("")
        if len(geo) > 3000:
            geo = geo.sample(3000, random_state=0)
        minx, miny, maxx, maxy = (float(v) for v in geo.total_bounds)
        kx = math.cos(math.radians((miny + maxy) / 2))
        span_x, span_y = max((maxx - minx) * kx, 1e-9), max(maxy - miny, 1e-9)
        scale = min((width - 20) / span_x, (height - 20) / span_y)

        def xy(x, y):
            return f"{(x - minx) * kx * scale + 10:.1f},{(maxy - y) * scale + 10:.1f}"

        parts = []
        if kind == "points" or geo.geom_type.isin(["Point", "MultiPoint"]).all():
            for pt in geo.geometry.representative_point():
                parts.append(f'<circle cx="{xy(pt.x, pt.y).split(",")[0]}" cy="{xy(pt.x, pt.y).split(",")[1]}" r="2.5"/>')
        else:
            simple = geo.geometry.simplify(0.5 / scale)
            for geom in simple:
                polys = getattr(geom, "geoms", [geom])
                for poly in polys:
                    rings = [poly.exterior, *poly.interiors] if hasattr(poly, "exterior") else [poly]
                    d = " ".join("M" + " L".join(xy(x, y) for x, y in ring.coords) + ("Z" if hasattr(poly, "exterior") else "")
                                 for ring in rings)
                    parts.append(f'<path d="{d}"/>')
        return Markup(f'<svg class="pub-map" viewBox="0 0 {width} {height}" role="img" '
                      f'aria-label="Drawing of the {len(geo):,} joined features">{"".join(parts)}</svg>')
    except Exception:  # noqa: BLE001 - a preview that cannot be drawn is left out, the report stays
        log.exception("preview drawing failed")
        return Markup("")


def register(server: Flask, services) -> None:
    server.register_error_handler(CsrfRefused, csrf_failure_page)
    accounts = services.accounts
    publishing = services.publishing
    settings = services.settings

    def editor_required():
        user = current_user()
        if user is None:
            return None, _sign_in_redirect()
        if not user.memberships:
            return None, page("Publishing", Markup(
                "<p>Your account does not belong to a publisher yet. Ask your organisation's "
                "administrator to add you as an editor.</p><p><a href=\"/account\">Your account</a></p>"), status=403)
        return user, None

    # Sign in and out ------------------------------------------------------------------------------
    @server.route("/account/sign-in", methods=["GET", "POST"])
    def account_sign_in():
        nxt = safe_next(request.values.get("next"))
        message = ""
        status = 200
        if request.method == "POST":
            user = accounts.authenticate(request.form.get("email", "")[:300], request.form.get("password", "")[:2000],
                                         request.remote_addr or "")
            if user is not None:
                sign_in(user, accounts)
                return _see_other(nxt or ("/publish" if user.memberships else "/account"))
            message = SIGN_IN_FAILED
            status = 401
        oidc = ""
        if settings.oidc_issuer and settings.oidc_client_id:
            oidc = (f'<p class="pub-or">or</p><p><a class="pub-button pub-button--secondary" '
                    f'href="/account/oidc/start?{urlencode({"next": nxt})}">Sign in with {e(settings.oidc_label)}</a></p>')
        body = Markup(
            (f'<div class="notice notice--error" role="alert">{e(message)}</div>' if message else "")
            + '<form method="post" action="/account/sign-in" class="pub-form pub-form--narrow">' + csrf_field()
            + f'<input type="hidden" name="next" value="{e(nxt)}">'
            + field("email", "Email address", request.form.get("email", "") if request.method == "POST" else "",
                    kind="email", required=True, attrs='autocomplete="username"')
            + field("password", "Password", "", kind="password", required=True, attrs='autocomplete="current-password"')
            + '<div class="pub-actions"><button type="submit" class="pub-button">Sign in</button></div></form>'
            + oidc
            + "<p>Publishers' editors get an account from their organisation's administrator. Anyone may "
              "read the catalogue and open data without signing in.</p>")
        return page("Sign in", body, status=status)

    @server.post("/account/sign-out")
    def account_sign_out():
        sign_out(accounts)
        return _see_other("/")

    @server.get("/account")
    def account_home():
        user = current_user()
        if user is None:
            return _sign_in_redirect()
        roles = "".join(f"<li>{e(m.role.capitalize())} for {e(m.name)}</li>" for m in user.memberships) \
            or "<li>No publisher role: you can read the catalogue and request access to shared data.</li>"
        reqs = publishing.store.requests(user_id=user.id)
        rows = []
        for r in reqs:
            entry = services.registry.get(r["entry_id"])
            title = entry.title if entry else r["entry_id"]
            outcome = {"pending": "Waiting for the publisher",
                       "approved": "Approved" + (f" until {r['until']}" if r["until"] else ""),
                       "refused": "Refused"}[r["status"]]
            rows.append([Markup(f'<a href="/dataset/{e(r["entry_id"])}">{e(title)}</a>'), outcome,
                         r["reason"] or "", r["created"][:10], r["purpose"]])
        body = Markup(f"<h2>Your roles</h2><ul>{roles}</ul><h2>Your requests for access</h2>"
                      + (str(table(["Dataset", "Outcome", "Publisher's note", "Asked", "Purpose"], rows))
                         if rows else "<p>You have not asked for access to any dataset.</p>"))
        return page("Your account", body)

    # Publish area ---------------------------------------------------------------------------------
    @server.get("/publish")
    def publish_home():
        user, stop = editor_required()
        if stop:
            return stop
        entries = publishing.list_for(user)
        pending = [r for r in publishing.inbox(user) if r["status"] == "pending"]
        rows = [[Markup(f'<a href="/publish/{e(r["id"])}">{e(r["title"])}</a>'), r["state"].capitalize(),
                 f"version {r['version']}", r["updated"][:16].replace("T", " ")] for r in entries]
        body = Markup(
            '<p class="pub-actions"><a class="pub-button" href="/publish/new">New entry</a> '
            f'<a class="pub-button pub-button--secondary" href="/publish/requests">Access requests ({len(pending)} waiting)</a>'
            + (' <a class="pub-button pub-button--secondary" href="/publish/people">People</a>' if user.is_admin else "")
            + '</p>'
            + ("<h2>Your entries</h2>" + str(table(["Title", "State", "Version", "Last change (UTC)"], rows))
               if rows else "<p>No entries yet. Start with <a href=\"/publish/new\">a new entry</a>.</p>"))
        return page("Publish", body)

    @server.route("/publish/new", methods=["GET", "POST"])
    def publish_new():
        user, stop = editor_required()
        if stop:
            return stop
        publishers = publishing.publishers_for(user, accounts)
        values = {"publisher": publishers[0] if len(publishers) == 1 else "", "access_level": "open",
                  "spatial_coverage": "Greater London"}
        errors: dict = {}
        if request.method == "POST":
            values = _form_input()
            publish = request.form.get("action") == "publish"
            upload = request.files.get("file")
            try:
                if upload is not None and upload.filename:
                    change, resource, _ = publishing.create_with_upload(
                        values, user, upload.stream, upload.filename, request.form.get("format", ""),
                        settings.max_upload_bytes, publish=publish)
                    return _see_other(f"/publish/{change.entry.id}/report/{resource.id}")
                change = publishing.create(values, user, publish=publish)
            except FieldErrors as exc:
                errors = exc.errors
            else:
                return _see_other(f"/publish/{change.entry.id}?saved={change.state}")
        formats = [("", "Choose…")] + list(FORMAT_LABELS.items())
        file_part = Markup(
            "<h2>A file (optional)</h2><p>Add the data now, or later from the entry's page. It is checked "
            "and loaded, and you will see how it joins to London's areas.</p>"
            + field("format", "Format", request.form.get("format", ""), errors, kind="select", options=formats)
            + field("file", "File", "", errors, kind="file",
                    hint=f"CSV, TSV, XLSX, GeoJSON, TopoJSON, GeoPackage, zipped shapefile or KML; up to "
                         f"{settings.max_upload_bytes // (1024 * 1024)} MB."))
        form = _entry_form(values, errors, publishers, "/publish/new",
                           [("draft", "Save as draft"), ("publish", "Publish now")], extra=file_part)
        intro = Markup("<p>Describe the dataset. You can save a draft, add files and check how they join "
                       "to London's areas, and publish when it is ready.</p>")
        return page("New entry", intro + form, status=422 if errors else 200)

    @server.route("/publish/<entry_id>", methods=["GET", "POST"])
    def publish_entry(entry_id: str):
        user, stop = editor_required()
        if stop:
            return stop
        try:
            entry, state = publishing.editable(user, entry_id)
        except AccessDenied as exc:
            return _denied(exc)
        except PublishError as exc:
            return _not_found(str(exc))
        errors: dict = {}
        values = form_values(entry)
        if request.method == "POST":
            values = _form_input()
            try:
                change = publishing.update(entry_id, values, user)
                if request.form.get("action") == "publish" and change.state == "draft":
                    change = publishing.publish(entry_id, user)
            except FieldErrors as exc:
                errors = exc.errors
            else:
                return _see_other(f"/publish/{entry_id}?saved=version-{change.version}")
        return entry_page(user, entry, state, values, errors)

    def entry_page(user, entry, state, values, errors, upload_errors=None, url_errors=None):
        saved = request.args.get("saved", "")
        notice = ""
        if saved and not errors:
            notice = {"draft": "Saved as a draft.", "published": "Published: it is in the catalogue and on the map."}.get(
                saved, "Saved." if saved.startswith("version-") else "")
            notice = f'<div class="notice" role="status">{e(notice)}</div>' if notice else ""
        state_line = {"draft": "Draft: only your publisher's editors see it.",
                      "published": "Published: in the catalogue, on its dataset page and on the map.",
                      "archived": "Archived: kept and findable, marked as no longer updated."}[state]
        actions = []
        if state == "draft":
            actions.append(post_button(f"/publish/{entry.id}/publish", "Publish"))
        if state == "published":
            actions.append(Markup(f'<a class="pub-button pub-button--secondary" href="/dataset/{e(entry.id)}">Open its dataset page</a>'))
            actions.append(post_button(f"/publish/{entry.id}/archive", "Archive", "pub-button pub-button--secondary"))
        if state == "archived":
            actions.append(post_button(f"/publish/{entry.id}/publish", "Publish again (unarchive)"))
        uploads = {u["resource_id"]: u for u in publishing.store.uploads(entry.id)}
        res_rows = []
        for res in entry.resources:
            up = uploads.get(res.id)
            where = (f"uploaded by {up['uploaded_by']} at {up['at'].replace('T', ' ')} as {up['original_name']!r}, "
                     f"sha256 {up['sha256'][:16]}…" if up else (res.url or res.local_path or ""))
            res_rows.append([res.title or res.id, FORMAT_LABELS.get(res.format, res.format.upper()), where,
                             Markup(f'<a href="/publish/{e(entry.id)}/report/{e(res.id)}">Join report</a>')])
        formats = [("", "Choose…")] + list(FORMAT_LABELS.items())
        upload_form = Markup(
            f'<form method="post" action="/publish/{e(entry.id)}/upload" enctype="multipart/form-data" class="pub-form">'
            + csrf_field() + error_summary(upload_errors or {})
            + field("format", "Format", request.form.get("format", "") if upload_errors else "", upload_errors,
                    kind="select", options=formats, hint="CSV, TSV, XLSX, GeoJSON, TopoJSON, GeoPackage, zipped shapefile or KML.")
            + field("file", "File", "", upload_errors, kind="file",
                    hint=f"Up to {settings.max_upload_bytes // (1024 * 1024)} MB. It is checked and loaded before it is kept.")
            + '<div class="pub-actions"><button type="submit" class="pub-button">Upload and check</button></div></form>')
        url_form = Markup(
            f'<form method="post" action="/publish/{e(entry.id)}/url" class="pub-form">' + csrf_field()
            + error_summary(url_errors or {})
            + field("url", "Or link a file by its address", "", url_errors, kind="url")
            + field("format", "Its format", "", url_errors, kind="select", options=formats)
            + '<div class="pub-actions"><button type="submit" class="pub-button pub-button--secondary">Add link</button></div></form>')
        versions = publishing.store.versions(entry.id)
        v_rows = []
        for i, v in enumerate(versions):
            links = []
            if i + 1 < len(versions):
                links.append(Markup(f'<a href="/publish/{e(entry.id)}/diff?{urlencode({"from": versions[i + 1]["version"], "to": v["version"]})}">What changed</a>'))
            if i > 0:
                links.append(post_button(f"/publish/{entry.id}/revert", f"Revert to version {v['version']}",
                                         "pub-link-button", name="version", value=str(v["version"])))
            v_rows.append([f"{v['version']}", v["at"].replace("T", " "), v["author"], v["note"], Markup(" ".join(str(x) for x in links))])
        audit = publishing.store.audit_log(entry.id)
        a_rows = [[a["at"].replace("T", " "), a["actor"], a["action"],
                   ", ".join(f"{k}: {v}" for k, v in a["detail"].items() if v not in (None, "", []))] for a in audit[:100]]
        body = Markup(
            notice + f'<p class="pub-state pub-state--{e(state)}"><strong>{e(state_line)}</strong></p>'
            + f'<div class="pub-actions">{"".join(str(a) for a in actions)}</div>'
            + '<h2>Files</h2>' + (str(table(["File", "Format", "Where from", ""], res_rows)) if res_rows
                                  else "<p>No files yet.</p>")
            + '<div class="pub-row pub-row--top">' + str(upload_form) + str(url_form) + '</div>'
            + '<h2>Description</h2>'
            + str(_entry_form(values, errors, publishing.publishers_for(user, accounts), f"/publish/{entry.id}",
                              [("save", "Save changes")] + ([("publish", "Save and publish")] if state == "draft" else [])))
            + '<h2>Versions</h2>' + str(table(["Version", "When (UTC)", "Who", "What", ""], v_rows))
            + '<h2>Audit log</h2>' + str(table(["When (UTC)", "Who", "What", "Detail"], a_rows)))
        return page(entry.title, body, heading=entry.title, status=422 if (errors or upload_errors or url_errors) else 200)

    def _entry_action(entry_id: str, do):
        user, stop = editor_required()
        if stop:
            return stop
        try:
            result = do(user)
        except AccessDenied as exc:
            return _denied(exc)
        except PublishError as exc:
            return _not_found(str(exc))
        except FieldErrors as exc:
            entry, state = publishing.editable(user, entry_id)
            return entry_page(user, entry, state, form_values(entry), {}, upload_errors=exc.errors)
        return result

    @server.post("/publish/<entry_id>/publish")
    def publish_publish(entry_id: str):
        return _entry_action(entry_id, lambda user: (publishing.publish(entry_id, user),
                                                     _see_other(f"/publish/{entry_id}?saved=published"))[1])

    @server.post("/publish/<entry_id>/archive")
    def publish_archive(entry_id: str):
        return _entry_action(entry_id, lambda user: (publishing.archive(entry_id, user),
                                                     _see_other(f"/publish/{entry_id}?saved=archived"))[1])

    @server.post("/publish/<entry_id>/revert")
    def publish_revert(entry_id: str):
        try:
            number = int(request.form.get("version", ""))
        except ValueError:
            return _not_found("no such version")
        return _entry_action(entry_id, lambda user: _see_other(
            f"/publish/{entry_id}?saved=version-{publishing.revert(entry_id, number, user).version}"))

    @server.post("/publish/<entry_id>/upload")
    def publish_upload(entry_id: str):
        def do(user):
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                raise FieldErrors({"file": "Choose a file to upload."})
            change, resource, _ = publishing.add_upload(entry_id, upload.stream, upload.filename,
                                                        request.form.get("format", ""), user, settings.max_upload_bytes)
            return _see_other(f"/publish/{entry_id}/report/{resource.id}")
        return _entry_action(entry_id, do)

    @server.post("/publish/<entry_id>/url")
    def publish_url(entry_id: str):
        def do(user):
            change, resource, _ = publishing.add_url_resource(entry_id, request.form, user)
            return _see_other(f"/publish/{entry_id}/report/{resource.id}")
        return _entry_action(entry_id, do)

    @server.route("/publish/<entry_id>/report/<resource_id>", methods=["GET", "POST"])
    def publish_report(entry_id: str, resource_id: str):
        user, stop = editor_required()
        if stop:
            return stop
        try:
            entry, state = publishing.editable(user, entry_id)
            entry.resource(resource_id)
        except AccessDenied as exc:
            return _denied(exc)
        except (PublishError, LookupError) as exc:
            return _not_found(str(exc))
        if request.method == "POST":
            publishing.set_join(entry_id, resource_id, request.form.get("code_column") or None,
                                request.form.get("boundary") or None, user)
            return _see_other(f"/publish/{entry_id}/report/{resource_id}?saved=1")
        column = (request.args.get("code_column") or "")[:200] or None
        boundary = (request.args.get("boundary") or "")[:100] or None
        return page(f"Join report: {entry.title}", join_report_body(entry, state, resource_id, column, boundary),
                    heading=f"How {entry.resource(resource_id).title or resource_id} joins")

    def join_report_body(entry, state, resource_id, column, boundary) -> Markup:
        res = entry.resource(resource_id)
        try:
            loaded = publishing.load_report_source(entry, resource_id, column, boundary)
        except FieldErrors as exc:
            return Markup(f'<div class="notice notice--error" role="alert">{e(exc.errors.get("file"))}</div>'
                          f'<p><a href="/publish/{e(entry.id)}">Back to the entry</a></p>')
        summary = loaded.summary()
        rep = loaded.geography
        items = [("Rows read", f"{loaded.rows:,}" if rep is None else f"{rep.rows_in:,}"),
                 ("Kind", {"table": "a table", "points": "points", "polygons": "areas (polygons)",
                           "lines": "lines"}.get(loaded.kind, loaded.kind)),
                 ("Geometry", loaded.geometry_type or "none"),
                 ("Coordinates", f"{loaded.crs or 'none'}" + (f" (read as {loaded.source_crs})" if loaded.source_crs and loaded.source_crs != loaded.crs else ""))]
        unmatched_list = ""
        if rep is not None:
            items[:0] = [("Code column", rep.code_column),
                         ("Joined to", f"{rep.boundary_title or rep.boundary_set} ({rep.level.upper() if rep.level in ('lsoa', 'msoa') else rep.level} {rep.year})"),
                         ("Matched", f"{rep.matched:,} areas ({rep.match_rate:.1%} of the codes)"),
                         ("Not matched", f"{rep.unmatched:,} codes"),
                         ("Areas without data", f"{rep.boundary_features_without_data:,} of {rep.boundary_features:,}")]
            codes = _unmatched_codes(loaded, entry, resource_id, rep)
            if codes:
                unmatched_list = (f'<h2>Codes not matched ({len(codes):,})</h2><p class="pub-codes">'
                                  + ", ".join(str(e(c)) for c in codes[:500]) + (" …" if len(codes) > 500 else "") + "</p>")
            for warning in rep.warnings:
                unmatched_list += f'<p class="notice notice--warning">{e(warning)}</p>'
        elif loaded.join_error:
            items.insert(0, ("Join", f"not joined: {loaded.join_error}"))
        elif loaded.kind == "table":
            items.insert(0, ("Join", "no column of area codes (GSS codes such as E01000001) was found"))
        repaired = [t for t in summary["provenance"]["transformations"] if "repair" in t.lower() or "invalid" in t.lower()]
        items.append(("Repaired shapes", "; ".join(repaired) if repaired else "none needed"))
        dl = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in items)
        # Try another column or boundary set: a GET form, so the report is a page you can link to
        columns = loaded.code_columns or []
        # when the join failed, any column may be named as the code column
        raw_columns = summary["columns"] if rep is None and loaded.kind == "table" else columns
        col_opts = "".join(f'<option value="{e(c)}"{" selected" if rep is not None and c == rep.code_column else ""}>{e(c)}</option>'
                           for c in dict.fromkeys([*columns, *raw_columns]))
        sets = list(services.data.boundaries)
        prefix = rep.code_scheme if rep is not None else None
        set_opts = "".join(f'<option value="{e(s.id)}"{" selected" if rep is not None and s.id == rep.boundary_set else ""}>'
                           f'{e(s.title)} ({e(s.year)})</option>' for s in sets if prefix is None or s.code_prefix == prefix)
        choose = ""
        if columns:       # the loaders join only tables in which they found area codes
            choose = (f'<form method="get" class="pub-form pub-row" action="/publish/{e(entry.id)}/report/{e(resource_id)}">'
                      f'<div class="pub-field"><label for="f-code_column">Code column</label><select id="f-code_column" name="code_column">{col_opts}</select></div>'
                      f'<div class="pub-field"><label for="f-boundary">Boundaries</label><select id="f-boundary" name="boundary"><option value="">Best match</option>{set_opts}</select></div>'
                      '<div class="pub-actions"><button type="submit" class="pub-button pub-button--secondary">Show the report for this choice</button></div></form>')
            if column or boundary:
                choose += str(post_button(f"/publish/{entry.id}/report/{resource_id}", "Use this choice for the map",
                                          extra=f'<input type="hidden" name="code_column" value="{e(column or "")}">'
                                                f'<input type="hidden" name="boundary" value="{e(boundary or "")}">'))
        preview = loaded.preview(10)
        head = [str(c) for c in preview.columns][:12]
        rows = [[("" if v is None else str(v))[:80] for v in row[:12]] for row in preview.itertuples(index=False)]
        drawing = svg_preview(loaded.frame, loaded.kind) if loaded.is_spatial else Markup("")
        saved = '<div class="notice" role="status">Saved: the map uses this choice.</div>' if request.args.get("saved") else ""
        next_step = (post_button(f"/publish/{entry.id}/publish", "Publish") if state == "draft" else
                     Markup(f'<a class="pub-button" href="/map?{urlencode({"layer": entry.id + ":" + (loaded.numeric_columns() or [""])[0]})}">See it on the map</a>'
                            if state == "published" and loaded.is_spatial else ""))
        return Markup(
            saved + f'<dl class="pub-report" aria-label="Join report">{dl}</dl>' + unmatched_list + choose
            + (f'<h2>Map preview</h2>{drawing}' if drawing else "")
            + "<h2>First rows</h2>" + str(table(head, rows))
            + f'<div class="pub-actions">{next_step}<a class="pub-button pub-button--secondary" href="/publish/{e(entry.id)}">Back to the entry</a></div>')

    def _unmatched_codes(loaded, entry, resource_id, rep) -> list[str]:
        """Every code of the boundary's scheme in the file that found no area (the report keeps ten)."""
        if rep.unmatched <= len(rep.unmatched_examples):
            return list(rep.unmatched_examples)
        try:
            raw = services.data.load_entry(entry, resource_id, join=False).frame
            values = raw[rep.code_column].dropna().astype(str).str.strip()
            matched = set(loaded.frame["area_code"].astype(str)) if "area_code" in loaded.frame.columns else set()
            return sorted({v for v in values if v.startswith(rep.code_scheme) and len(v) == 9} - matched)
        except Exception:  # noqa: BLE001
            return list(rep.unmatched_examples)

    @server.get("/publish/<entry_id>/diff")
    def publish_diff(entry_id: str):
        user, stop = editor_required()
        if stop:
            return stop
        try:
            entry, _ = publishing.editable(user, entry_id)
            old, new = int(request.args.get("from", "")), int(request.args.get("to", ""))
            changes = publishing.diff(entry_id, old, new)
        except AccessDenied as exc:
            return _denied(exc)
        except (PublishError, ValueError) as exc:
            return _not_found(str(exc) or "no such version")
        blocks = []
        for c in changes:
            lines = "".join(f'<span class="pub-diff-{"del" if ln.startswith("-") else "add" if ln.startswith("+") else "ctx"}">{e(ln)}</span>\n'
                            for ln in c["lines"])
            blocks.append(f"<h2>{e(c['field'].replace('_', ' ').capitalize())}</h2><pre class=\"pub-diff\">{lines}</pre>")
        body = Markup((''.join(blocks) or "<p>No differences.</p>")
                      + f'<p><a href="/publish/{e(entry_id)}">Back to the entry</a></p>')
        return page(f"Changes from version {old} to {new}", body, heading=f"{entry.title}: version {old} → {new}")

    # People (admins) -----------------------------------------------------------------------------
    @server.route("/publish/people", methods=["GET", "POST"])
    def publish_people():
        from explorer.accounts import AccountError

        user, stop = editor_required()
        if stop:
            return stop
        if not user.is_admin:
            return _denied(AccessDenied(403, "Only admins manage people."))
        errors: dict = {}
        done = ""
        if request.method == "POST":
            role = request.form.get("role", "")
            publisher = request.form.get("publisher", "").strip()
            known = {name: slug for slug, name in accounts.publishers()}
            slug = known.get(publisher) or publisher
            if role not in ("editor", "admin"):
                errors["role"] = "Choose editor or admin."
            if not publisher:
                errors["publisher"] = "Choose the publisher."
            if not errors:
                try:
                    added = accounts.add_user(request.form.get("email", ""), request.form.get("password") or None,
                                              publisher=slug, publisher_name=publisher, role=role)
                    done = f"{added.email} is now {role} of {publisher}."
                except AccountError as exc:
                    errors[exc.field] = exc.message
        rows = [[u.email, ", ".join(f"{m.role} of {m.name}" for m in u.memberships) or "no role"]
                for u in accounts.list_users()]
        publishers = publishing.publishers_for(user, accounts)
        body = Markup(
            (f'<div class="notice" role="status">{e(done)}</div>' if done else "")
            + table(["Email", "Roles"], rows)
            + "<h2>Add a person, or give someone a role</h2>" + error_summary(errors)
            + '<form method="post" action="/publish/people" class="pub-form">' + csrf_field()
            + '<div class="pub-row">'
            + field("email", "Email address", request.form.get("email", ""), errors, kind="email", required=True)
            + field("publisher", "Publisher", request.form.get("publisher", ""), errors, kind="select",
                    options=[("", "Choose…")] + [(p, p) for p in publishers])
            + field("role", "Role", request.form.get("role", "editor"), errors, kind="select",
                    options=[("editor", "Editor: the publisher's entries"), ("admin", "Admin: everything")])
            + "</div>"
            + field("password", "First password (for a new person)", "", errors, kind="password",
                    hint="Leave empty for someone who signs in with your organisation's account (OpenID Connect).",
                    attrs='autocomplete="new-password"')
            + '<div class="pub-actions"><button type="submit" class="pub-button">Save</button></div></form>')
        return page("People", body, status=422 if errors else 200)

    # Access requests ------------------------------------------------------------------------------
    @server.get("/publish/requests")
    def publish_requests():
        user, stop = editor_required()
        if stop:
            return stop
        rows = []
        for r in publishing.inbox(user):
            entry = services.registry.get(r["entry_id"])
            if r["status"] == "pending":
                decide = Markup(
                    f'<form method="post" action="/publish/requests/{r["id"]}" class="pub-form pub-decide">{csrf_field()}'
                    + str(field(f"until-{r['id']}", "Access ends (optional)", "", kind="date"))
                    + str(field(f"reason-{r['id']}", "Note or reason (needed to refuse)", "", kind="text"))
                    + '<div class="pub-actions"><button type="submit" name="decision" value="approve" class="pub-button">Approve</button>'
                      '<button type="submit" name="decision" value="refuse" class="pub-button pub-button--secondary">Refuse</button></div></form>')
            else:
                decide = f"{r['status'].capitalize()} by {r['decided_by']}" + (f" until {r['until']}" if r["until"] else "") \
                    + (f": {r['reason']}" if r["reason"] else "")
            rows.append([entry.title if entry else r["entry_id"], r["email"], r["purpose"], r["created"][:10], decide])
        body = table(["Dataset", "Who", "Purpose", "Asked", "Decision"], rows) if rows else Markup(
            "<p>No requests for your publishers' shared or closed datasets.</p>")
        return page("Requests for access", body)

    @server.post("/publish/requests/<int:request_id>")
    def publish_decide(request_id: int):
        user, stop = editor_required()
        if stop:
            return stop
        try:
            publishing.decide(request_id, user, request.form.get("decision") == "approve",
                              request.form.get(f"reason-{request_id}", ""), request.form.get(f"until-{request_id}", ""))
        except AccessDenied as exc:
            return _denied(exc)
        except PublishError as exc:
            return _not_found(str(exc))
        except FieldErrors as exc:
            return page("Requests for access", Markup(error_summary(exc.errors))
                        + Markup('<p><a href="/publish/requests">Back to the requests</a></p>'), status=422)
        return _see_other("/publish/requests")

    @server.route("/access/<entry_id>/request", methods=["GET", "POST"])
    def access_request(entry_id: str):
        entry = services.registry.get(entry_id)
        if entry is None:
            return _not_found(f"no dataset {entry_id!r}")
        user = current_user()
        if user is None:
            return _sign_in_redirect()
        errors: dict = {}
        if request.method == "POST":
            try:
                publishing.request_access(entry_id, user, request.form.get("purpose", "")[:3000])
            except FieldErrors as exc:
                errors = exc.errors
            else:
                return page("Request sent", Markup(
                    f"<p>Your request for <strong>{e(entry.title)}</strong> was sent to {e(entry.publisher)}. "
                    "You will see the outcome on <a href=\"/account\">your account page</a>.</p>"))
        how = entry.access_note or "The publisher decides who may use these files."
        contact = entry.extras.get("access_contact")
        body = Markup(
            error_summary(errors)
            + f'<p><strong>{e(ACCESS_LABELS.get(entry.access_level, entry.access_level))}.</strong> {e(how)}</p>'
            + (f"<p>Contact: {e(contact)}</p>" if contact else "")
            + f'<form method="post" action="/access/{e(entry.id)}/request" class="pub-form">' + csrf_field()
            + field("purpose", "What will you use the data for?", request.form.get("purpose", ""), errors,
                    kind="textarea", required=True, hint="The publisher's editors read this to decide.")
            + '<div class="pub-actions"><button type="submit" class="pub-button">Send the request</button></div></form>')
        return page(f"Request access: {entry.title}", body, status=422 if errors else 200)

    if settings.oidc_issuer and settings.oidc_client_id:
        from explorer.web.oidc import register_oidc
        register_oidc(server, services)

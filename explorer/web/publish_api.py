"""The write API, in CKAN's spirit, for publishers' scripts (``Authorization: Bearer <token>``).

    POST  /api/datasets                       JSON entry -> 201 with the entry (a draft unless "publish": true)
    PATCH /api/datasets/<id>                  JSON fields to change -> 200 with the entry (a new version)
    POST  /api/datasets/<id>/resources        multipart "file" (+ "format") or JSON {"url", "format"}
                                              -> 201 with the load report (the `data load --json` shape)
    POST  /api/datasets/<id>/publish          -> 200 with the entry, now searchable and mappable
    POST  /api/datasets/<id>/archive          -> 200 with the entry, kept and marked archived

401 without a valid token, 403 for an entry of another publisher, 404 for no such entry, 422 with
``fields`` naming each bad field. Each call writes all of its change or none of it.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request

from explorer.web.accounts import current_user
from explorer.publishing import AccessDenied, FieldErrors, PublishError
from explorer.services import entry_document

log = logging.getLogger(__name__)


def _error(status: int, message: str, **extra):
    response = jsonify({"error": message, "status": status, **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="explorer"'
    return response


def register(server: Flask, services) -> None:
    publishing = services.publishing

    def document(change) -> dict:
        doc = entry_document(services.registry, change.entry)
        doc["state"] = change.state
        doc["version"] = change.version
        return doc

    def run(action, status: int = 200):
        user = current_user()
        if user is None:
            return _error(401, "send a valid API token: Authorization: Bearer <token> "
                               "(create one with `explorer tokens create EMAIL`)")
        try:
            result = action(user)
        except AccessDenied as exc:
            return _error(exc.status, exc.reason)
        except PublishError as exc:
            return _error(404, str(exc).strip("'\""))
        except FieldErrors as exc:
            return _error(422, "the entry has errors", fields=exc.errors)
        response = jsonify(result)
        response.status_code = status
        return response

    def body() -> dict:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise FieldErrors({"body": "Send a JSON object (Content-Type: application/json)."})
        return data

    @server.post("/api/datasets")
    def api_create():
        def action(user):
            data = body()
            publisher = data.get("publisher")
            if isinstance(publisher, str) and publisher.strip() and \
                    not publishing.access.can_edit(user, publisher=publisher.strip()):
                raise AccessDenied(403, f"you cannot publish for {publisher.strip()[:100]!r}")
            publish = bool(data.pop("publish", False))
            return document(publishing.create(data, user, publish=publish))
        return run(action, 201)

    @server.patch("/api/datasets/<dataset_id>")
    def api_update(dataset_id: str):
        return run(lambda user: document(publishing.update(dataset_id, body(), user, partial=True)))

    @server.post("/api/datasets/<dataset_id>/publish")
    def api_publish(dataset_id: str):
        return run(lambda user: document(publishing.publish(dataset_id, user)))

    @server.post("/api/datasets/<dataset_id>/archive")
    def api_archive(dataset_id: str):
        return run(lambda user: document(publishing.archive(dataset_id, user)))

    @server.post("/api/datasets/<dataset_id>/resources")
    def api_add_resource(dataset_id: str):
        def action(user):
            publishing.editable(user, dataset_id)     # 401/403/404 before reading any body
            if request.mimetype == "multipart/form-data":
                request.max_content_length = services.settings.max_upload_bytes
                upload = request.files.get("file")
                if upload is None:
                    raise FieldErrors({"file": "Send the file in a multipart field named 'file'."})
                change, resource, loaded = publishing.add_upload(
                    dataset_id, upload.stream, upload.filename or "", request.form.get("format", ""),
                    user, services.settings.max_upload_bytes)
            else:
                change, resource, loaded = publishing.add_url_resource(dataset_id, body(), user)
            report = loaded.summary()
            report["resource"] = resource.id
            report["entry_version"] = change.version
            return report
        return run(action, 201)

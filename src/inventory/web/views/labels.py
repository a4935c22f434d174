"""Printable QR label sheets, and the scan page that reads them back."""

from __future__ import annotations

import segno
from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inventory.catalog import item_queries, labels
from inventory.db.models import Role
from inventory.errors import DomainError
from inventory.validation import parse_id
from inventory.web.auth import requires
from inventory.web.context import db, settings

bp = Blueprint("labels", __name__)


def _ids(name: str) -> list[int]:
    return [found for v in request.args.getlist(name) if (found := parse_id(v)) is not None]


@bp.get("/labels")
@requires(Role.viewer)
def sheet() -> str:
    """One label per chosen item (?item=1&item=2) or location (?location=3)."""
    chosen = labels.labels_for(session=db(), item_ids=_ids("item"), location_ids=_ids("location"))
    codes = {}
    for label in chosen:
        target = (
            url_for("item_pages.detail", item_id=label.id, _external=True)
            if label.kind == "item"
            else url_for("item_pages.index", location_id=label.id, _external=True)
        )
        codes[(label.kind, label.id)] = segno.make(target, error="m").svg_inline(
            scale=3, border=2, dark="#000", light="#fff"
        )
    return render_template("labels/sheet.html", labels=chosen, codes=codes)


@bp.get("/scan")
@requires(Role.viewer)
def scan() -> str:
    return render_template("labels/scan.html", error=None)


@bp.post("/scan")
@requires(Role.viewer)
def scan_photo() -> Response | tuple[str, int]:
    """A photo of a label (for browsers without a live barcode reader), or a typed asset ID."""
    error = "no QR code found in that photo; try again closer and in good light"
    asset_id = request.form.get("asset_id", "").strip()
    if asset_id:
        item = item_queries.find_by_asset_id(session=db(), asset_id=asset_id[:16])
        if item is not None:
            return redirect(url_for("item_pages.detail", item_id=item.id))
        error = f"no item has the asset ID {asset_id[:16]}"
    else:
        photo = request.files.get("photo")
        data = photo.read(settings().max_upload_mb * 1024 * 1024) if photo else b""
        try:
            text = labels.read_label(data) if data else None
        except DomainError as exc:
            text, error = None, exc.detail
        target = labels.target_of(text, request.host) if text else None
        if target:
            return redirect(target)
        if text:
            error = "that QR code is not one of this inventory's labels"
    return render_template("labels/scan.html", error=error), 422

"""The instructor's page: one HTML document with its CSS and JS inlined (no CDN, no other request
but the JSON it polls), so it works in a classroom without internet."""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources

from workbook.dashboard.storage import NOTE


@cache
def _asset(name: str) -> str:
    return resources.files("workbook.dashboard").joinpath("static", name).read_text(encoding="utf-8")


def render(base: str, viewer: str) -> str:
    """The page for ``viewer``; ``base`` is the service prefix ("/services/dashboard/")."""
    config = json.dumps({"progress": base + "api/progress", "interval_ms": 1000}).replace("<", "\\u003c")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Workshop progress</title>
<style>{_asset("dashboard.css")}</style>
</head><body>
<header><h1>Workshop progress</h1>
<p class="note" id="note">{html.escape(NOTE)}</p>
<p class="meta">Signed in as {html.escape(viewer)} · <span id="updated">loading…</span> ·
<a href="{html.escape(base)}api/export">export JSON</a></p></header>
<main>
<table id="board"><thead></thead><tbody></tbody><tfoot></tfoot></table>
<section><h2>Failing the same exercise longest</h2><ol id="stuck"></ol></section>
<p class="legend"><span class="passing">✔ passing</span> <span class="failing">✘ failing</span>
<span class="not-attempted">– not attempted</span> · hover a cell for when it was last checked</p>
</main>
<script id="config" type="application/json">{config}</script>
<script>{_asset("dashboard.js")}</script>
</body></html>
"""

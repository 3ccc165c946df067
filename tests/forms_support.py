"""Post forms the way a browser does: read the rendered page's form, fill in
what the person types, send every field the page holds (hidden ones too)."""
from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self._chosen: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                          "fields": {}, "files": set()}
            self.forms.append(self._form)
        if self._form is None:
            return
        fields = self._form["fields"]
        if tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    fields[a["name"]] = a.get("value", "y")
            elif kind == "file":
                self._form["files"].add(a["name"])
            elif kind not in ("submit", "button"):
                fields[a["name"]] = a.get("value", "")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            fields.setdefault(self._select, "")
        elif tag == "option" and self._select is not None:
            # The selected option wins; without one, the first option.
            if "selected" in a or self._select not in self._chosen:
                fields[self._select] = a.get("value", "")
                self._chosen.add(self._select)
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            fields[self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._form is not None and self._textarea is not None:
            self._form["fields"][self._textarea] += data


def page_forms(html: str) -> list[dict]:
    reader = _FormReader()
    reader.feed(html)
    return reader.forms


def form_on(html: str, having: str) -> dict:
    """The fields of the page's first form holding a field named ``having``."""
    for form in page_forms(html):
        if having in form["fields"] or having in form["files"]:
            return dict(form["fields"])
    raise AssertionError(f"no form with a field {having!r} on the page")


def submit(client, url: str, having: str, **typed):
    """GET ``url``, fill its form (the one with field ``having``) with ``typed``
    (None unticks a box), and post it back where the form says."""
    html = client.get(url).get_data(as_text=True)
    return post_form(client, html, url, having, **typed)


def post_form(client, html: str, url: str, having: str, **typed):
    """Post the form with field ``having`` found on ``html`` (served at ``url``)."""
    for form in page_forms(html):
        if having in form["fields"] or having in form["files"]:
            break
    else:
        raise AssertionError(f"no form with a field {having!r} on the page")
    data = dict(form["fields"])
    for name, value in typed.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    kwargs = {"content_type": "multipart/form-data"} if form["files"] else {}
    return client.post(form["action"] or url, data=data, **kwargs)

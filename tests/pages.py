"""Reading forms off rendered pages, as a browser would submit them.

``page_form(html, id_or_action)`` finds one ``<form>`` and returns what a
browser would post if the person pressed its button without changing
anything: text inputs and hidden fields with their values, checked boxes and
radios only, each select's selected option (or its first option, as browsers
do). Tests then change what the person would change and post the result.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Select:
    name: str
    options: list[tuple[str, str, bool]] = field(default_factory=list)  # value, label, selected
    required: bool = False

    def value(self) -> str:
        chosen = [value for value, _label, selected in self.options if selected]
        if chosen:
            return chosen[-1]
        return self.options[0][0] if self.options else ""


@dataclass
class Form:
    attrs: dict
    inputs: list[dict] = field(default_factory=list)
    selects: list[Select] = field(default_factory=list)
    textareas: dict[str, str] = field(default_factory=dict)

    @property
    def action(self) -> str:
        return self.attrs.get("action", "")

    def select(self, name: str) -> Select:
        return next(s for s in self.selects if s.name == name)

    def names(self) -> set[str]:
        return {i.get("name") for i in self.inputs} | {s.name for s in self.selects} | set(self.textareas)

    def data(self) -> dict:
        """Name → value (a list for repeated names) as the browser would send it."""
        pairs: list[tuple[str, str]] = []
        for i in self.inputs:
            kind = (i.get("type") or "text").lower()
            if not i.get("name") or kind in ("submit", "button", "file", "reset", "image"):
                continue
            if kind in ("checkbox", "radio") and "checked" not in i:
                continue
            pairs.append((i["name"], i.get("value", "on" if kind in ("checkbox", "radio") else "")))
        pairs += [(s.name, s.value()) for s in self.selects]
        pairs += list(self.textareas.items())
        data: dict = {}
        for name, value in pairs:
            if name in data:
                data[name] = (data[name] if isinstance(data[name], list) else [data[name]]) + [value]
            else:
                data[name] = value
        return data


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: Select | None = None
        self.option: list | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.form = Form(attrs)
            self.forms.append(self.form)
        elif self.form is None:
            return
        elif tag == "input":
            self.form.inputs.append(attrs)
        elif tag == "select":
            self.select = Select(attrs.get("name", ""), required="required" in attrs)
            self.form.selects.append(self.select)
        elif tag == "option" and self.select is not None:
            self.option = [attrs.get("value"), "", "selected" in attrs]
        elif tag == "textarea":
            self.textarea = attrs.get("name", "")
            self.form.textareas[self.textarea] = ""

    def handle_data(self, data):
        if self.option is not None:
            self.option[1] += data
        elif self.textarea is not None and self.form is not None:
            self.form.textareas[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "option" and self.option is not None and self.select is not None:
            value, label, selected = self.option
            self.select.options.append((label.strip() if value is None else value, label.strip(), selected))
            self.option = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            if self.textarea is not None and self.form is not None:
                # Browsers drop the one newline that follows <textarea>.
                self.form.textareas[self.textarea] = self.form.textareas[self.textarea].removeprefix("\n")
            self.textarea = None
        elif tag == "form":
            self.form = None


def page_forms(html: str) -> list[Form]:
    parser = _Parser()
    parser.feed(html)
    return parser.forms


def page_form(html: str, key: str) -> Form:
    """The form whose id is ``key`` or whose action ends with ``key``; with
    ``key=""``, the page's only form that posts (a form without action posts
    to the page itself)."""
    forms = page_forms(html)
    if key == "":
        posting = [f for f in forms if f.attrs.get("method", "get").lower() == "post" and not f.action]
        assert len(posting) == 1, f"{len(posting)} forms post on the page"
        return posting[0]
    for form in forms:
        if form.attrs.get("id") == key or form.action.endswith(key):
            return form
    raise AssertionError(f"no form {key!r} on the page")


def links(text: str) -> list[str]:
    """Every http(s) address in a mail's text."""
    return re.findall(r"https?://[^\s<>\"]+", text)

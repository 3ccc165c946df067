"""The package's shape: blueprints share vocabulary through domain modules,
never through each other, and each fact of the domain is written once."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from feedback import deadlines, labels, models, reporting
from feedback.reporting import periods, stats

PACKAGE = Path(__file__).resolve().parent.parent / "feedback"
BLUEPRINTS = ("public", "staff", "dashboard", "admin", "api", "auth", "open311", "satisfaction")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every module the source of ``module`` imports, as absolute dotted names."""
    package = module if is_package else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - (node.level - 1)] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # "from . import x" may name submodules: count each as imported.
            names.extend([f"{module}.{alias.name}" for alias in node.names] if not node.module else [module])
    return names


def blueprint_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "feedback" and parts[1] in BLUEPRINTS else None


def test_every_blueprint_package_is_listed():
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    blueprints = {p for p in packages if "Blueprint(" in (PACKAGE / p / "__init__.py").read_text(encoding="utf-8")}
    assert blueprints == set(BLUEPRINTS)


def test_no_blueprint_package_imports_from_another():
    crossings = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = blueprint_of(module_name(path))
        for name in imported_modules(path.read_text(encoding="utf-8"), module_name(path),
                                     is_package=path.name == "__init__.py"):
            other = blueprint_of(name)
            if own and other and other != own:
                crossings.append(f"{module_name(path)} imports {name}")
    assert crossings == []


def test_the_import_check_resolves_relative_and_absolute_imports():
    source = ("from ..public.forms import DetailsForm\nfrom . import bp\n"
              "from .. import workflow\nimport feedback.api.auth\n")
    assert imported_modules(source, "feedback.staff.forms") == [
        "feedback.public.forms", "feedback.staff.bp", "feedback.workflow", "feedback.api.auth"]
    assert [blueprint_of(name) for name in imported_modules(source, "feedback.staff.forms")] == [
        "public", "staff", None, "api"]


def test_the_city_time_zone_is_defined_once():
    assert labels.local is not None and not hasattr(labels, "LOCAL_TZ")
    assert periods.OFFICE_TZ is deadlines.OFFICE_TZ
    definitions = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                   if re.search(r"ZoneInfo\(\s*[\"']Asia/Ho_Chi_Minh", path.read_text(encoding="utf-8"))]
    assert definitions == ["deadlines.py"]


def test_the_open_statuses_are_defined_once():
    assert tuple(sorted(s.value for s in models.OPEN_STATUSES)) == stats.OPEN
    literal = re.compile(r"[\"']closed[\"']\s*,\s*[\"']rejected[\"']")
    templates = PACKAGE.parent / "templates"
    copies = [str(path) for path in list(PACKAGE.rglob("*.py")) + list(templates.rglob("*.html"))
              if literal.search(path.read_text(encoding="utf-8"))]
    assert copies == []


def test_the_low_rating_rule_is_written_once():
    rule = re.compile(r"level\s*<=\s*2")
    templates = PACKAGE.parent / "templates"
    copies = [str(path) for path in list(PACKAGE.rglob("*.py")) + list(templates.rglob("*.html"))
              if rule.search(path.read_text(encoding="utf-8"))]
    assert copies == []
    assert models.LOW_RATING_LEVEL == 2
    assert reporting.__doc__

"""The layering rules of ARCHITECTURE.md §2 (docs/architecture.md), checked on the source: an
app imports only the apps below it (in functions too), its own tests likewise (a test that needs
a higher app lives in tests/integration/), its hand-written SQL names only its own tables, and
it writes other apps' models only through their services."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Lowest first: an app may import the apps before it in this list, never those after it.
LAYERS = ["accounts", "trading", "agents", "billing", "pipelines", "signals", "analytics"]


def imported_apps(path: Path) -> set[str]:
    """The Tradecrew apps a module imports, at any depth (lazy imports count too)."""
    apps = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        apps.update(name.split(".")[0] for name in names if name.split(".")[0] in LAYERS)
    return apps


def upward_imports_in_tests() -> dict[str, list[str]]:
    found = {}
    for rank, app in enumerate(LAYERS):
        higher = set(LAYERS[rank + 1 :])
        for path in sorted((ROOT / app / "tests").rglob("*.py")):
            if upward := imported_apps(path) & higher:
                found[str(path.relative_to(ROOT))] = sorted(upward)
    return found


def test_it_finds_an_upward_import(tmp_path):
    module = tmp_path / "test_x.py"
    module.write_text("def test_x():\n    from pipelines.models import Pipeline\n")
    assert imported_apps(module) == {"pipelines"}


def test_it_keeps_each_apps_tests_within_its_layer():
    assert upward_imports_in_tests() == {}, "move these to tests/integration/"


# The ORM calls that write rows.
WRITES = {"create", "update", "bulk_create", "bulk_update", "delete", "get_or_create"}
WRITES |= {"update_or_create"}


def production_modules():
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if not {"tests", "migrations"} & set(path.relative_to(ROOT).parts):
                yield app, path


def foreign_writes(app: str, path: Path) -> list[str]:
    """`Model.objects….create/update/…` calls on another app's models in `path` of `app`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    foreign = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith(".models"):
            owner = node.module.split(".")[0]
            if owner in LAYERS and owner != app:
                foreign.update({alias.asname or alias.name: owner for alias in node.names})
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in WRITES:
            continue
        root, chain = node.func.value, []
        while isinstance(root, ast.Attribute | ast.Call):
            if isinstance(root, ast.Call):
                root = root.func
            else:
                chain.append(root.attr)
                root = root.value
        if isinstance(root, ast.Name) and root.id in foreign and "objects" in chain:
            found.append(f"{path.name}:{node.lineno} writes {root.id}")
    return found


def test_it_finds_a_write_into_another_apps_model(tmp_path):
    module = tmp_path / "runmodes.py"
    module.write_text(
        "from trading.models import EODAction\n"
        "def f(pk):\n    EODAction.objects.filter(pk=pk).update(action_date=None)\n"
    )
    assert foreign_writes("pipelines", module) == ["runmodes.py:3 writes EODAction"]
    assert foreign_writes("trading", module) == []


def test_it_writes_other_apps_models_only_through_their_services():
    found = [hit for app, path in production_modules() for hit in foreign_writes(app, path)]
    assert found == [], "call the owning app's service instead"


def test_it_uses_no_app_registry_reach_arounds():
    found = [
        str(path.relative_to(ROOT))
        for _app, path in production_modules()
        if "get_model(" in path.read_text()
    ]
    assert found == [], "import the owning app's selector, or ask it through a hook"


# config/core/ holds what the apps import (db, events, errors, env, ui, middleware, metrics …)
# and imports no app; config/ itself is the wiring that imports the apps to put them together
# (settings, urls, api, routing, asgi, celery, health, views), which no app imports.


def test_it_keeps_the_config_core_free_of_apps():
    found = {
        path.name: sorted(imported_apps(path))
        for path in sorted((ROOT / "config" / "core").glob("*.py"))
        if imported_apps(path)
    }
    assert found == {}, "config.core may not import an app; move it to the wiring in config/"


def test_it_lets_no_app_import_the_config_wiring():
    found = []
    for _app, path in production_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
                if node.module == "config":
                    modules = [f"config.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            found.extend(
                f"{path.relative_to(ROOT)}: {module}"
                for module in modules
                if module.split(".")[0] == "config"
                and not (module == "config.core" or module.startswith("config.core."))
            )
    assert found == [], "apps import config.core only; the rest of config/ is the wiring"


def orm_writes(path: Path, models: set[str]) -> list[int]:
    """The lines of `Model.objects….create/update/…` calls on the models named `models`."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in WRITES:
            continue
        root, chain = node.func.value, []
        while isinstance(root, ast.Attribute | ast.Call):
            if isinstance(root, ast.Call):
                root = root.func
            else:
                chain.append(root.attr)
                root = root.value
        if isinstance(root, ast.Name) and root.id in models and "objects" in chain:
            lines.append(node.lineno)
    return lines


def test_it_finds_an_order_written_around_the_order_service(tmp_path):
    module = tmp_path / "monitor.py"
    module.write_text("def f(p):\n    Order.objects.create(symbol=p.symbol)\n")
    assert orm_writes(module, {"Order"}) == [2]


def test_it_writes_orders_only_through_the_order_service():
    """Orders are written by trading.services.orders alone (the monitor's broker legs too)."""
    owner = ROOT / "trading" / "services" / "orders.py"
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for _app, path in production_modules()
        if path != owner
        for line in orm_writes(path, {"Order"})
    ]
    assert found == [], "call trading.services.orders instead"


def user_zone_computations(path: Path) -> list[int]:
    """The lines that work a user's zone out by hand: `ZoneInfo(user.timezone)` and the like."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Call)
        and node.args
        and ast.unparse(node.func).rsplit(".", 1)[-1] == "ZoneInfo"
        and ast.unparse(node.args[0]).endswith(("user.timezone", "owner.timezone"))
    ]


def test_it_finds_a_users_zone_worked_out_by_hand(tmp_path):
    module = tmp_path / "x.py"
    module.write_text(
        "import zoneinfo\ndef f(owner):\n    return zoneinfo.ZoneInfo(owner.timezone)\n"
    )
    assert user_zone_computations(module) == [3]


def test_it_works_out_a_users_zone_and_today_in_one_place():
    found = {
        str(path.relative_to(ROOT))
        for _app, path in production_modules()
        if user_zone_computations(path)
    }
    assert found == {"accounts/selectors.py"}, "call accounts.selectors.user_zone / user_today"


# Hand-written SQL reads and writes only its own app's tables: another app's rows come through
# SQL that app provides (trading.selectors.held_symbols_sql, billing.hooks.runs_sql) or its
# selectors, and a table a statement joins for its model_columns is named by `_meta.db_table`.
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|JOIN|FROM)\b")
APP_TABLE = re.compile(rf"\b(?:{'|'.join(LAYERS)})_[a-z0-9_]+\b")


def string_literals(tree: ast.AST):
    """(line, text) of each string literal; an f-string's literal parts as one text."""
    inside_fstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [part for part in node.values if isinstance(part, ast.Constant)]
            inside_fstrings.update(id(part) for part in parts)
            yield node.lineno, "".join(str(part.value) for part in parts)
    for node in ast.walk(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and id(node) not in inside_fstrings:
            yield node.lineno, node.value


def foreign_tables_in_sql(app: str, path: Path, tables: dict[str, str]) -> list[str]:
    """Another app's tables named in the SQL-looking string literals of `path` (of `app`);
    `tables` maps each table to its app (a column such as `trading_mode` is not a table)."""
    found = []
    for line, text in string_literals(ast.parse(path.read_text(), filename=str(path))):
        if not SQL_WORDS.search(text):
            continue
        for table in sorted(set(APP_TABLE.findall(text))):
            if tables.get(table, app) != app:
                found.append(f"{path.name}:{line} names {table}")
    return found


def app_tables() -> dict[str, str]:
    from django.apps import apps

    return {model._meta.db_table: model._meta.app_label for model in apps.get_models()}


def test_it_finds_another_apps_table_named_in_sql(tmp_path):
    module = tmp_path / "selectors.py"
    module.write_text(
        "X = 'SELECT 1 FROM billing_budgetreservation r '\n"
        "Y = f'  JOIN pipelines_pipelineexecution e ON e.id = {x}'\n"
        "Z = 'SELECT trading_mode FROM billing_dailycost'\n"
        "W = 'pipelines_steprun, without a statement'\n"
    )
    tables = app_tables()
    assert foreign_tables_in_sql("billing", module, tables) == [
        "selectors.py:2 names pipelines_pipelineexecution"
    ]
    assert foreign_tables_in_sql("pipelines", module, tables) == [
        "selectors.py:1 names billing_budgetreservation",
        "selectors.py:3 names billing_dailycost",
    ]


def test_it_names_no_other_apps_table_in_hand_written_sql():
    tables = app_tables()
    found = [
        hit
        for app, path in production_modules()
        for hit in foreign_tables_in_sql(app, path, tables)
    ]
    assert found == [], "ask the owning app for its SQL or rows; take table names from _meta"


# Upward imports in production modules, inside functions too (imported_apps walks every
# import): none. A lower app asks a higher one through a hook (a Django signal it answers).


def upward_imports_in_production() -> dict[str, list[str]]:
    found = {}
    for app, path in production_modules():
        higher = set(LAYERS[LAYERS.index(app) + 1 :])
        if upward := imported_apps(path) & higher:
            found[str(path.relative_to(ROOT))] = sorted(upward)
    return found


def test_it_imports_no_higher_app_in_production_code():
    found = upward_imports_in_production()
    assert found == {}, "ask the higher app through a hook (a Django signal it answers)"


def settings_defaults(source: str) -> list[str]:
    """`getattr(settings, <name>, <default>)` calls in `source` ("line name"): a second default
    for a setting whose one default belongs in config/settings.py."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "getattr"):
            continue
        has_default = len(node.args) >= 3 or any(k.arg == "default" for k in node.keywords)
        reads_settings = node.args and ast.unparse(node.args[0]).rsplit(".", 1)[-1] in {
            "settings",
            "django_settings",
        }
        if has_default and reads_settings:
            found.append(f"{node.lineno} {ast.unparse(node.args[1])}")
    return found


def settings_readers():
    """Every production module that may read settings: the apps and config/ (core and wiring)."""
    yield from (path for _app, path in production_modules())
    yield from sorted((ROOT / "config").rglob("*.py"))


# Modules allowed a getattr default on a setting, each with its reason; keep it short.
SETTINGS_DEFAULTS_ALLOWED: dict[str, str] = {}


def test_it_finds_a_second_default_for_a_setting():
    source = (
        "from django.conf import settings\nfrom django import conf\n"
        'def f():\n    return getattr(settings, "X_CHUNK", 25)\n'
        'def g(name):\n    return getattr(conf.settings, name, None), getattr(settings, "Y")\n'
    )
    assert settings_defaults(source) == ["4 'X_CHUNK'", "6 name"]


def test_it_gives_each_setting_its_default_in_config_settings_alone():
    """A setting's default lives in config/settings.py only; an app reads it without a fallback
    (like signals/conf.py and config/core/conf.py: a missing one is ImproperlyConfigured)."""
    found = {
        str(path.relative_to(ROOT)): hits
        for path in settings_readers()
        if (hits := settings_defaults(path.read_text()))
        and str(path.relative_to(ROOT)) not in SETTINGS_DEFAULTS_ALLOWED
    }
    assert found == {}, "define the default in config/settings.py and read it without one"

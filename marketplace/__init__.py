"""The second-hand marketplace: the application factory."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from marketplace.config import Config, database_url
from marketplace.db import configure_engine, write_intent
from marketplace.db import db as sqla  # not named `db`: that would hide the marketplace.db module
from marketplace.extensions import babel, csrf, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent

# The largest id an INTEGER primary key holds on PostgreSQL (and the largest we hand out).
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a number beyond any id column is simply not found (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


# Feature packages with an HTML blueprint (views.py) and/or JSON routes (api.py).
FEATURES = (
    "home",
    "accounts",
    "identity",
    "audit",
    "credit",
    "grading",
    "listings",
    "moderation",
    "notices",
    "orders",
    "ratings",
    "trust",
    "events",
    "supervision",
)


def create_app(config: dict | None = None) -> Flask:
    """Create and configure the application; `config` overrides everything else."""
    app = Flask(
        __name__,
        instance_path=(config or {}).get("INSTANCE_PATH")
        or os.environ.get("MARKETPLACE_INSTANCE_PATH", str(ROOT / "instance")),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(Config)
    app.config.from_prefixed_env("MARKETPLACE")
    if config:
        app.config.update(config)
    os.makedirs(app.instance_path, exist_ok=True)

    app.config.setdefault("SQLALCHEMY_DATABASE_URI", database_url(os.environ.get("DATABASE_URL"), app.instance_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
    app.config.setdefault("RATELIMIT_STORAGE_URI", os.environ.get("REDIS_URL") or "memory://")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app, "secret_key")

    app.url_map.converters["int"] = IdConverter
    if app.config["PROXY_FIX_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_FIX_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    _init_extensions(app)
    _register_features(app)
    _register_request_hooks(app)

    from marketplace import pagecache

    pagecache.init_app(app)

    from marketplace.cli import register_cli
    from marketplace.errors import register_error_handlers

    register_error_handlers(app)
    register_cli(app)
    return app


def compile_templates(app: Flask) -> int:
    """Compile every page template into the app's Jinja cache now (gunicorn's master does it once
    before forking, so every worker starts with them); returns how many."""
    env = app.jinja_env
    names = [name for name in env.list_templates() if name.endswith((".html", ".ics", ".txt", ".xml"))]
    for name in names:
        env.get_template(name)
    return len(names)


def _instance_secret(app: Flask, name: str) -> str:
    """Read a random secret kept in instance/, creating it on first run (race-free, see keyfiles.py)."""
    from marketplace.keyfiles import read_or_create

    return read_or_create(Path(app.instance_path) / name, lambda: secrets.token_hex(32))


def _init_extensions(app: Flask) -> None:
    sqla.init_app(app)
    with app.app_context():
        configure_engine(sqla.engine)
    migrate.init_app(app, sqla, directory=str(ROOT / "migrations"), render_as_batch=True)
    from marketplace.security import limit_form_body

    app.before_request(limit_form_body)  # before the CSRF check reads the form
    csrf.init_app(app)
    limiter.init_app(app)
    if app.config["RATELIMIT_STORAGE_URI"].startswith("memory://") and not app.testing:
        app.logger.warning("rate limits are kept in memory: they hold for this process only (set REDIS_URL)")

    from marketplace.i18n import select_locale, select_timezone

    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    login_manager.init_app(app)


def _register_features(app: Flask) -> None:
    import importlib

    from marketplace.api import api_bp, init_api

    for name in FEATURES:
        for module_name in ("models", "views", "api"):
            try:
                module = importlib.import_module(f"marketplace.{name}.{module_name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"marketplace.{name}.{module_name}":
                    raise
                continue
            if module_name == "models":
                continue
            if module_name == "views":
                for blueprint in getattr(module, "blueprints", [module.bp]):
                    app.register_blueprint(blueprint)
    init_api(app)
    app.register_blueprint(api_bp)


def _register_request_hooks(app: Flask) -> None:
    from marketplace.security import apply_security_headers, screen_request

    @app.before_request
    def _declare_write_intent():
        write_intent.set(request.method not in ("GET", "HEAD", "OPTIONS"))

    app.before_request(screen_request)

    app.after_request(apply_security_headers)

    @app.teardown_request
    def _reset_write_intent(_exc):
        write_intent.set(True)

    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale

    if not app.debug and not app.testing:
        logging.getLogger("marketplace").setLevel(logging.INFO)

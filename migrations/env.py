import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def get_engine():
    return current_app.extensions["migrate"].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace("%", "%%")
    except AttributeError:
        return str(get_engine().url).replace("%", "%%")


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option("sqlalchemy.url", get_engine_url())
target_db = current_app.extensions["migrate"].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def include_object(obj, name, type_, reflected, compare_to):
    """Leave out what the migrations make by hand for search: SQLite's FTS5 tables and
    PostgreSQL's generated tsvector column (the models never map them)."""
    if type_ == "table" and name.startswith("listing_fts"):
        return False
    if type_ == "column" and name == "vector" and getattr(obj, "table", None) is not None:
        return obj.table.name != "listing_search"
    return not (type_ == "index" and name == "ix_listing_search_vector")


def get_metadata():
    if hasattr(target_db, "metadatas"):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=get_metadata(), literal_binds=True)

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = current_app.extensions["migrate"].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        # The page cache's commit hook (marketplace/pagecache.py) stays out of the migration, which
        # may create or drop its table; every table gets a new token once the migration is done.
        connection.info["pagecache_skip"] = True
        try:
            _migrate(connection, conf_args)
        finally:
            # info belongs to the pooled connection: what uses it next is no migration.
            connection.info.pop("pagecache_skip", None)


def _migrate(connection, conf_args):
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode copies a table and drops the old one; with foreign keys on, SQLite
        # would refuse that drop (or cascade it). The pragma only works outside a
        # transaction, so it is set on the driver's connection before alembic begins;
        # the keys are checked when the migrations are done and turned on again.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    context.configure(connection=connection, target_metadata=get_metadata(), include_object=include_object, **conf_args)

    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.rollback()
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
        if broken:
            raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:5]}")
    _invalidate_kept_pages(connection)


def _invalidate_kept_pages(connection):
    """A migration may change rows of any table: every page a running server keeps becomes stale."""
    import secrets

    import sqlalchemy as sa

    tables = sa.inspect(connection).get_table_names()
    if "cache_versions" not in tables:
        return
    upsert = sa.text(
        "INSERT INTO cache_versions (name, token) VALUES (:name, :token) "
        "ON CONFLICT (name) DO UPDATE SET token = excluded.token"
    )
    # In name order, as the commit hook writes them: two writers never wait on each other crosswise.
    connection.execute(upsert, [{"name": name, "token": secrets.randbits(62)} for name in sorted(tables)])
    connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

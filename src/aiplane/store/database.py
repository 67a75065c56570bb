"""Engine, connections and migrations.

SQLite runs in WAL mode with synchronous=FULL (a committed transaction survives power loss)
and foreign keys on; write transactions start with BEGIN IMMEDIATE so that two writers
serialise at the start instead of failing at commit. PostgreSQL write transactions lock the
rows they check (SELECT ... FOR UPDATE).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from aiplane.domain.errors import Unavailable
from aiplane.store import tables

_MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            _configure_sqlite(self.engine)
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        self._writer = self.engine.execution_options(aiplane_begin="IMMEDIATE")

    def migrate(self) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                # "heads": independently added migrations (one per feature branch) all apply.
                command.upgrade(cfg, "heads")
        except sa.exc.OperationalError as exc:
            raise Unavailable(f"the database at {self.safe_url} cannot be reached; check AIPLANE_DATABASE_URL.") from exc

    @property
    def safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def write(self, bump_generation: bool = True) -> Iterator[sa.Connection]:
        """A write transaction that bumps the state generation when it commits (unless told not
        to: bookkeeping such as keys' last-used times must not make every cache reload)."""
        with self._writer.begin() as conn:
            yield conn
            if bump_generation:
                conn.execute(tables.state_generation.update().values(value=tables.state_generation.c.value + 1))

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            yield conn

    def generation(self) -> int:
        with self.read() as conn:
            value = conn.execute(sa.select(tables.state_generation.c.value)).scalar_one_or_none()
        return int(value or 0)

    def lock_tenant(self, conn: sa.Connection, tenant: str) -> sa.RowMapping | None:
        """The tenant row, locked for the rest of the transaction (SQLite: already serialised)."""
        query = sa.select(tables.tenants).where(tables.tenants.c.name == tenant)
        if not self.is_sqlite:
            query = query.with_for_update()
        return conn.execute(query).mappings().first()

    def lock_pool(self, conn: sa.Connection) -> None:
        """Serialise GPU placements across tenants for the rest of the transaction: two tenants'
        changes may not both take the last free slice (SQLite: writers are already serialised)."""
        if not self.is_sqlite:
            conn.execute(sa.select(tables.state_generation.c.id).with_for_update()).all()

    def dispose(self) -> None:
        self.engine.dispose()


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The id of the one row a single-row INSERT just added."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT reported no primary key; inserted_id only suits single-row inserts.")
    return int(key[0])


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("aiplane_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

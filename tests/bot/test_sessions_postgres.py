"""What only the PostgreSQL store has: versioned migrations, a pool, clear errors, settings wiring."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.sessions import SessionStoreError, open_session_store
from bot.sessions.migrate import MIGRATIONS_DIR, current_version, discover, migrate


def test_the_packaged_migrations_are_numbered_from_one():
    found = discover()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert found[0].path.parent == MIGRATIONS_DIR and "CREATE TABLE sessions" in found[0].sql()


def test_badly_named_or_missing_migrations_are_refused(tmp_path: Path):
    (tmp_path / "0001_init.sql").write_text("SELECT 1;")
    (tmp_path / "0003_later.sql").write_text("SELECT 1;")
    with pytest.raises(SessionStoreError, match="expected migration version 0002"):
        discover(tmp_path)
    (tmp_path / "0003_later.sql").unlink()
    (tmp_path / "2_bad.sql").write_text("SELECT 1;")
    with pytest.raises(SessionStoreError, match="NNNN_name.sql"):
        discover(tmp_path)


def test_a_new_database_is_migrated_once_even_by_replicas_starting_together(postgres_server):
    import psycopg

    dsn = postgres_server.new_database("migrate")
    stores, errors = [], []

    def open_one() -> None:
        try:
            stores.append(open_session_store("postgres", dsn=dsn))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors and len(stores) == 4
        with psycopg.connect(dsn) as con:
            rows = con.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
            assert rows == [(m.version, m.name) for m in discover()]
            assert current_version(con) == len(discover())
        sid = stores[0].create("movies").id
        assert stores[3].get(sid).id == sid
    finally:
        for s in stores:
            s.close()


def test_a_later_migration_is_applied_to_an_existing_database(postgres_server, tmp_path: Path):
    import psycopg

    dsn = postgres_server.new_database("upgrade")
    open_session_store("postgres", dsn=dsn).close()  # version 1 in place, with data
    folder = tmp_path / "migrations"
    folder.mkdir()
    for m in discover():
        (folder / m.path.name).write_text(m.sql())
    nxt = len(discover()) + 1
    (folder / f"{nxt:04d}_profiles.sql").write_text(
        "CREATE TABLE profiles (user_id text PRIMARY KEY, data jsonb NOT NULL);"
    )
    with psycopg.connect(dsn, autocommit=True) as con:
        assert migrate(con, discover(folder)) == [nxt]
        assert migrate(con, discover(folder)) == []
        assert con.execute("SELECT to_regclass('profiles') IS NOT NULL").fetchone()[0]
        assert current_version(con) == nxt


def test_a_database_newer_than_the_code_is_refused(postgres_server):
    import psycopg

    dsn = postgres_server.new_database("newer")
    open_session_store("postgres", dsn=dsn).close()
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("INSERT INTO schema_version (version, name) VALUES (99, 'from_the_future')")
    with pytest.raises(SessionStoreError, match="schema version 99, newer than this recbot knows"):
        open_session_store("postgres", dsn=dsn)


def test_an_unreachable_server_is_a_clear_error_without_the_password(postgres_server):
    from eval.topology import free_port as _free_port

    dsn = f"postgresql://recbot:s3cret@127.0.0.1:{_free_port()}/nowhere"
    with pytest.raises(SessionStoreError) as info:
        open_session_store("postgres", dsn=dsn, timeout_s=2)
    message = str(info.value)
    assert "cannot open the session store at postgresql://recbot@127.0.0.1:" in message
    assert "s3cret" not in message


def test_postgres_without_a_dsn_says_which_setting_to_set():
    with pytest.raises(SessionStoreError, match="RECBOT_SESSIONS__DSN"):
        open_session_store("postgres", dsn="")


def test_settings_select_the_backend(postgres_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from bot import services
    from bot.sessions import PostgresSessionStore, SQLiteSessionStore
    from bot.settings import Settings

    assert isinstance(services.session_store(Settings(data_dir=tmp_path)), SQLiteSessionStore)

    dsn = postgres_server.new_database("settings")
    monkeypatch.setenv("RECBOT_SESSIONS__BACKEND", "postgres")
    monkeypatch.setenv("RECBOT_SESSIONS__DSN", dsn)
    settings = Settings(data_dir=tmp_path)
    store = services.session_store(settings)
    assert isinstance(store, PostgresSessionStore)
    assert services.session_store(settings) is store  # one pool per process
    try:
        store.ping()
        sid = store.create("movies").id
        import psycopg

        with psycopg.connect(dsn) as con:  # written to that server, not to a file under data_dir
            assert con.execute("SELECT catalogue FROM sessions WHERE id = %s", (sid,)).fetchone() == ("movies",)
    finally:
        services._session_stores.clear()
        store.close()

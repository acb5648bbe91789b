"""Start a throwaway MariaDB/MySQL server in a temp directory for integration tests.

Usage: `server = MariaDB.start(tmp_dir)` ... `server.stop()`. The server listens on 127.0.0.1 at a
free port and on a unix socket, lets root in without password through the socket, and has a
database `imb` with user `imb` / password `PASSWORD` allowed from 127.0.0.1. `INTO OUTFILE`
may write into `server.outfile_dir`. Run `.ci/mariadb.sh` (as root) to install the binaries.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pymysql

PASSWORD = "s3cr:t@pw"  # with ':' and '@' on purpose, so URL quoting is exercised
_SERVERS = ("mariadbd", "mysqld")
_INSTALLERS = ("mariadb-install-db", "mysql_install_db")
_STARTUP_TIMEOUT_S = 60


def find_binary(names: tuple[str, ...]) -> str | None:
    """First of `names` on PATH or in /usr/sbin, /usr/libexec; None if none is installed."""
    for name in names:
        found = shutil.which(name) or next(
            (str(p) for d in ("/usr/sbin", "/usr/libexec", "/usr/bin") if (p := Path(d) / name).is_file()), None
        )
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MariaDB:
    process: subprocess.Popen
    root: Path
    port: int

    @property
    def socket(self) -> str:
        return str(self.root / "sock")

    @property
    def outfile_dir(self) -> Path:
        return self.root / "outfiles"

    def url(self, password: str | None = PASSWORD, port: int | None = None) -> str:
        from urllib.parse import quote

        auth = "imb" if password is None else f"imb:{quote(password, safe='')}"
        return f"mysql+pymysql://{auth}@127.0.0.1:{port or self.port}/imb"

    def root_connection(self) -> pymysql.Connection:
        return pymysql.connect(unix_socket=self.socket, user="root", database=None, charset="utf8mb4", autocommit=True)

    def client_args(self) -> list[str]:
        """Arguments that point a mysql/mysqldump client at this server as root."""
        return ["--no-defaults", f"--socket={self.socket}", "--user=root", "--default-character-set=utf8mb4"]

    @classmethod
    def start(cls, root: Path) -> MariaDB:
        server, installer = find_binary(_SERVERS), find_binary(_INSTALLERS)
        if server is None or installer is None:
            raise FileNotFoundError("no mariadbd/mysqld or mariadb-install-db found; run .ci/mariadb.sh as root")
        data, outfiles = root / "data", root / "outfiles"
        data.mkdir(parents=True)
        outfiles.mkdir()
        user = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(
            [installer, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
             "--skip-test-db", *user],
            check=True, capture_output=True,
        )  # fmt: skip
        port = free_port()
        process = subprocess.Popen(
            [server, "--no-defaults", f"--datadir={data}", f"--socket={root / 'sock'}", f"--port={port}",
             "--bind-address=127.0.0.1", f"--secure-file-priv={outfiles}", f"--pid-file={root / 'pid'}",
             f"--log-error={root / 'error.log'}", "--innodb-buffer-pool-size=16M", "--skip-name-resolve",
             "--character-set-server=utf8mb4", *user],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        server_ = cls(process, root, port)
        server_._wait_ready()
        server_._create_user()
        return server_

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                log = (self.root / "error.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the MariaDB server exited at start:\n{log}")
            try:
                self.root_connection().close()
                return
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the MariaDB server did not accept connections in {_STARTUP_TIMEOUT_S} s")
                time.sleep(0.2)

    def _create_user(self) -> None:
        with self.root_connection() as conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE imb CHARACTER SET utf8mb4")
            cur.execute("CREATE USER 'imb'@'127.0.0.1' IDENTIFIED BY %s", (PASSWORD,))
            cur.execute("GRANT ALL ON imb.* TO 'imb'@'127.0.0.1'")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

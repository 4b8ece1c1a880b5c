#!/usr/bin/python3
"""A throwaway PostgreSQL server for the tests (DESIGN.md, "Throwaway PostgreSQL for tests").

    tests/pgtmp.py start DIR      initdb + start on a free port; prints the URL
    tests/pgtmp.py stop DIR       stop and remove DIR

From Python: `with PgTmp() as url: ...`. The server listens on 127.0.0.1 only, trusts local
connections (it holds nothing but test data), and runs with fsync off. initdb refuses to run
as root, so as root it runs as the `postgres` user of Debian's package.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

PG_BIN = "/usr/lib/postgresql/15/bin"


def available():
    return os.path.exists(os.path.join(PG_BIN, "initdb"))


def _as_owner(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(d):
    """Starts a server whose files live in d (created; owned by postgres when root). Returns
    its URL (database `postgres`, user `postgres`)."""
    os.makedirs(d, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(d, "postgres", "postgres")
    data = os.path.join(d, "data")
    subprocess.run(_as_owner([f"{PG_BIN}/initdb", "-D", data, "-U", "postgres", "-A", "trust",
                              "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port = _free_port()
    opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {d} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
    subprocess.run(_as_owner([f"{PG_BIN}/pg_ctl", "-D", data, "-l", os.path.join(d, "log"), "-w",
                              "-o", opts, "start"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"postgres://postgres@127.0.0.1:{port}/postgres"
    with open(os.path.join(d, "url"), "w") as f:
        f.write(url + "\n")
    return url


def stop(d):
    data = os.path.join(d, "data")
    if os.path.exists(os.path.join(data, "postmaster.pid")):
        subprocess.run(_as_owner([f"{PG_BIN}/pg_ctl", "-D", data, "-m", "immediate", "-w",
                                  "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(d, ignore_errors=True)


class PgTmp:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="postern-pg-")
        self.url = None

    def __enter__(self):
        try:
            self.url = start(self.dir)
        except BaseException:
            stop(self.dir)
            raise
        return self.url

    def __exit__(self, *exc):
        stop(self.dir)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit(__doc__)
    if sys.argv[1] == "start":
        print(start(sys.argv[2]))
    else:
        stop(sys.argv[2])

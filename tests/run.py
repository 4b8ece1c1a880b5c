#!/usr/bin/python3
"""Runs every test registered in a meson build directory and prints one closing line,
"N passed, N failed" (", N skipped" when any were skipped).

Each test program speaks TAP (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP, the fuzz-corpus
replays, the end-to-end harness); every "ok"/"not ok" line counts as one test. A program
that exits non-zero, or prints fewer results than its plan, adds a failure of its own.

PostgreSQL: when it is installed (tests/pgtmp.py), one throwaway server is started before
the tests and removed at the end, also on failure or Ctrl-C; its URL goes to every test
program as POSTERN_TEST_PG (the store's suite makes a schema per test in it). A URL already
in POSTERN_TEST_PG is used as it is. Without PostgreSQL the tests that need it fail, unless
POSTERN_TEST_NO_PG=1 is set: then they are skipped.

Usage: tests/run.py BUILD_DIR [--suite S] [--jobs N] [NAME_SUBSTRING...]
"""
import argparse
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgtmp  # noqa: E402

TAP_RESULT = re.compile(r"^(ok|not ok)\b\s*(\d+)?\s*-?\s*(.*)$")
TAP_PLAN = re.compile(r"^1\.\.(\d+)")
SAN_ENV = {
    "ASAN_OPTIONS": "halt_on_error=1:abort_on_error=1:detect_leaks=1:print_summary=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:print_summary=1",
    "MALLOC_PERTURB_": "165",
}


class Result:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []
        self.output = ""
        self.seconds = 0.0


def parse_tap(res, out, rc):
    plan = None
    seen = 0
    for line in out.splitlines():
        line = line.strip()
        m = TAP_PLAN.match(line)
        if m:
            plan = int(m.group(1))
            continue
        m = TAP_RESULT.match(line)
        if not m:
            continue
        seen += 1
        desc = m.group(3)
        if re.search(r"#\s*SKIP", desc, re.I):
            res.skipped += 1
        elif m.group(1) == "ok":
            res.passed += 1
        else:
            res.failed += 1
            res.failures.append(desc)
    if plan is not None and seen < plan:
        res.failed += 1
        res.failures.append(f"stopped after {seen} of {plan} results")
    if rc != 0 and res.failed == 0:
        res.failed += 1
        res.failures.append(f"exit status {rc}")
    if seen == 0 and rc == 0 and plan != 0:
        res.failed += 1
        res.failures.append("printed no TAP result")


# The test programs running now, killed when the run is interrupted.
running = set()
running_lock = threading.Lock()


def run_one(t, build_dir):
    res = Result(t["name"])
    env = dict(os.environ)
    env.update(SAN_ENV)
    env.update(t.get("env") or {})
    start = time.monotonic()
    timeout = t.get("timeout") or 300
    p = subprocess.Popen(t["cmd"], cwd=t.get("workdir") or build_dir, env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    with running_lock:
        running.add(p)
    try:
        out, _ = p.communicate(timeout=timeout)
        out = out.decode("utf-8", "replace")
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        out = out.decode("utf-8", "replace") + f"\n# timed out after {timeout}s\n"
        rc = -1
    finally:
        with running_lock:
            running.discard(p)
    res.seconds = time.monotonic() - start
    res.output = out
    parse_tap(res, out, rc)
    return res


def report(res):
    status = "FAIL" if res.failed else "ok"
    print(f"{status:4} {res.name}: {res.passed} passed, {res.failed} failed"
          + (f", {res.skipped} skipped" if res.skipped else "") + f" ({res.seconds:.1f}s)",
          flush=True)
    if res.failed:
        for f in res.failures:
            print(f"     not ok: {f}")
        tail = res.output.splitlines()[-80:]
        print("     --- last output ---")
        for line in tail:
            print("     | " + line)
        sys.stdout.flush()


def start_postgres():
    """Starts the throwaway PostgreSQL server when one is wanted and can be had; sets
    POSTERN_TEST_PG for the test programs. Returns the server to remove, or None."""
    if os.environ.get("POSTERN_TEST_NO_PG") == "1":
        print("# PostgreSQL: its tests are skipped (POSTERN_TEST_NO_PG=1)", flush=True)
        return None
    if os.environ.get("POSTERN_TEST_PG"):
        print("# PostgreSQL: the server of POSTERN_TEST_PG", flush=True)
        return None
    if not pgtmp.available():
        print(f"# PostgreSQL: not installed ({pgtmp.PG_BIN}/initdb): its tests fail; "
              "POSTERN_TEST_NO_PG=1 skips them", flush=True)
        return None
    server = pgtmp.PgTmp()
    t0 = time.monotonic()
    try:
        url = server.__enter__()
    except (OSError, subprocess.CalledProcessError) as ex:
        detail = (getattr(ex, "stderr", None) or b"").decode("utf-8", "replace").strip()
        print(f"# PostgreSQL: cannot start a throwaway server: {ex} {detail}: its tests fail",
              flush=True)
        return None
    os.environ["POSTERN_TEST_PG"] = url
    print(f"# PostgreSQL: throwaway server {url} in {server.dir} "
          f"({time.monotonic() - t0:.1f}s)", flush=True)
    return server


def interrupted(signum, frame):
    raise KeyboardInterrupt


def run_all(a, tests, results):
    parallel = [t for t in tests if t.get("is_parallel", True)]
    serial = [t for t in tests if not t.get("is_parallel", True)]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs)
    try:
        for res in pool.map(lambda t: run_one(t, a.build_dir), parallel):
            report(res)
            results.append(res)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    for t in serial:
        res = run_one(t, a.build_dir)
        report(res)
        results.append(res)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--suite", action="append")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    tests = json.loads(subprocess.check_output(["meson", "introspect", "--tests", a.build_dir]))
    if a.suite:
        tests = [t for t in tests if any(s.split(":")[-1] in a.suite for s in t["suite"])]
    if a.names:
        tests = [t for t in tests if any(n in t["name"] for n in a.names)]
    results = []
    signal.signal(signal.SIGTERM, interrupted)
    server = start_postgres()
    stopped = False
    try:
        run_all(a, tests, results)
    except KeyboardInterrupt:
        stopped = True
        print("interrupted: the tests still running are killed", flush=True)
        with running_lock:
            for p in running:
                p.kill()
    finally:
        # A second Ctrl-C must not leave the server behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if server is not None:
            server.__exit__(None, None, None)
            print("# PostgreSQL: throwaway server stopped and removed", flush=True)
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    skipped = sum(r.skipped for r in results)
    if not results:
        failed += 1
        print("no test was registered")
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    if stopped:
        return 130
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

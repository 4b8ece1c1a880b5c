#!/usr/bin/python3
"""Runs every test registered in a meson build directory and prints one closing line,
"N passed, N failed" (", N skipped" when any were skipped).

Each test program speaks TAP (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP, the fuzz-corpus
replays, the end-to-end harness); every "ok"/"not ok" line counts as one test. A program
that exits non-zero, or prints fewer results than its plan, adds a failure of its own.

Usage: tests/run.py BUILD_DIR [--suite S] [--jobs N] [NAME_SUBSTRING...]
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

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


def run_one(t, build_dir):
    res = Result(t["name"])
    env = dict(os.environ)
    env.update(SAN_ENV)
    env.update(t.get("env") or {})
    start = time.monotonic()
    timeout = t.get("timeout") or 300
    try:
        p = subprocess.run(t["cmd"], cwd=t.get("workdir") or build_dir, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        rc = p.returncode
    except subprocess.TimeoutExpired as ex:
        out = (ex.stdout or b"").decode("utf-8", "replace")
        out += f"\n# timed out after {timeout}s\n"
        rc = -1
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
    parallel = [t for t in tests if t.get("is_parallel", True)]
    serial = [t for t in tests if not t.get("is_parallel", True)]
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        for res in pool.map(lambda t: run_one(t, a.build_dir), parallel):
            report(res)
            results.append(res)
    for t in serial:
        res = run_one(t, a.build_dir)
        report(res)
        results.append(res)
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""harness.py: a small TAP test framework and process helpers for Postern's end-to-end tests.

Runs on Debian's /usr/bin/python3 with the standard library only (no pytest). A test file:

    import harness as h

    @h.test
    def healthz_answers(t):
        srv = h.start_postern()                  # default config, free port, waits for /healthz
        r = h.request(srv.port, 'GET', '/healthz')
        t.eq(r.status, 200)
        t.eq(r.body, b'ok\\n')

    if __name__ == '__main__':
        h.main()

main() prints TAP ("1..N", then "ok i - name" / "not ok i - name" with "# " diagnostic
lines) and exits 1 when a test failed. `python3 test_x.py NAME...` runs only the named tests.
Every server started inside a test is stopped (SIGTERM, then SIGKILL after a bound) when the
test ends, pass or fail, and at exit; its stderr is kept in a file and its tail is printed
as a diagnostic when the test fails. A sanitizer report (ASan, LSan, UBSan) in a server's
output fails the test that started it.

Environment (set by tests/e2e/meson.build):
    POSTERN       the postern binary
    ECHO_SERVER   tests/e2e/echo_server (a test server on src/http alone)
    E2E_VECTORS   tests/vectors
    E2E_KEEP=1    keep temporary directories (for debugging)
"""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

TEST_TIMEOUT = 120  # seconds per test (SIGALRM)
START_TIMEOUT = 20  # seconds for a server to answer /healthz
STOP_TIMEOUT = 15   # seconds between SIGTERM and SIGKILL

_tests = []
_live = []  # servers not yet stopped
_tmpdirs = []


class TestFailure(AssertionError):
    pass


# ---- registry and runner --------------------------------------------------------------------

def test(fn):
    """Registers a test function taking one argument, the TestCase."""
    _tests.append(fn)
    return fn


class TestCase:
    """Assertions for one test; each failing assertion raises TestFailure."""

    def __init__(self, name):
        self.name = name
        self.notes = []
        self.cleanups = []

    def note(self, msg):
        """Adds a diagnostic line, printed if the test fails."""
        self.notes.append(str(msg))

    def fail(self, msg):
        raise TestFailure(msg)

    def ok(self, cond, msg='condition is false'):
        if not cond:
            raise TestFailure(msg)

    def eq(self, got, want, msg=''):
        if got != want:
            raise TestFailure('%sgot %r, want %r' % (msg + ': ' if msg else '', got, want))

    def ne(self, got, unwanted, msg=''):
        if got == unwanted:
            raise TestFailure('%sgot %r' % (msg + ': ' if msg else '', got))

    def contains(self, haystack, needle, msg=''):
        if needle not in haystack:
            raise TestFailure('%s%r not found in %r' % (msg + ': ' if msg else '', needle,
                                                        _short(haystack)))

    def le(self, got, bound, msg=''):
        if not got <= bound:
            raise TestFailure('%sgot %r, want <= %r' % (msg + ': ' if msg else '', got, bound))

    def ge(self, got, bound, msg=''):
        if not got >= bound:
            raise TestFailure('%sgot %r, want >= %r' % (msg + ': ' if msg else '', got, bound))

    def defer(self, fn):
        """Runs fn() when the test ends, pass or fail (last registered runs first)."""
        self.cleanups.append(fn)


def _short(v, n=300):
    s = repr(v)
    return s if len(s) <= n else s[:n] + '...'


def _alarm(signum, frame):
    raise TimeoutError('test took longer than %d s' % TEST_TIMEOUT)


def _diag(lines):
    for line in lines:
        for part in str(line).splitlines() or ['']:
            print('# ' + part)


def main(argv=None):
    """Runs the registered tests (or those named on the command line); TAP on stdout."""
    argv = sys.argv[1:] if argv is None else argv
    tests = [f for f in _tests if not argv or f.__name__ in argv]
    print('1..%d' % len(tests), flush=True)
    failed = 0
    signal.signal(signal.SIGALRM, _alarm)
    for i, fn in enumerate(tests, 1):
        t = TestCase(fn.__name__)
        started = len(_live)
        err = None
        signal.alarm(TEST_TIMEOUT)
        try:
            fn(t)
        except TestFailure as e:
            err = ['FAILED: %s' % e]
        except BaseException as e:  # noqa: B902 - a test must never stop the run
            if isinstance(e, KeyboardInterrupt):
                raise
            err = ['ERROR: %s: %s' % (type(e).__name__, e)] + \
                traceback.format_exc().splitlines()
        finally:
            signal.alarm(0)
        for c in reversed(t.cleanups):
            try:
                c()
            except Exception as e:  # a cleanup failure fails the test too
                err = (err or []) + ['cleanup: %s: %s' % (type(e).__name__, e)]
        logs = []
        for srv in list(_live[started:]):
            srv.stop()
            report = sanitizer_report(srv.log())
            if report:
                err = (err or []) + ['%s: sanitizer report:' % srv.name] + report
            elif err:
                logs += ['--- stderr of %s (last lines):' % srv.name] + srv.log_tail()
        if err:
            failed += 1
            print('not ok %d - %s' % (i, fn.__name__))
            _diag(err + t.notes + logs)
        else:
            print('ok %d - %s' % (i, fn.__name__))
        sys.stdout.flush()
    if failed:
        _diag(['%d of %d tests failed' % (failed, len(tests))])
    sys.exit(1 if failed else 0)


SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:',
                     'WARNING: ThreadSanitizer')


def sanitizer_report(log, context=40):
    """The lines of a sanitizer report in a server's log (ASan, LSan, UBSan), or []. Every
    server a test starts is checked when the test ends: a report fails the test."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if any(m in line for m in SANITIZER_MARKERS):
            return lines[i:i + context]
    return []


# ---- temporary files and config -----------------------------------------------------------

def tmpdir():
    """A fresh temporary directory, removed at exit (unless E2E_KEEP=1)."""
    d = tempfile.mkdtemp(prefix='postern-e2e-')
    _tmpdirs.append(d)
    return d


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def to_yaml(obj, indent=0):
    """A YAML block for nested dicts, lists and scalars (strings double-quoted, JSON-style,
    which is valid YAML)."""
    pad = '  ' * indent
    if isinstance(obj, dict):
        if not obj:
            return pad + '{}\n'
        out = ''
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out += '%s%s:\n%s' % (pad, k, to_yaml(v, indent + 1))
            else:
                out += '%s%s: %s\n' % (pad, k, _yaml_scalar(v))
        return out
    if isinstance(obj, list):
        if not obj:
            return pad + '[]\n'
        out = ''
        for v in obj:
            if isinstance(v, dict) and v:
                inner = to_yaml(v, indent + 1).lstrip()
                out += '%s- %s' % (pad, inner)
            else:
                out += '%s- %s\n' % (pad, _yaml_scalar(v))
        return out
    return pad + _yaml_scalar(obj) + '\n'


def _yaml_scalar(v):
    if v is None:
        return 'null'
    if v is True:
        return 'true'
    if v is False:
        return 'false'
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, dict) and not v:
        return '{}'
    if isinstance(v, list) and not v:
        return '[]'
    return json.dumps(str(v))


def self_signed_cert(directory=None, names=('localhost', '127.0.0.1'), key='rsa:2048'):
    """Makes a self-signed certificate with `openssl req -x509`; returns (cert, key) paths.
    names: DNS names and IP addresses for subjectAltName (the first is also the CN)."""
    directory = directory or tmpdir()
    cert_path = os.path.join(directory, 'cert.pem')
    key_path = os.path.join(directory, 'key.pem')
    san = ','.join(('IP:' if re.match(r'^[\d.]+$|:', n) else 'DNS:') + n for n in names)
    newkey = ['-newkey', key] if not key.startswith('ec') else \
        ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']
    subprocess.run(['openssl', 'req', '-x509', '-nodes', '-days', '2', '-subj',
                    '/CN=' + names[0], '-addext', 'subjectAltName=' + san,
                    '-keyout', key_path, '-out', cert_path] + newkey,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert_path, key_path


def write_config(cfg, directory=None, name='postern.yaml'):
    """Writes cfg (a dict, or YAML text) into directory (default: a new tmpdir); returns
    the file's path."""
    directory = directory or tmpdir()
    path = os.path.join(directory, name)
    with open(path, 'w') as f:
        f.write(cfg if isinstance(cfg, str) else to_yaml(cfg))
    return path


# ---- server processes -----------------------------------------------------------------------

class Server:
    """A server process started by a test. port is the first listener's port."""

    def __init__(self, name, argv, port, ports=None, scheme='http', cwd=None, env=None):
        self.name = name
        self.argv = argv
        self.port = port
        self.ports = ports or [port]
        self.scheme = scheme
        self.logdir = tmpdir()
        self.logpath = os.path.join(self.logdir, 'stderr.log')
        self._log = open(self.logpath, 'wb')
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, cwd=cwd or self.logdir,
                                     env=env, start_new_session=True)
        self.pid = self.proc.pid
        self.returncode = None
        _live.append(self)

    def log(self):
        """Everything the server wrote to stdout and stderr so far."""
        if not self._log.closed:
            self._log.flush()
        with open(self.logpath, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def log_tail(self, n=30):
        return self.log().splitlines()[-n:]

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        """Waits for the process to exit; returns its exit status, or None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after timeout seconds. Returns the exit status."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                os.kill(self.pid, signal.SIGKILL)
                self.wait(5)
        self.returncode = self.proc.poll()
        if self in _live:
            _live.remove(self)
        self._log.close()
        return self.returncode

    def wait_ready(self, path='/healthz', timeout=START_TIMEOUT, tls_context=None):
        """Polls GET path until it answers 200; fails early if the process exits."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise TestFailure('%s exited with status %s before it was ready:\n%s' %
                                  (self.name, self.proc.returncode, '\n'.join(self.log_tail())))
            try:
                r = request(self.port, 'GET', path, timeout=2, tls_context=tls_context)
                if r.status == 200:
                    return self
                last = 'status %d' % r.status
            except (OSError, EOFError, ValueError) as e:
                last = '%s: %s' % (type(e).__name__, e)
            time.sleep(0.05)
        raise TestFailure('%s not ready after %d s (%s):\n%s' %
                          (self.name, timeout, last, '\n'.join(self.log_tail())))


def postern_bin():
    p = os.environ.get('POSTERN')
    if not p:
        raise TestFailure('POSTERN is not set (run through meson test)')
    return p


def echo_bin():
    p = os.environ.get('ECHO_SERVER')
    if not p:
        raise TestFailure('ECHO_SERVER is not set (run through meson test)')
    return p


def vectors_dir(*parts):
    base = os.environ.get('E2E_VECTORS') or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..', 'vectors')
    return os.path.join(base, *parts)


def postern_config(port=None, **server):
    """The default config dict: one plain listener on 127.0.0.1:port (free if None), a data
    directory in a fresh tmpdir, 2 threads, short shutdown. Keyword arguments override or
    extend the `server` mapping (e.g. timeouts={'header': '2s'})."""
    d = tmpdir()
    port = port or free_port()
    srv = {'listen': ['127.0.0.1:%d' % port], 'data_dir': os.path.join(d, 'data'), 'threads': 2}
    srv.update(server)
    return {'server': srv, 'log_level': 'info'}


def start_postern(config=None, ready=True, tls_context=None, args=(), env=None):
    """Starts `$POSTERN serve --config FILE`. config: a dict (default postern_config()) or YAML
    text. The first listen entry gives Server.port. Waits for /healthz unless ready=False."""
    config = config if config is not None else postern_config()
    ports = []
    scheme = 'http'
    if isinstance(config, dict):
        for entry in config.get('server', {}).get('listen', []):
            addr = entry['address'] if isinstance(entry, dict) else entry
            ports.append(int(addr.rsplit(':', 1)[1]))
            if isinstance(entry, dict) and entry.get('tls') and len(ports) == 1:
                scheme = 'https'
    else:
        m = re.findall(r':(\d+)"', config)
        ports = [int(p) for p in m]
    path = write_config(config)
    srv = Server('postern', [postern_bin(), 'serve', '--config', path] + list(args),
                 ports[0] if ports else None, ports, scheme, cwd=os.path.dirname(path), env=env)
    if ready:
        if scheme == 'https' and tls_context is None:
            tls_context = insecure_tls_context()
        srv.wait_ready(tls_context=tls_context)
    return srv


def start_echo(*args, port=None, ready=True, tls_context=None):
    """Starts the echo test server on 127.0.0.1:port (free if None) with extra command-line
    arguments (e.g. '--threads', '2'); waits for /healthz unless ready=False."""
    port = port or free_port()
    argv = [echo_bin(), '--listen', '127.0.0.1:%d' % port] + [str(a) for a in args]
    srv = Server('echo_server', argv, port, scheme='https' if '--tls-cert' in args else 'http')
    if ready:
        if srv.scheme == 'https' and tls_context is None:
            tls_context = insecure_tls_context()
        srv.wait_ready(tls_context=tls_context)
    return srv


def _cleanup():
    for srv in list(_live):
        try:
            srv.stop(timeout=5)
        except Exception:
            pass
    if not os.environ.get('E2E_KEEP'):
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


def _on_signal(signum, frame):
    _cleanup()
    sys.exit(128 + signum)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)


# ---- raw HTTP -------------------------------------------------------------------------------

class Response:
    def __init__(self, status, reason, version, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers  # list of (name, value) as received
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        """The first header of this name (case-insensitive), or default."""
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return default

    def header_all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def __repr__(self):
        return '<Response %d %s, %d body bytes>' % (self.status, self.reason, len(self.body))


def insecure_tls_context(minimum=None, maximum=None):
    """A client TLS context that does not verify the server (tests use self-signed certs)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


class Conn:
    """One client connection with a read buffer: send raw bytes, read responses one by one."""

    def __init__(self, port, host='127.0.0.1', timeout=5.0, tls_context=None,
                 server_hostname='localhost'):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.buf = b''

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode('latin-1')
        self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError('connection closed by the server')
        self.buf += data

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while b'\r\n' not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def read_response(self, head_request=False, allow_1xx=False):
        """Reads one response. head_request: the request was HEAD (no body follows).
        1xx responses are returned only when allow_1xx, otherwise skipped."""
        while True:
            while b'\r\n\r\n' not in self.buf:
                self._fill()
            head, self.buf = self.buf.split(b'\r\n\r\n', 1)
            lines = head.decode('latin-1').split('\r\n')
            m = re.match(r'^(HTTP/\d\.\d) (\d{3}) ?(.*)$', lines[0])
            if not m:
                raise ValueError('bad status line %r' % lines[0])
            headers = []
            for line in lines[1:]:
                k, _, v = line.partition(':')
                headers.append((k, v.strip()))
            status = int(m.group(2))
            resp = Response(status, m.group(3), m.group(1), headers, b'', head)
            if 100 <= status < 200:
                if allow_1xx:
                    return resp
                continue
            break
        if head_request or status in (204, 304):
            return resp
        te = (resp.header('transfer-encoding') or '').lower()
        cl = resp.header('content-length')
        if 'chunked' in te:
            body = b''
            while True:
                size = int(self._line().split(b';')[0], 16)
                if size == 0:
                    while self._line() != b'':
                        pass
                    break
                body += self._take(size)
                self._take(2)
            resp.body = body
        elif cl is not None:
            resp.body = self._take(int(cl))
        else:
            resp.body = self.read_until_close()
        return resp

    def read_until_close(self):
        out = self.buf
        self.buf = b''
        while True:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            out += data
        return out

    def is_closed(self, timeout=2.0):
        """True when the server closes the connection (EOF or reset) within timeout seconds
        and sent nothing more."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, TimeoutError):
            return False
        except ssl.SSLError:
            return True
        if data:
            self.buf += data
            return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def build_request(method, path, headers=None, body=None, host='127.0.0.1', version='1.1'):
    """The bytes of a request; adds Host (unless host is None) and Content-Length for a
    body (unless the headers already frame it)."""
    hs = list((headers or {}).items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in hs}
    if host is not None and 'host' not in names:
        hs.insert(0, ('Host', host))
    if body is not None:
        if isinstance(body, str):
            body = body.encode()
        if 'content-length' not in names and 'transfer-encoding' not in names:
            hs.append(('Content-Length', str(len(body))))
    head = '%s %s HTTP/%s\r\n' % (method, path, version)
    head += ''.join('%s: %s\r\n' % (k, v) for k, v in hs) + '\r\n'
    return head.encode('latin-1') + (body or b'')


def request(port, method, path, headers=None, body=None, host='127.0.0.1', timeout=5.0,
            tls_context=None):
    """One request on a new connection (Connection: close); returns the Response."""
    hs = list((headers or {}).items()) if isinstance(headers, dict) else list(headers or [])
    if 'connection' not in {k.lower() for k, _ in hs}:
        hs.append(('Connection', 'close'))
    with Conn(port, timeout=timeout, tls_context=tls_context) as c:
        c.send(build_request(method, path, hs, body, host))
        return c.read_response(head_request=(method == 'HEAD'))


def wait_until(cond, timeout=5.0, step=0.05):
    """Polls cond() until it is true; returns its last value."""
    deadline = time.monotonic() + timeout
    v = cond()
    while not v and time.monotonic() < deadline:
        time.sleep(step)
        v = cond()
    return v

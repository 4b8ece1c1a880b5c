"""bench/gate/idle.py: N idle keep-alive client connections, each after one request, and the
memory of the server that holds them.

    idle.py PORT HOST COOKIE BODY_FILE N PID [PID...]

Opens N connections to 127.0.0.1:PORT one after the other; on each sends one GET / with
Host: HOST and Cookie: COOKIE and reads the whole answer, which must be a 200 whose body is the
bytes of BODY_FILE (the origin's page); then leaves the connection open and idle. When all N are
open it waits SETTLE_S, reads VmRSS, RssAnon and RssFile of the PIDs (summed: nginx's workers),
and checks that every connection is still open (the server closed none). Prints
    RESULT conns=N open=M vmrss_kb=.. rssanon_kb=.. rssfile_kb=.. before_kb=.. secs=..
where before_kb is the VmRSS before the first connection. Needs ulimit -n > N.
"""

import socket
import sys
import time

SETTLE_S = 3
RECV_CHUNK = 65536
TIMEOUT_S = 10


def rss(pids):
    tot = {'VmRSS': 0, 'RssAnon': 0, 'RssFile': 0}
    for pid in pids:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                k, _, v = line.partition(':')
                if k in tot:
                    tot[k] += int(v.split()[0])
    return tot


def one_request(port, req, body):
    s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT_S)
    s.sendall(req)
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = s.recv(RECV_CHUNK)
        if not chunk:
            raise RuntimeError('closed before the answer: %r' % data[:200])
        data += chunk
    head, _, rest = data.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    if not lines[0].startswith(b'HTTP/1.1 200 '):
        raise RuntimeError('answer %r' % data[:300])
    length = None
    for line in lines[1:]:
        k, _, v = line.partition(b':')
        if k.strip().lower() == b'content-length':
            length = int(v.strip())
    if length is None:
        raise RuntimeError('no Content-Length: %r' % head)
    while len(rest) < length:
        chunk = s.recv(RECV_CHUNK)
        if not chunk:
            raise RuntimeError('closed in the body')
        rest += chunk
    if rest != body:
        raise RuntimeError('body %r, not the origin page' % rest[:200])
    return s


def still_open(s):
    s.setblocking(False)  # with a timeout, recv would first wait for data
    try:
        return s.recv(1, socket.MSG_PEEK) != b''
    except BlockingIOError:
        return True
    except OSError:
        return False


def main(argv):
    port, host, cookie, body_file, n = int(argv[0]), argv[1], argv[2], argv[3], int(argv[4])
    pids = [int(p) for p in argv[5:]]
    with open(body_file, 'rb') as f:
        body = f.read()
    req = ('GET / HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nUser-Agent: bench-gate-idle\r\n'
           'Accept: */*\r\n\r\n' % (host, cookie)).encode()
    before = rss(pids)['VmRSS']
    start = time.monotonic()
    socks = []
    for i in range(n):
        try:
            socks.append(one_request(port, req, body))
        except (OSError, RuntimeError) as ex:
            print('bench/gate: idle.py: connection %d: %s' % (i + 1, ex), file=sys.stderr)
            break
    secs = time.monotonic() - start
    time.sleep(SETTLE_S)
    m = rss(pids)
    nopen = sum(1 for s in socks if still_open(s))
    print('RESULT conns=%d open=%d vmrss_kb=%d rssanon_kb=%d rssfile_kb=%d before_kb=%d '
          'secs=%.1f' % (len(socks), nopen, m['VmRSS'], m['RssAnon'], m['RssFile'], before,
                         secs))
    for s in socks:
        s.close()
    return 0 if len(socks) == n and nopen == n else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

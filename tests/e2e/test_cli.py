"""The command line: help, version, configuration errors, the store at start, /healthz,
and a clean exit on SIGTERM. Each case: this command or config, this output, this status."""
import os
import signal
import sqlite3
import stat
import subprocess

import harness as h


def run(*args, cwd=None):
    p = subprocess.run([h.postern_bin()] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30, cwd=cwd)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@h.test
def version_prints_the_version(t):
    rc, out, _ = run('version')
    t.eq(rc, 0)
    t.ok(out.startswith('postern ') and out.count('.') >= 2, out)
    t.eq(run('--version')[1], out)


@h.test
def help_lists_every_command_and_each_has_its_own(t):
    rc, out, _ = run('--help')
    t.eq(rc, 0)
    for cmd in ('serve', 'version', 'help'):
        t.contains(out, '  ' + cmd)
    for cmd in ('serve', 'version'):
        rc, own, _ = run(cmd, '--help')
        t.eq(rc, 0)
        t.contains(own, 'Usage: postern ' + cmd)
        t.eq(run('help', cmd)[1], own)


@h.test
def usage_errors_exit_2(t):
    rc, _, err = run('frobnicate')
    t.eq(rc, 2)
    t.contains(err, "unknown command 'frobnicate'")
    rc, _, err = run('serve')
    t.eq(rc, 2)
    t.contains(err, '--config FILE is required')
    rc, _, _ = run()
    t.eq(rc, 2)


@h.test
def config_errors_name_file_line_and_field(t):
    d = h.tmpdir()
    cases = {
        'typo.yaml': ('server:\n  listen: ["127.0.0.1:1"]\n  thread: 2\n',
                      'typo.yaml:3: server.thread: unknown field'),
        'port.yaml': ('server:\n  listen: ["127.0.0.1:99999"]\n',
                      'port.yaml:2: server.listen[0]: invalid port'),
        'yaml.yaml': ('server: {listen: [\n', 'yaml.yaml:'),
        'colour.yaml': ('branding:\n  title: Acme\n  primary: "red; x: y"\n',
                        'colour.yaml:2: branding: branding: primary'),
        'brandkey.yaml': ('branding:\n  colour: "#fff"\n',
                          'brandkey.yaml:2: branding.colour: unknown field'),
        'logo.yaml': ('branding:\n  logo_url: "javascript:alert(1)"\n',
                      'logo.yaml:2: branding: branding: logo_url'),
    }
    for name, (text, want) in cases.items():
        path = os.path.join(d, name)
        with open(path, 'w') as f:
            f.write(text)
        rc, _, err = run('serve', '--config', path)
        t.eq(rc, 2, name)
        t.contains(err, want)
    rc, _, err = run('serve', '--config', os.path.join(d, 'missing.yaml'))
    t.eq(rc, 2)
    t.contains(err, 'missing.yaml: No such file or directory')


@h.test
def branding_sets_the_title_logo_and_colours_of_the_pages(t):
    cfg = h.postern_config()
    port = int(cfg['server']['listen'][0].rsplit(':', 1)[1])
    cfg['idp'] = {'public_url': 'http://127.0.0.1:%d' % port}
    cfg['branding'] = {'title': 'Acme <Sign-in>', 'logo_url': 'https://cdn.example/acme.svg',
                       'primary': '#123456', 'background_dark': '#010203'}
    srv = h.start_postern(cfg)
    r = h.request(srv.port, 'GET', '/if/flow/default-authentication-flow/?next=%2F')
    t.eq(r.status, 200)
    page = r.body.decode()
    t.contains(page, 'Acme &lt;Sign-in&gt;')  # escaped like every value
    t.contains(page, 'https://cdn.example/acme.svg')
    import html
    import re
    css = html.unescape(re.search(r'href="(/static/postern\.css[^"]*)"', page).group(1))
    r = h.request(srv.port, 'GET', css)
    t.eq(r.status, 200)
    t.contains(r.body.decode(), '#123456')
    t.contains(r.body.decode(), '#010203')


@h.test
def healthz_answers_on_any_host_and_sigterm_exits_0(t):
    cfg = h.postern_config()
    srv = h.start_postern(cfg)
    for host in ('127.0.0.1', 'auth.localhost', 'team.localhost:9000'):
        r = h.request(srv.port, 'GET', '/healthz', host=host)
        t.eq(r.status, 200, host)
        t.eq(r.body, b'ok\n')
    t.eq(h.request(srv.port, 'GET', '/nothing-here').status, 404)
    t.contains(srv.log(), 'listening on http://127.0.0.1:%d' % srv.port)
    data = cfg['server']['data_dir']
    t.eq(stat.S_IMODE(os.stat(data).st_mode), 0o700)
    t.eq(stat.S_IMODE(os.stat(os.path.join(data, 'postern.db')).st_mode), 0o600)
    t.eq(srv.stop(), 0)


@h.test
def a_database_newer_than_the_binary_is_refused(t):
    cfg = h.postern_config()
    srv = h.start_postern(cfg)
    t.eq(srv.stop(), 0)
    db = sqlite3.connect(os.path.join(cfg['server']['data_dir'], 'postern.db'))
    db.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'future', 0)")
    db.commit()
    db.close()
    srv = h.start_postern(cfg, ready=False)
    t.eq(srv.wait(20), 1)
    t.contains(srv.log(), 'database schema version 999 is newer than this postern')


@h.test
def an_unreachable_postgres_store_is_reported_clearly(t):
    cfg = h.postern_config()
    cfg['store'] = 'postgres://postern:hunter2@127.0.0.1:1/postern'
    srv = h.start_postern(cfg, ready=False)
    t.eq(srv.wait(20), 1)
    log = srv.log()
    t.contains(log, 'postgres: cannot connect')
    t.contains(log, 'port 1 failed')
    t.ok('hunter2' not in log, 'the database password reached the log')


if __name__ == '__main__':
    h.main()

#!/usr/bin/env python3
"""Side-by-side load comparison: the idpkit example server vs node-oidc-provider.

One command (from the repository root):

    python3 bench/compare.py            # the full run (about 25 minutes)
    python3 bench/compare.py --quick    # a 2-minute smoke run of every phase

What it does, on 127.0.0.1 only, every process bounded in time and stopped at the end:

1. Builds the example server (`idpkit-example`, `mint_codes`) in release mode, installs
   Node 22 and oidc-provider 9 from the npm registry into a scratch directory, and `wrk`
   from Debian's packages if it is missing.
2. Configures both identically: one confidential client (`client_secret_basic`),
   client_credentials, JWT access tokens for audience `demo-api` with scope `api:read`,
   the same RSA-2048 (RS256) or P-256 (ES256) key, default / in-memory storage. idpkit runs
   as one process (tokio, both cores); node-oidc-provider with two cluster workers.
3. Runs the same wrk load against each in turn, alternating A B A B, `--reps` repetitions of
   `--duration` seconds at each concurrency, and reports medians: req/s, p50/p99 latency,
   and server CPU time per request (utime + stime of the server's process tree, from
   /proc), with the idpkit/node ratios.
4. Discovery and JWKS (pre-built bytes) the same way.
5. The authorization-code exchange on SQLite and PostgreSQL: codes are minted beforehand
   into the server's store by `mint_codes` (a real authorization request + login each),
   and each request redeems one. Compared with the client_credentials rate of the same run.
6. A bounded soak (`--soak` seconds) of client_credentials against idpkit, sampling the
   server's RSS.

Results: a Markdown report on stdout and JSON in the scratch directory.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROCS = []


def log(msg):
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, env=None, log_path=None):
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    PROCS.append(p)
    return p


def stop(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if p in PROCS:
        PROCS.remove(p)


def stop_all(*_):
    for p in list(PROCS):
        stop(p)


def wait_ready(url, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early (code {proc.returncode}) before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def tree_pids(root):
    """The pid and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root):
    total = 0
    for pid in tree_pids(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def rss_kib(root):
    total = 0
    for pid in tree_pids(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def wrk(port, script, duration, conc, env_extra, server_pid):
    env = dict(os.environ)
    env.update(env_extra)
    env["WRK_SUMMARY"] = os.path.join(BENCH, "wrk", "summary.lua")
    threads = min(2, conc)
    env["WRK_THREADS"] = str(threads)
    cmd = ["wrk", f"-t{threads}", f"-c{conc}", f"-d{duration}s", "--timeout", "5s",
           "-s", os.path.join(BENCH, "wrk", script), f"http://127.0.0.1:{port}"]
    cpu0 = cpu_seconds(server_pid)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         timeout=duration + 30, check=True).stdout
    cpu1 = cpu_seconds(server_pid)
    line = next(l for l in out.splitlines() if l.startswith("WRK_JSON "))
    r = json.loads(line[len("WRK_JSON "):])
    ok = r["requests"] - r["non_2xx"]
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["ok"] = ok
    r["cpu_us_per_req"] = (cpu1 - cpu0) * 1e6 / max(r["requests"], 1)
    return r


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def fmt_ms(us):
    return f"{us / 1000:.2f} ms"


# ---------------------------------------------------------------- setup


def ensure_wrk():
    if shutil.which("wrk"):
        return
    log("installing wrk from Debian's packages")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    run(sudo + ["apt-get", "install", "-y", "wrk"], stdout=subprocess.DEVNULL)


def ensure_node(scratch):
    node_dir = os.path.join(scratch, "node")
    node = os.path.join(node_dir, "node_modules", ".bin", "node")
    provider = os.path.join(node_dir, "node_modules", "oidc-provider", "package.json")
    if not (os.path.exists(node) and os.path.exists(provider)):
        os.makedirs(node_dir, exist_ok=True)
        with open(os.path.join(node_dir, "package.json"), "w") as f:
            f.write('{"private": true}\n')
        run(["npm", "install", "--prefix", node_dir, "--no-audit", "--no-fund",
             "node@22", "oidc-provider@9"], stdout=subprocess.DEVNULL)
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if not version.startswith("v22") and int(version[1:].split(".")[0]) < 22:
        raise SystemExit(f"node from npm is {version}; oidc-provider 9 needs 22+")
    with open(provider) as f:
        op_version = json.load(f)["version"]
    shutil.copy(os.path.join(BENCH, "node-oidc", "server.mjs"), os.path.join(node_dir, "server.mjs"))
    return node, version, op_version


def build_idpkit():
    run(["cargo", "build", "--release", "-p", "idpkit-example", "--bins", "--example", "bare_ceiling"],
        cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    rel = os.path.join(target, "release")
    return (os.path.join(rel, "idpkit-example"), os.path.join(rel, "mint_codes"),
            os.path.join(rel, "examples", "bare_ceiling"))


def jwk_of(node, pem_path, out_path):
    js = ("const c=require('crypto'),fs=require('fs');"
          "const k=c.createPrivateKey(fs.readFileSync(process.argv[1]));"
          "fs.writeFileSync(process.argv[2], JSON.stringify(k.export({format:'jwk'})));")
    subprocess.run([node, "-e", js, pem_path, out_path], check=True)


# ---------------------------------------------------------------- servers


class Idpkit:
    name = "idpkit"

    def __init__(self, binary, scratch, alg, storage="memory", extra=()):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.args = [binary, "--bind", f"127.0.0.1:{self.port}", "--data-dir",
                     os.path.join(scratch, "idpkit-data"), "--keys", os.path.join(scratch, "keys"),
                     "--storage", storage, "--signing-alg", alg, "--clients",
                     os.path.join(scratch, "bench-clients.json"), "--code-ttl", "600",
                     "--housekeeping-interval", "3600", *extra]
        env = dict(os.environ)
        # Request logs at info would be the same for both sides only if node logged too.
        env["RUST_LOG"] = os.environ.get("BENCH_RUST_LOG", "warn")
        self.proc = start(self.args, env=env, log_path=os.path.join(scratch, f"idpkit-{self.port}.log"))
        wait_ready(self.issuer + "/.well-known/openid-configuration", self.proc)


class NodeOidc:
    name = "node-oidc-provider"

    def __init__(self, node, scratch, alg, workers):
        self.port = free_port()
        key = os.path.join(scratch, f"node-{alg}.jwk.json")
        self.proc = start([node, os.path.join(scratch, "node", "server.mjs"), str(self.port), alg,
                           str(workers), key], env=dict(os.environ, NODE_ENV="production"),
                          log_path=os.path.join(scratch, f"node-{self.port}.log"))
        wait_ready(f"http://127.0.0.1:{self.port}/.well-known/openid-configuration", self.proc)


class Ceiling:
    name = "bare ceiling"

    def __init__(self, binary, scratch, alg):
        self.port = free_port()
        self.proc = start([binary, str(self.port), alg, os.path.join(scratch, "keys", f"signing-{alg.lower()}.pem")],
                          log_path=os.path.join(scratch, f"ceiling-{self.port}.log"))
        wait_ready(f"http://127.0.0.1:{self.port}/.well-known/openid-configuration", self.proc)


BASIC = base64.b64encode(b"bench-client:bench-secret").decode()
CC_ENV = {"WRK_PATH": "/token", "WRK_BODY": "grant_type=client_credentials&scope=api%3Aread",
          "WRK_BASIC": BASIC}


def check_token(port, alg):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/token",
                                 data=b"grant_type=client_credentials&scope=api%3Aread",
                                 headers={"Authorization": "Basic " + BASIC,
                                          "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=5) as r:
        body = json.load(r)
    header, payload = [json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
                       for p in body["access_token"].split(".")[:2]]
    assert header["alg"] == alg and header["typ"] == "at+jwt", header
    aud = payload["aud"] if isinstance(payload["aud"], list) else [payload["aud"]]
    assert aud == ["demo-api"] and payload["scope"] == "api:read", payload
    return header, payload


# ---------------------------------------------------------------- phases


def raw_sign_cost(a, scratch, alg, seconds, threads):
    """CPU µs per raw signature (aws-lc-rs, key parsed once) on `threads` threads."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([a.ceiling_bin, "--sign", alg, os.path.join(scratch, "keys", f"signing-{alg.lower()}.pem"),
                          str(seconds), str(threads)], capture_output=True, text=True, check=True,
                         timeout=seconds + 30).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    signs = json.loads(next(l for l in out.splitlines() if l.startswith("SIGN_JSON "))[len("SIGN_JSON "):])["signs"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"alg": alg, "threads": threads, "signs": signs, "cpu_us_per_sign": cpu * 1e6 / max(signs, 1),
            "signs_per_s": signs / seconds}


def phase_client_credentials(a, node, scratch, algs, concs, reps, duration, workers):
    results = []
    for alg in algs:
        for threads in (1, 2):
            r = raw_sign_cost(a, scratch, alg, max(2, duration // 3), threads)
            r.update(server="raw sign")
            log(f"raw sign {alg} x{threads}: {r['cpu_us_per_sign']:.1f} µs CPU/sign, {r['signs_per_s']:.0f}/s")
            results.append(r)
        servers = [Idpkit(a.idpkit_bin, scratch, alg), NodeOidc(node, scratch, alg, workers)]
        if a.ceiling:
            servers.append(Ceiling(a.ceiling_bin, scratch, alg))
        try:
            for s in servers:
                h, p = check_token(s.port, alg)
                log(f"{s.name} {alg}: token ok (kid {h.get('kid')}, aud {p['aud']})")
                wrk(s.port, "post_form.lua", min(3, duration), 8, CC_ENV, s.proc.pid)  # warm-up
            for rep in range(reps):
                for c in concs:
                    for s in servers:
                        r = wrk(s.port, "post_form.lua", duration, c, CC_ENV, s.proc.pid)
                        r.update(server=s.name, alg=alg, conc=c, rep=rep)
                        log(f"cc {alg} c={c} rep={rep} {s.name}: {r['rps']:.0f} req/s, "
                            f"p50 {fmt_ms(r['p50_us'])}, cpu {r['cpu_us_per_req']:.0f} µs/req, non-2xx {r['non_2xx']}")
                        results.append(r)
        finally:
            for s in servers:
                stop(s.proc)
    return results


def phase_static(a, node, scratch, concs, reps, duration, workers):
    results = []
    servers = [Idpkit(a.idpkit_bin, scratch, "ES256"), NodeOidc(node, scratch, "ES256", workers)]
    try:
        for rep in range(reps):
            for path, what in (("/.well-known/openid-configuration", "discovery"), ("/jwks", "jwks")):
                for c in concs:
                    for s in servers:
                        r = wrk(s.port, "get.lua", duration, c, {"WRK_PATH": path}, s.proc.pid)
                        r.update(server=s.name, what=what, conc=c, rep=rep)
                        log(f"{what} c={c} rep={rep} {s.name}: {r['rps']:.0f} req/s")
                        results.append(r)
    finally:
        for s in servers:
            stop(s.proc)
    return results


def pg_url():
    return os.environ.get("IDPKIT_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/test")


def phase_exchange(a, scratch, stores, algs, scopes, conc, reps, duration):
    results = []
    for store in stores:
        for alg in algs:
            extra = []
            if store == "sqlite":
                db = os.path.join(scratch, f"exchange-{alg}.db")
                for suffix in ("", "-wal", "-shm"):  # a fresh store for every run
                    if os.path.exists(db + suffix):
                        os.remove(db + suffix)
                spec = "sqlite:" + db
            else:
                spec = pg_url()
                extra = ["--postgres-schema", f"bench_{os.getpid()}_{alg.lower()}"]
            server = Idpkit(a.idpkit_bin, scratch, alg, storage=spec, extra=extra)
            try:
                for scope in scopes:
                    for rep in range(reps):
                        # Enough codes for the run: measured rate of the previous run x 1.5,
                        # or a generous first guess.
                        prev = [r for r in results if r["store"] == store and r["alg"] == alg and r["scope"] == scope]
                        rate = max(r["rps"] for r in prev) if prev else (4000 if alg == "ES256" else 2500)
                        count = int(rate * duration * 1.25) + 1000
                        codes = os.path.join(scratch, "codes.txt")
                        mint = [a.mint_bin, *server.args[1:], "--count", str(count), "--out", codes,
                                "--client-id", "bench-client", "--scope", scope, "--concurrency", "32"]
                        t0 = time.time()
                        subprocess.run(mint, check=True, env=dict(os.environ, RUST_LOG="warn"),
                                       stdout=subprocess.DEVNULL, timeout=900)
                        log(f"minted {count} codes in {time.time() - t0:.1f} s")
                        env = {"WRK_BASIC": BASIC, "CODES_FILE": codes,
                               "WRK_REDIRECT_URI": "http://127.0.0.1:9999/callback"}
                        r = wrk(server.port, "code_exchange.lua", duration, conc, env, server.proc.pid)
                        r.update(server="idpkit", store=store, alg=alg, scope=scope, conc=conc, rep=rep,
                                 codes=count)
                        r["rps"] = r["ok"] / (r["duration_us"] / 1e6)
                        r["cpu_us_per_req"] = r["cpu_us_per_req"] * r["requests"] / max(r["ok"], 1)
                        log(f"exchange {store} {alg} '{scope}' rep={rep}: {r['rps']:.0f} ok/s, "
                            f"non-2xx {r['non_2xx']} (codes {count})")
                        results.append(r)
            finally:
                stop(server.proc)
            if store == "postgres" and shutil.which("psql"):
                schema = extra[1]
                subprocess.run(["psql", pg_url(), "-q", "-c", f"DROP SCHEMA IF EXISTS {schema} CASCADE"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return results


def phase_soak(a, scratch, seconds, conc):
    server = Idpkit(a.idpkit_bin, scratch, "ES256")
    samples = []
    try:
        env = dict(os.environ, **CC_ENV, WRK_SUMMARY=os.path.join(BENCH, "wrk", "summary.lua"),
                   WRK_THREADS="2")
        load = subprocess.Popen(["wrk", "-t2", f"-c{conc}", f"-d{seconds}s", "--timeout", "5s", "-s",
                                 os.path.join(BENCH, "wrk", "post_form.lua"),
                                 f"http://127.0.0.1:{server.port}"],
                                env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
        PROCS.append(load)
        t0 = time.time()
        step = max(1.0, seconds / 60)
        while load.poll() is None and time.time() - t0 < seconds + 30:
            samples.append((round(time.time() - t0, 1), rss_kib(server.proc.pid)))
            time.sleep(step)
        out = load.communicate(timeout=30)[0]
        PROCS.remove(load)
        line = next(l for l in out.splitlines() if l.startswith("WRK_JSON "))
        summary = json.loads(line[len("WRK_JSON "):])
    finally:
        stop(server.proc)
    warm = [kib for t, kib in samples if t >= min(30, seconds / 5)]
    return {"samples": samples, "requests": summary["requests"], "non_2xx": summary["non_2xx"],
            "first_kib": warm[0], "last_kib": warm[-1], "min_kib": min(warm), "max_kib": max(warm)}


# ---------------------------------------------------------------- report


def report(meta, cc, static, exchange, soak):
    out = []
    w = out.append
    w(f"# idpkit vs node-oidc-provider ({meta['date']})\n")
    w(f"Machine: {meta['cpus']} CPUs; wrk {meta['wrk']}; node {meta['node']}, oidc-provider "
      f"{meta['oidc_provider']} with {meta['workers']} cluster workers; idpkit example server "
      f"(release, one process, RUST_LOG={meta['rust_log']}). {meta['reps']} repetitions x "
      f"{meta['duration']} s, medians; alternating idpkit / node.\n")
    if cc:
        w("## client_credentials (JWT access token)\n")
        w("| alg | conc | idpkit req/s | node req/s | ratio | idpkit p50 / p99 | node p50 / p99 | idpkit CPU/req | node CPU/req |")
        w("|---|---|---|---|---|---|---|---|---|")
        for alg in meta["algs"]:
            for c in meta["concs"]:
                i = [r for r in cc if r["alg"] == alg and r.get("conc") == c and r["server"] == "idpkit"]
                n = [r for r in cc if r["alg"] == alg and r.get("conc") == c and r["server"] == "node-oidc-provider"]
                if not i or not n:
                    continue
                w(f"| {alg} | {c} | {median(i, 'rps'):,.0f} | {median(n, 'rps'):,.0f} | "
                  f"{median(i, 'rps') / median(n, 'rps'):.2f}x | {fmt_ms(median(i, 'p50_us'))} / "
                  f"{fmt_ms(median(i, 'p99_us'))} | {fmt_ms(median(n, 'p50_us'))} / {fmt_ms(median(n, 'p99_us'))} | "
                  f"{median(i, 'cpu_us_per_req'):.0f} µs | {median(n, 'cpu_us_per_req'):.0f} µs |")
        ceil = [r for r in cc if r["server"] == "bare ceiling"]
        if ceil:
            w("\nAgainst the bare ceiling (axum + aws-lc-rs: Basic auth, sign, JSON; no library):\n")
            w("| alg | conc | ceiling req/s | idpkit / ceiling | ceiling CPU/req | idpkit CPU/req |")
            w("|---|---|---|---|---|---|")
            for alg in meta["algs"]:
                for c in meta["concs"]:
                    i = [r for r in cc if r["alg"] == alg and r.get("conc") == c and r["server"] == "idpkit"]
                    b = [r for r in ceil if r["alg"] == alg and r["conc"] == c]
                    if i and b:
                        w(f"| {alg} | {c} | {median(b, 'rps'):,.0f} | {median(i, 'rps') / median(b, 'rps') * 100:.0f}% | "
                          f"{median(b, 'cpu_us_per_req'):.0f} µs | {median(i, 'cpu_us_per_req'):.0f} µs |")
        raw = [r for r in cc if r["server"] == "raw sign"]
        if raw:
            w("\nRaw signature cost (aws-lc-rs, key parsed once, no HTTP), and idpkit's CPU per request against it:\n")
            w("| alg | threads | CPU per signature | signatures/s | idpkit CPU/req (c=" + str(max(meta["concs"])) + ") / raw |")
            w("|---|---|---|---|---|")
            for r in raw:
                i = [x for x in cc if x["alg"] == r["alg"] and x.get("conc") == max(meta["concs"]) and x["server"] == "idpkit"]
                ratio = f"{median(i, 'cpu_us_per_req') / r['cpu_us_per_sign']:.2f}x" if i else "n/a"
                w(f"| {r['alg']} | {r['threads']} | {r['cpu_us_per_sign']:.1f} µs | {r['signs_per_s']:,.0f} | {ratio} |")
        bad = [r for r in cc if r.get("server") in ("idpkit", "node-oidc-provider", "bare ceiling")
               and (r["non_2xx"] or r["socket_errors"] or r["timeouts"])]
        if bad:
            w(f"\nWARNING: {len(bad)} runs had non-2xx answers or socket errors.")
        w("")
    if static:
        w("## Discovery and JWKS\n")
        w("| document | conc | idpkit req/s | node req/s | ratio |")
        w("|---|---|---|---|---|")
        for what in ("discovery", "jwks"):
            for c in meta["concs"]:
                i = [r for r in static if r["what"] == what and r.get("conc") == c and r["server"] == "idpkit"]
                n = [r for r in static if r["what"] == what and r.get("conc") == c and r["server"] != "idpkit"]
                if i and n:
                    w(f"| {what} | {c} | {median(i, 'rps'):,.0f} | {median(n, 'rps'):,.0f} | "
                      f"{median(i, 'rps') / median(n, 'rps'):.2f}x |")
        w("")
    if exchange:
        w("## Authorization-code exchange (idpkit, pre-minted codes)\n")
        w("| store | alg | scope | conc | exchanges/s | p50 / p99 | CPU/exchange | vs client_credentials (same alg, conc) |")
        w("|---|---|---|---|---|---|---|---|")
        for store in meta["stores"]:
            for alg in meta["algs"]:
                for scope in meta["scopes"]:
                    rows = [r for r in exchange if r["store"] == store and r["alg"] == alg and r["scope"] == scope]
                    if not rows:
                        continue
                    c = rows[0]["conc"]
                    base = [r for r in cc if r["alg"] == alg and r.get("conc") == c and r["server"] == "idpkit"]
                    vs = f"{median(rows, 'rps') / median(base, 'rps') * 100:.0f}%" if base else "n/a"
                    short = [r for r in rows if r["non_2xx"]]
                    note = f" (WARNING: {len(short)} runs ran out of codes)" if short else ""
                    w(f"| {store} | {alg} | `{scope}` | {c} | {median(rows, 'rps'):,.0f} | "
                      f"{fmt_ms(median(rows, 'p50_us'))} / {fmt_ms(median(rows, 'p99_us'))} | "
                      f"{median(rows, 'cpu_us_per_req'):.0f} µs | {vs}{note} |")
        w("")
    if soak:
        change = (soak["last_kib"] - soak["first_kib"]) / soak["first_kib"] * 100
        spread = (soak["max_kib"] - soak["min_kib"]) / soak["min_kib"] * 100
        w("## Memory under load (idpkit, client_credentials ES256)\n")
        w(f"{meta['soak']} s, {soak['requests']:,} requests ({soak['non_2xx']} non-2xx): RSS after warm-up "
          f"{soak['first_kib'] / 1024:.1f} MiB, at the end {soak['last_kib'] / 1024:.1f} MiB "
          f"({change:+.1f}%), min {soak['min_kib'] / 1024:.1f} / max {soak['max_kib'] / 1024:.1f} MiB "
          f"(spread {spread:.1f}%).\n")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=15, help="seconds per run (15)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--concurrency", default="8,32")
    ap.add_argument("--algs", default="RS256,ES256")
    ap.add_argument("--workers", type=int, default=2, help="node cluster workers (2)")
    ap.add_argument("--stores", default="sqlite,postgres", help="code-exchange stores")
    ap.add_argument("--scopes", default="api:read;openid api:read",
                    help="code-exchange scopes, ';'-separated (OAuth: one signature; OpenID: two)")
    ap.add_argument("--exchange-concurrency", type=int, default=32)
    ap.add_argument("--soak", type=int, default=300, help="seconds of the memory soak (0: skip)")
    ap.add_argument("--phases", default="cc,static,exchange,soak")
    ap.add_argument("--no-ceiling", dest="ceiling", action="store_false",
                    help="skip the bare axum + aws-lc-rs ceiling server in the client_credentials phase")
    ap.add_argument("--quick", action="store_true", help="2 s runs, 1 repetition, 20 s soak")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when a client_credentials, discovery or JWKS run had errors (CI)")
    ap.add_argument("--scratch", default=os.path.join(ROOT, "target", "bench-compare"))
    a = ap.parse_args()
    if a.quick:
        a.duration, a.reps, a.soak = min(a.duration, 2), 1, min(a.soak, 20)
    phases = set(a.phases.split(","))
    concs = [int(c) for c in a.concurrency.split(",")]
    algs = a.algs.split(",")
    stores = [s for s in a.stores.split(",") if s]
    scopes = a.scopes.split(";")
    os.makedirs(a.scratch, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: (stop_all(), sys.exit(1)))
    try:
        ensure_wrk()
        node, node_version, op_version = ensure_node(a.scratch)
        a.idpkit_bin, a.mint_bin, a.ceiling_bin = build_idpkit()
        # The bench client, and the keys both sides sign with (created by the first start).
        with open(os.path.join(a.scratch, "bench-clients.json"), "w") as f:
            json.dump([{"client_id": "bench-client", "client_secret": "bench-secret",
                        "redirect_uris": ["http://127.0.0.1:9999/callback"],
                        "grant_types": ["client_credentials", "authorization_code"],
                        "scopes": ["openid", "api:read"], "audience": ["demo-api"]}], f)
        stop(Idpkit(a.idpkit_bin, a.scratch, "RS256").proc)
        for alg in ("RS256", "ES256"):
            jwk_of(node, os.path.join(a.scratch, "keys", f"signing-{alg.lower()}.pem"),
                   os.path.join(a.scratch, f"node-{alg}.jwk.json"))
        wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
        meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "node": node_version,
                "oidc_provider": op_version, "workers": a.workers, "wrk": wrk_version.strip(),
                "duration": a.duration, "reps": a.reps, "concs": concs, "algs": algs, "stores": stores,
                "scopes": scopes, "soak": a.soak, "rust_log": os.environ.get("BENCH_RUST_LOG", "warn")}
        cc = phase_client_credentials(a, node, a.scratch, algs, concs, a.reps, a.duration, a.workers) \
            if "cc" in phases else []
        static = phase_static(a, node, a.scratch, concs, a.reps, a.duration, a.workers) \
            if "static" in phases else []
        exchange = phase_exchange(a, a.scratch, stores, algs, scopes, a.exchange_concurrency, a.reps,
                                  a.duration) if "exchange" in phases else []
        soak = phase_soak(a, a.scratch, a.soak, 32) if "soak" in phases and a.soak > 0 else None
        with open(os.path.join(a.scratch, "results.json"), "w") as f:
            json.dump({"meta": meta, "client_credentials": cc, "static": static, "exchange": exchange,
                       "soak": soak}, f, indent=1)
        print(report(meta, cc, static, exchange, soak))
        failed = [r for r in cc + static
                  if r.get("server") != "raw sign" and (r["non_2xx"] or r["socket_errors"] or r["timeouts"])]
        if a.check and (failed or (soak and soak["non_2xx"])):
            log(f"{len(failed)} runs had errors: {failed}")
            sys.exit(1)
    finally:
        stop_all()


if __name__ == "__main__":
    main()

"""`make run` starts the whole stack; one SIGTERM to make stops every process of it."""
import os
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path

import httpx

from conftest import REPO, free_port, log_tails, make_run_dir, stack_env


def proc_stat(pid):
    """(state, ppid, starttime) of pid, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def descendants(root):
    parent = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            parent[pid] = st[1]
    out = set()
    for pid in parent:
        p = pid
        while p in parent and p > 1:
            p = parent[p]
            if p == root:
                out.add(pid)
                break
    return out


def read_pid_file(path):
    return [int(x) for x in Path(path).read_text().split() if x.isdigit()]


def alive(pid, starttime):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z" and st[2] == starttime


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def port_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def test_make_run_and_sigterm():
    assert shutil.which("make"), "make is not installed"
    run_dir = make_run_dir("chat-mr-")
    port = free_port()
    env = stack_env(run_dir, port)
    ready_line = f"chat stack ready: http://127.0.0.1:{port}"
    lines, ready = [], threading.Event()
    proc = subprocess.Popen(
        ["make", "run"], cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True,
    )

    def reader():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if ready_line in line:
                ready.set()
        ready.set()  # EOF: make is gone; the check below tells ready from dead

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    passed = False
    try:
        if not ready.wait(120) or not any(ready_line in line for line in lines):
            raise AssertionError(
                f"no {ready_line!r} from make run in 120 s (exit {proc.poll()})\n"
                + "\n".join(lines[-60:]) + "\n--- logs ---\n" + log_tails(run_dir)
            )
        r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert r.status_code == 200, r.text

        pids = set()
        for f in (run_dir / "pids").glob("*.pid"):
            pids.update(read_pid_file(f))
        assert (run_dir / "pids" / "nginx.pid").is_file() and (run_dir / "pids" / "redis.pid").is_file(), \
            sorted(p.name for p in (run_dir / "pids").iterdir())
        postmaster = int((run_dir / "pg" / "postmaster.pid").read_text().splitlines()[0])
        pids.add(postmaster)
        for parent in list(pids):
            pids |= descendants(parent)  # postgres backends, nginx workers
        pids |= descendants(proc.pid)     # make's own children: stack.sh, tail, ...
        watched = {p: proc_stat(p)[2] for p in pids if proc_stat(p)}
        assert len(watched) >= 6, watched  # postgres (+children), redis, nginx (+workers), handlers

        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            raise AssertionError("make run did not exit within 30 s of SIGTERM\n" + "\n".join(lines[-40:]))
        left = {p: cmdline(p) for p, start in watched.items() if alive(p, start)}
        assert not left, f"processes still alive after make exited: {left}\n" + "\n".join(lines[-40:])
        assert not port_answers(port), f"port {port} still answers after make exited"
        passed = True
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # our own process group (start_new_session)
            proc.wait(10)
        subprocess.run(["bash", str(REPO / "deploy" / "stack.sh"), "down"], cwd=REPO, env=env,
                       capture_output=True, timeout=120)
        if passed:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"make run's run dir kept: {run_dir}")

"""`make run` starts the whole stack and says so in a few stage lines; one SIGTERM to make, or a Ctrl-C in a terminal
whose output goes through a pipe (`make run 2>&1 | tee run.log`), stops every process of it."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
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


def stack_processes(run_dir):
    """supervisord and every process it started (they carry its socket in their environment), with their children."""
    url = f"SUPERVISOR_SERVER_URL=unix://{run_dir}/supervisor.sock".encode()
    pids = set()
    for pid in all_pids():
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if url in env or f"{run_dir}/supervisord.conf".encode() in cmd:
            pids.add(pid)
    for parent in list(pids):
        pids |= descendants(parent)  # postgres backends, nginx workers
    return pids


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


def clean_up(proc, env, run_dir, passed):
    """Whatever the test left: make's process group (its own session), the stack, the run dir if it passed."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    subprocess.run(["bash", str(REPO / "deploy" / "stack.sh"), "down"], cwd=REPO, env=env,
                   capture_output=True, timeout=120)
    if passed:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        print(f"make run's run dir kept: {run_dir}")


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

        pids = stack_processes(run_dir)
        postmaster = int((run_dir / "pg" / "postmaster.pid").read_text().splitlines()[0])
        assert postmaster in pids, (postmaster, pids)
        pids |= descendants(proc.pid)     # make's own children: stack.sh, tail, ...
        watched = {p: proc_stat(p)[2] for p in pids if proc_stat(p)}
        assert len(watched) >= 20, watched  # supervisord, postgres (+children), redis, nginx (+workers), handlers...
        # the stages, and no make or cmake chatter
        text = "\n".join(lines)
        for stage in ("[1/5] deps", "[2/5] build", "[3/5] database", "[4/5] services", "[5/5] ready"):
            assert stage in text, f"no {stage!r} line in make run's output:\n{text}"
        assert "Entering directory" not in text and "Building CXX" not in text, text

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
        clean_up(proc, env, run_dir, passed)


def test_ctrl_c_of_make_run_piped_through_tee_stops_everything(tmp_path):
    """What a terminal does on Ctrl-C: SIGINT to the whole foreground process group, tee included, so the
    script's output pipe dies while it is stopping the stack."""
    run_dir = make_run_dir("chat-mp-")
    port = free_port()
    env = stack_env(run_dir, port)
    log = tmp_path / "run.log"
    proc = subprocess.Popen(["bash", "-c", f"make run 2>&1 | tee {log}"], cwd=REPO, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # its own process group: the "terminal's" foreground group
    passed = False
    try:
        ready_line = f"chat stack ready: http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while ready_line not in (log.read_text(errors="replace") if log.exists() else ""):
            assert proc.poll() is None and time.monotonic() < deadline, \
                "make run did not get ready\n" + (log.read_text() if log.exists() else "") + log_tails(run_dir)
            time.sleep(0.2)
        pids = stack_processes(run_dir)
        watched = {p: proc_stat(p)[2] for p in pids if proc_stat(p)}
        assert len(watched) >= 20, watched
        os.killpg(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 40
        while {p for p, start in watched.items() if alive(p, start)} and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {p: cmdline(p) for p, start in watched.items() if alive(p, start)}
        assert not left, f"still alive 40 s after Ctrl-C of `make run | tee`: {left}"
        assert not port_answers(port), f"port {port} still answers after Ctrl-C"
        passed = True
    finally:
        clean_up(proc, env, run_dir, passed)

"""The chaos test's own stack: deploy/stack.sh up in a fresh run dir, as `make run` starts it (durable PostgreSQL,
Redis with its append-only file, every program under the supervisor). Nothing here may skip."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

# The integration suite's stack helpers, loaded under a name of their own (this file is `conftest` here).
_spec = importlib.util.spec_from_file_location("chat_integration_conftest",
                                               Path(__file__).resolve().parents[1] / "integration" / "conftest.py")
it = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = it  # dataclasses look their module up there
_spec.loader.exec_module(it)
Stack, free_port, log_tails, make_run_dir = it.Stack, it.free_port, it.log_tails, it.make_run_dir
parse_env_file, run_stack, stack_env = it.parse_env_file, it.run_stack, it.stack_env


@pytest.fixture(scope="session")
def chaos_stack(request) -> Stack:
    run_dir = make_run_dir("chat-chaos-")
    port = free_port()
    env = stack_env(run_dir, port)
    env.update(RATE_LIMIT_AUTH="1000", RATE_LIMIT_AUTH_BURST="1000")
    up = run_stack("up", env, timeout=240)
    if up.returncode != 0 or f"chat stack ready: http://127.0.0.1:{port}" not in up.stdout:
        pytest.fail(f"deploy/stack.sh up failed:\n{up.stdout}{up.stderr}\n{log_tails(run_dir)}")
    st = Stack(f"http://127.0.0.1:{port}", run_dir, parse_env_file(run_dir / "chat.env"), fresh=True)
    try:
        yield st
    finally:
        down = run_stack("down", env, timeout=120)
        if request.session.testsfailed or down.returncode != 0:
            print(f"\nchaos stack run dir kept: {run_dir}\n{down.stdout}{down.stderr}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped:
        rep.outcome = "failed"
        rep.longrepr = f"the chaos test skipped, which is not allowed: {rep.longrepr}"

"""Every /metrics page passes `promtool check metrics` (Prometheus's own parser and linter): the handlers' through
nginx, each realtime daemon's and each worker's on their ports (REALTIME_PORTS, WORKER_METRICS_PORTS in chat.env);
the worker's page counts the jobs it ran; and deploy/prometheus/ is a scrape config, alert rules and rule tests that
promtool accepts. promtool (Debian's `prometheus`, deploy/deps.sh) missing is a failure, not a skip."""
import re
import shutil
import subprocess
from pathlib import Path

import httpx

from conftest import wait_until
from worker_helpers import join, new_channel, send

REPO = Path(__file__).resolve().parents[2]
PROM_DIR = REPO / "deploy" / "prometheus"
SAMPLE = re.compile(r'^([a-z_:][a-z0-9_:]*)(\{[^}]*\})? (\S+)$', re.M)


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is not installed (Debian package prometheus, deploy/deps.sh)"
    return path


def check_metrics(text: str, what: str) -> None:
    r = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"promtool check metrics of {what}:\n{r.stdout}{r.stderr}\n--- page:\n{text[:4000]}"


def ports(stack, name: str) -> list[int]:
    raw = stack.env.get(name, "")
    out = [int(p) for p in raw.split(",") if p]
    assert out, f"chat.env has no {name}: {stack.env}"
    return out


def scrape(url: str) -> str:
    r = httpx.get(url, timeout=10)
    assert r.status_code == 200, f"{url}: {r.status_code} {r.text[:200]}"
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.text


def samples(text: str, name: str) -> dict[str, float]:
    """Labels ("{...}" or "") -> value of every sample of one metric."""
    return {labels or "": float(value) for n, labels, value in SAMPLE.findall(text) if n == name}


def test_handlers_metrics_pass_promtool(api, user):
    api.get("/health")
    api.get("/api/v1/users/me", headers={"Authorization": f"Bearer {user.access}"})

    def flushed():  # each handler process adds its counts to Redis once a second
        text = api.get("/metrics").text
        return text if 'chat_http_request_duration_seconds_bucket{program="chat-users",le="+Inf"}' in text else None

    text = wait_until(flushed, 10, "chat-users' requests in /metrics")
    check_metrics(text, "the handlers (through nginx)")
    for family in ("chat_http_requests_total counter", "chat_http_request_duration_seconds histogram",
                   "chat_jobs_total counter", "chat_jobs_oldest_age_seconds gauge", "chat_redis_up gauge"):
        assert f"# TYPE {family}\n" in text, family
    assert samples(text, "chat_redis_up") == {"": 1.0}


def test_each_realtime_daemon_metrics_pass_promtool(stack):
    for port in ports(stack, "REALTIME_PORTS"):
        text = scrape(f"http://127.0.0.1:{port}/metrics")
        check_metrics(text, f"chat-realtime on {port}")
        limit = samples(text, "chat_realtime_descriptor_limit")
        assert limit and limit[""] >= 1024, text  # the daemon raised its soft limit to the hard one


def test_each_worker_metrics_pass_promtool_and_count_jobs(stack, api, register):
    worker_ports = ports(stack, "WORKER_METRICS_PORTS")
    for port in worker_ports:
        check_metrics(scrape(f"http://127.0.0.1:{port}/metrics"), f"chat-worker on {port}")

    def done() -> float:  # mention jobs done, summed over the workers
        total = 0.0
        for port in worker_ports:
            got = samples(scrape(f"http://127.0.0.1:{port}/metrics"), "chat_worker_jobs_total")
            total += got.get('{type="mention_notification",outcome="done"}', 0.0)
        return total

    before = done()
    alice, bob = register(), register()
    cid = new_channel(api, alice)
    join(api, bob, cid)
    send(api, alice, cid, f"hi @{bob.user['username']}")
    wait_until(lambda: done() > before, 10, "the mention job in a worker's chat_worker_jobs_total")
    texts = [scrape(f"http://127.0.0.1:{p}/metrics") for p in worker_ports]
    waits = [samples(t, "chat_worker_job_queue_wait_seconds_count") for t in texts]
    assert sum(w.get('{type="mention_notification"}', 0) for w in waits) >= 1, texts
    for port, text in zip(worker_ports, texts):
        check_metrics(text, f"chat-worker on {port} after a job")


def test_worker_metrics_port_answers_only_metrics(stack):
    port = ports(stack, "WORKER_METRICS_PORTS")[0]
    assert httpx.get(f"http://127.0.0.1:{port}/nope", timeout=10).status_code == 404
    r = httpx.post(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 405 and r.headers.get("allow") == "GET", r


def test_scrape_config_and_alert_rules_pass_promtool():
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "chat-alerts.yml"],
                 ["test", "rules", "chat-alerts.test.yml"]):
        r = subprocess.run([promtool(), *args], cwd=PROM_DIR, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"promtool {' '.join(args)}:\n{r.stdout}{r.stderr}"
    # Every metric the rules use is one a page of ours serves (a renamed metric would leave an alert that never fires).
    rules = (PROM_DIR / "chat-alerts.yml").read_text()
    sources = "".join(p.read_text() for d in ("core", "handlers", "realtime", "worker") for p in (REPO / d).glob("*.cpp"))
    for name in set(re.findall(r"\bchat_[a-z_]+", rules)):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert f'"{base}"' in sources, f"chat-alerts.yml uses {name}, which no /metrics page serves"

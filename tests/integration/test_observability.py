"""What an operator sees: `/metrics` (only with its token), request ids in responses and log
lines, log lines as text or JSON with their privacy rules."""

import io
import json
import logging
import re
import sys
from collections.abc import Iterator

import httpx
import pytest

from ayni import access_log, logs
from tests.instances import Instance
from tests.integration.conftest import Net
from tests.integration.delivery_setup import BASE_URL, Sender, start_sender
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
TOKEN = "a-metrics-token-long-enough"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus's text format (0 when it is absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in exposition.splitlines():
        series, _, value = line.rpartition(" ")
        if series == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    return 0.0


async def scrape(instance: Instance) -> str:
    response = await instance.http.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.text
    return response.text


# --- /metrics ---


async def test_there_is_no_metrics_endpoint_without_a_token(net: Net) -> None:
    instance = await net.instance(BASE)

    anonymous = await instance.http.get("/metrics")
    guessed = await instance.http.get("/metrics", headers={"Authorization": "Bearer "})

    assert anonymous.status_code == 404 and guessed.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-of-some-length", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"],
)
async def test_metrics_without_the_right_bearer_token_is_404(
    net: Net, authorization: str | None
) -> None:
    instance = await net.instance(BASE, metrics_token=TOKEN)
    headers = {"Authorization": authorization} if authorization else {}

    response = await instance.http.get("/metrics", headers=headers)

    assert response.status_code == 404
    assert "ayni_" not in response.text


async def test_inbox_counters_move_when_an_activity_arrives_and_when_one_is_refused(
    net: Net,
) -> None:
    instance = await net.instance(BASE, metrics_token=TOKEN)
    peer: MastodonPeer = net.peer("http://127.0.0.1:8201")
    before = await scrape(instance)

    accepted = await peer.send(f"{BASE}/inbox", peer.follow(GROUP))
    unsigned = await instance.http.post("/inbox", content=json.dumps(peer.follow(GROUP)))
    garbage = await instance.http.post("/inbox", content=b"not json")
    after = await scrape(instance)

    assert (accepted.status_code, unsigned.status_code, garbage.status_code) == (202, 401, 400)
    assert sample(before, "ayni_inbox_received_total") == 0
    assert sample(after, "ayni_inbox_received_total") == 1
    assert sample(after, "ayni_inbox_refused_total", reason="signature") == 1
    assert sample(after, "ayni_inbox_refused_total", reason="bad_activity") == 1
    assert sample(after, "ayni_inbox_refused_total", reason="blocked") == 0


async def test_request_durations_are_labelled_by_route_template_never_by_path(net: Net) -> None:
    instance = await net.instance(BASE, metrics_token=TOKEN)

    await instance.http.get("/actors/food", headers={"Accept": "application/activity+json"})
    await instance.http.get("/calls/12/where/secret-token-in-the-path")
    await instance.http.get("/no/such/page/with-an-id-123")
    text = await scrape(instance)

    route_count = "ayni_request_duration_seconds_count"
    assert sample(text, route_count, route="/actors/{name}", method="GET", status="2xx") == 1
    assert sample(text, route_count, route="unmatched", method="GET", status="4xx") == 1
    assert (
        "secret-token" not in text
        and "with-an-id" not in text
        and 'route="/actors/food"' not in text
    )


async def test_queue_gauges_are_read_from_the_database_at_scrape_time(database_url: str) -> None:
    async with start_sender(database_url, metrics_token=TOKEN) as sender:
        await sender.add_follower("127.0.0.2:9000", "ann")
        sender.receiver.fault("127.0.0.2:9000", down=True)
        await sender.publish_note()
        async with sender_client(sender) as http:
            fanned_out = (await http.get("/metrics", headers=BEARER)).text
            await sender.drain()
            sender.clock.advance(hours=1)  # the failed delivery's retry is long due
            later = (await http.get("/metrics", headers=BEARER)).text

    assert sample(fanned_out, "ayni_queue_depth", queue="fanout") == 1
    assert sample(later, "ayni_queue_depth", queue="fanout") == 0
    assert sample(later, "ayni_queue_depth", queue="deliveries") == 1
    assert sample(later, "ayni_deliveries_total", outcome="retry") == 1
    assert sample(later, "ayni_fanout_seconds_count") == 1
    assert 'ayni_queue_oldest_due_seconds{queue="incoming"} 0.0' in later


async def test_a_failed_delivery_moves_the_failure_counter_and_a_sent_one_the_sent(
    database_url: str,
) -> None:
    async with start_sender(database_url, metrics_token=TOKEN) as sender:
        await sender.add_follower("127.0.0.2:9000", "ann")
        await sender.add_follower("127.0.0.3:9000", "bob")
        sender.receiver.fault("127.0.0.2:9000", fail_first=1, fail_status=500)
        await sender.publish_note()
        await sender.drain()
        async with sender_client(sender) as http:
            text = (await http.get("/metrics", headers=BEARER)).text

    assert sample(text, "ayni_deliveries_total", outcome="retry") == 1
    assert sample(text, "ayni_deliveries_total", outcome="sent") == 1


def sender_client(sender: Sender) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sender.app), base_url=BASE_URL)


# --- request ids ---


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The log lines the root logger writes, as `ayni serve` writes them (JSON here)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.Json())
    handler.addFilter(logs.WithRequestId())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


async def test_each_request_gets_an_id_echoed_and_written_on_its_log_lines(
    net: Net, captured: io.StringIO
) -> None:
    instance = await net.instance(BASE)
    body = json.dumps({"type": "Follow", "actor": "http://127.0.0.1:8201/users/x", "id": "x"})

    first = await instance.http.post("/inbox", content=body)
    second = await instance.http.get("/healthz")

    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and ids[0] != ids[1]
    refused = [e for e in lines(captured) if str(e["message"]).startswith("inbox: refused")]
    assert refused and refused[0]["request_id"] == ids[0]
    assert "time" in refused[0] and refused[0]["level"] == "INFO"


async def test_a_trusted_proxys_request_id_is_kept_and_anyone_elses_replaced(net: Net) -> None:
    instance = await net.instance(BASE)  # loopback is trusted by default; the test client is it

    kept = await instance.http.get("/healthz", headers={"X-Request-Id": "nginx-4f2a9c"})
    insane = await instance.http.get("/healthz", headers={"X-Request-Id": 'a "quoted" id'})
    transport = httpx.ASGITransport(app=instance.app, client=("203.0.113.5", 4000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as outsider:
        forged = await outsider.get("/healthz", headers={"X-Request-Id": "chosen-by-a-client"})

    assert kept.headers["X-Request-Id"] == "nginx-4f2a9c"
    assert insane.headers["X-Request-Id"] != 'a "quoted" id'
    assert forged.headers["X-Request-Id"] != "chosen-by-a-client"


# --- log lines ---


def access_record(path: str, client: str = "198.51.100.7:5000") -> logging.LogRecord:
    """A record as uvicorn's access logger makes it."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (client, "GET", path, "1.1", 200),
        None,
    )


def test_json_access_lines_keep_the_privacy_rules_and_carry_fields() -> None:
    hidden, shown = access_log.AccessLog(log_ips=False), access_log.AccessLog(log_ips=True)
    record, secret = access_record("/items/abc"), access_record("/calls/3/where/tok")

    assert hidden.filter(record) and not hidden.filter(secret) and not shown.filter(secret)
    entry = json.loads(logs.Json().format(record))

    assert entry["client"] == "-" and "198.51.100.7" not in json.dumps(entry)
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/items/abc", 200)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", str(entry["time"]))


def test_text_lines_have_a_timestamp_level_and_logger_and_json_an_exception_in_one_line() -> None:
    record = logging.LogRecord("ayni.outbox", logging.WARNING, __file__, 1, "x %s", ("y",), None)
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord(
            "ayni", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )

    text = logs.Text().format(record)
    one_line = logs.Json().format(failed)

    assert re.fullmatch(r"\S+T\S+ WARNING ayni\.outbox x y", text)
    assert "\n" not in one_line and "ValueError: boom" in json.loads(one_line)["exception"]

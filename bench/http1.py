"""Reading a delivery's answer: federation.http1's AnswerReader against h11, CPU per answer.

    python bench/http1.py [--rounds N]

h11 reads an answer only on a connection that has sent a request, so its figure includes
sending the request's head through h11 (which would then replace the Sender's own, costed
here as `ours + head`): per answer, on one connection reused with start_next_cycle(), as the
Sender reuses its connections. The answers are what uvicorn and Mastodon send to a delivery.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import h11

from federation.http1 import AnswerReader
from federation.sender import Sender, Target

ANSWERS = {
    "uvicorn 202": (
        b"HTTP/1.1 202 Accepted\r\ndate: Mon, 23 Nov 2026 10:00:00 GMT\r\nserver: uvicorn\r\n"
        b"content-length: 0\r\n\r\n"
    ),
    "mastodon 202": (
        b"HTTP/1.1 202 Accepted\r\nDate: Mon, 23 Nov 2026 10:00:00 GMT\r\n"
        b"Connection: keep-alive\r\nCache-Control: no-cache\r\n"
        b"Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"
        b"Referrer-Policy: same-origin\r\n"
        b"Strict-Transport-Security: max-age=63072000; includeSubDomains\r\n"
        b"Vary: Origin\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
        b"X-Request-Id: 0b7c2d1e-5f8a-4c3b-9d2e-1a2b3c4d5e6f\r\nX-Runtime: 0.012345\r\n"
        b"Content-Length: 0\r\n\r\n"
    ),
    "chunked 401": (
        b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
        b'Transfer-Encoding: chunked\r\n\r\n19\r\n{"error":"Verify failed"}\r\n0\r\n\r\n'
    ),
}
TARGET = Target.of("https://remote.example/inbox")
HEADERS = [
    ("Content-Type", "application/activity+json"),
    ("Date", "Mon, 23 Nov 2026 10:00:00 GMT"),
    ("Digest", "SHA-256=" + "x" * 44),
    ("Signature", 'keyId="k",signature="' + "y" * 344 + '"'),
]


def ours(answer: bytes) -> None:
    reader = AnswerReader()
    reader.feed(answer)
    assert reader.answer is not None and reader.reusable


def ours_with_head(sender: Sender) -> Callable[[bytes], None]:
    def run(answer: bytes) -> None:
        sender._head(TARGET, 1200, HEADERS)
        ours(answer)

    return run


def with_h11() -> Callable[[bytes], None]:
    connection = h11.Connection(h11.CLIENT)
    head = [
        ("Host", TARGET.authority),
        ("User-Agent", "Ayni/0.1"),
        ("Content-Length", "0"),
        *HEADERS,
    ]

    def run(answer: bytes) -> None:
        if connection.our_state is h11.DONE:
            connection.start_next_cycle()
        connection.send(h11.Request(method="POST", target=TARGET.path, headers=head))
        connection.send(h11.EndOfMessage())
        connection.receive_data(answer)
        while not isinstance(event := connection.next_event(), h11.EndOfMessage):
            assert event is not h11.NEED_DATA

    return run


def per_answer(run: Callable[[bytes], None], answer: bytes, rounds: int, n: int = 20_000) -> float:
    """Microseconds of CPU per answer: the best of `rounds` runs of `n`."""
    best = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            run(answer)
        best.append((time.process_time() - started) / n * 1e6)
    return min(best)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sender = Sender("Ayni/0.1")
    ratios = []
    print(f"{'answer':14} {'ours':>8} {'ours+head':>10} {'h11':>8}  h11/(ours+head)")
    for name, answer in ANSWERS.items():
        a = per_answer(ours, answer, args.rounds)
        b = per_answer(ours_with_head(sender), answer, args.rounds)
        c = per_answer(with_h11(), answer, args.rounds)
        ratios.append(c / b)
        print(f"{name:14} {a:6.2f}us {b:8.2f}us {c:6.2f}us  {c / b:5.2f}")
    print(
        f"h11 costs {statistics.median(ratios):.1f} times ours "
        "(median; within 10% would be <= 1.10)"
    )


if __name__ == "__main__":
    main()

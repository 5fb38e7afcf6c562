"""The Sender's answer reader against hostile answers, in whatever pieces they arrive."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.http1 import MAX_DRAIN, MAX_HEAD, Answer, AnswerReader, Malformed


def read(answer: bytes, cuts: list[int]) -> tuple[Answer | None, bool | None] | str:
    """Feed `answer` cut at `cuts`: (the answer, whether the connection serves again), or
    "malformed". Nothing else may come out of the reader."""
    reader = AnswerReader()
    pieces = [answer[a:b] for a, b in zip([0, *cuts], [*cuts, len(answer)], strict=True)]
    try:
        for piece in pieces:
            reader.feed(piece)
    except Malformed:
        return "malformed"
    return reader.answer, reader.reusable


def cuts_of(data: st.DataObject, answer: bytes) -> list[int]:
    return sorted(data.draw(st.lists(st.integers(0, len(answer)), max_size=12)))


token = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12
)
value = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)
extra_headers = st.lists(
    st.tuples(token, value).filter(
        lambda h: (
            h[0].lower() not in ("content-length", "transfer-encoding", "connection", "retry-after")
        )
    ),
    max_size=5,
)


@st.composite
def answers(draw: st.DrawFn) -> tuple[bytes, int, str | None, bool]:
    """A valid answer, framed either way, maybe after interim 1xx heads: (bytes, status,
    Retry-After, whether the connection may serve again)."""
    status = draw(st.integers(200, 599))
    retry_after = draw(st.none() | st.integers(0, 10**6).map(str))
    body = draw(st.binary(max_size=300))
    closing = draw(st.booleans())
    lines = [f"HTTP/1.1 {status} {draw(st.sampled_from(['OK', 'Accepted', '', 'x y z']))}"]
    lines += [f"{name}: {text}" for name, text in draw(extra_headers)]
    if retry_after is not None:
        lines.append(f"Retry-After: {retry_after}")
    if closing:
        lines.append("Connection: close")
    chunked = draw(st.booleans()) and status not in (204, 304)
    if status in (204, 304):
        payload = b""
    elif chunked:
        lines.append("Transfer-Encoding: chunked")
        sizes = draw(st.lists(st.integers(1, 64), max_size=6))
        payload, at = b"", 0
        for size in sizes:
            piece, at = body[at : at + size], at + size
            if piece:
                payload += f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n"
        payload += b"0\r\n" + draw(st.sampled_from([b"", b"Trailer: 1\r\n"])) + b"\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    interim = draw(
        st.lists(
            st.sampled_from(
                [
                    b"HTTP/1.1 100 Continue\r\n\r\n",
                    b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
                ]
            ),
            max_size=2,
        )
    )
    head = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"
    return b"".join(interim) + head + payload, status, retry_after, not closing


@given(answers(), st.data())
def test_a_valid_answer_reads_the_same_in_any_pieces(
    answer: tuple[bytes, int, str | None, bool], data: st.DataObject
) -> None:
    raw, status, retry_after, reusable = answer
    assert read(raw, cuts_of(data, raw)) == (Answer(status, retry_after), reusable)


@given(answers(), st.binary(min_size=1, max_size=40), st.data())
def test_bytes_after_the_answer_mean_the_connection_is_not_used_again(
    answer: tuple[bytes, int, str | None, bool], after: bytes, data: st.DataObject
) -> None:
    raw, status, retry_after, _ = answer
    assert read(raw + after, cuts_of(data, raw + after)) == (Answer(status, retry_after), False)


@given(answers(), st.integers(0, 2000), st.binary(max_size=4), st.data())
def test_hostile_bytes_anywhere_give_an_answer_or_malformed_and_nothing_else(
    answer: tuple[bytes, int, str | None, bool], at: int, noise: bytes, data: st.DataObject
) -> None:
    raw, *_ = answer
    at = min(at, len(raw))
    mangled = raw[:at] + noise + raw[at + data.draw(st.integers(0, 4)) :]
    result = read(mangled, cuts_of(data, mangled))  # raising anything but Malformed fails here
    assert result == "malformed" or result[0] is None or 100 <= result[0].status <= 599


@given(
    st.sampled_from(["\r", "\n", "\0", "\r\nContent-Length: 0", "\nContent-Length: 0"]), st.data()
)
def test_a_cr_lf_or_nul_in_a_header_is_malformed_never_a_header_of_its_own(
    injected: str, data: st.DataObject
) -> None:
    raw = f"HTTP/1.1 202 Accepted\r\nX-Echo: a{injected}b\r\nContent-Length: 2\r\n\r\nok".encode()
    raw = raw.replace(b"a\r\nContent-Length: 0b", b"a\r\nContent-Length: 0\r\nb")  # a bare word
    assert read(raw, cuts_of(data, raw)) == "malformed"


@given(st.integers(MAX_DRAIN + 1, 10**12), st.data())
def test_a_huge_content_length_gives_the_status_without_reading_the_body(
    length: int, data: st.DataObject
) -> None:
    raw = f"HTTP/1.1 202 Accepted\r\nContent-Length: {length}\r\n\r\n".encode() + b"x" * 100
    assert read(raw, cuts_of(data, raw)) == (Answer(202), False)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 202 Accepted\r\n\r\n",  # no length: the body runs until the server closes
        b"HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n",
        (
            b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"
            b"0\r\n\r\n"
        ),
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: gzip\r\n\r\n",
    ],
)
def test_answers_we_cannot_frame_exactly_give_their_status_and_close(head: bytes) -> None:
    assert read(head, []) == (Answer(202), False)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 2, 3\r\n\r\nok",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: \xd9\xa3\r\n\r\n",  # an Arabic-Indic three
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n",
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n123456789\r\n",
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\nffff\r\n"
        + b"x" * 0xFFFF
        + b"\r\n" * 2,
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"HTTP/2 202\r\n\r\n",
        b"HTTP/1.1 2020 Accepted\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\n folded: header\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nBad Name: x\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nX: " + b"a" * MAX_HEAD + b"\r\n\r\n",
    ],
)
def test_malformed_answers_are_malformed_in_any_pieces(raw: bytes) -> None:
    for cuts in ([], [1], [len(raw) // 2], list(range(1, len(raw), 997))):
        assert read(raw, cuts) == "malformed", cuts


def test_an_answer_in_single_bytes_is_read_whole() -> None:
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 429 Too Many\r\nRetry-After: 60\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n"
    )
    assert read(raw, list(range(1, len(raw)))) == (Answer(429, "60"), True)

"""An HTTP/1.1 answer read from its bytes as they arrive, sans-IO: what the Sender needs of it.

    reader = AnswerReader()
    reader.feed(data)          # any pieces, as they come; Malformed when it is not HTTP/1.x
    reader.answer              # Answer(status, retry_after) once the final head is in, else None
    reader.reusable            # once the body is read away or given up: whether the connection
                               # can carry another request; None until then

Only the status and Retry-After are kept. Interim 1xx heads are skipped (a 101 is Malformed:
a POST asks for no switch). The head is capped at MAX_HEAD and at most MAX_DRAIN of the body is
read; a longer body, one that runs until the server closes, an HTTP/1.0 or `Connection: close`
answer, a Transfer-Encoding beside a Content-Length (smuggling) and bytes after the answer all
make the connection not reusable. CR, LF or NUL inside a head line is Malformed, never a new
header.

(h11 reads the same answers, but bench/http1.py measured it at 5-7 times this reader's CPU per
answer, its request head included: 49-62 us against 7-12 us.)
"""

from dataclasses import dataclass

MAX_HEAD = 64 * 1024
MAX_DRAIN = 64 * 1024

_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_NO_BODY = frozenset({204, 304})
_KEPT = ("content-length", "transfer-encoding", "connection", "retry-after")


class Malformed(Exception):
    """Not an HTTP/1.x answer, or one over the caps: the connection must not be used again."""


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None = None


@dataclass(frozen=True)
class _Framing:
    """How the answer's body ends, and whether the connection can take another request."""

    length: int | None  # None: chunked
    reusable: bool


class AnswerReader:
    """One answer, from one buffer (see the module's docstring)."""

    def __init__(self) -> None:
        self.answer: Answer | None = None
        self.reusable: bool | None = None
        self._buffer = bytearray()
        self._framing: _Framing | None = None
        self._chunks: _Chunks | None = None

    def feed(self, data: bytes) -> None:
        if self.reusable is not None:
            if data:
                self.reusable = False  # bytes after the answer: the server is not in step
            return
        buffer = self._buffer
        buffer += data
        while self.answer is None:
            end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD)
            if end < 0:
                if len(buffer) >= MAX_HEAD:
                    raise Malformed(f"answer head over {MAX_HEAD} bytes")
                return
            status, version, fields = _parse_head(bytes(buffer[: end + 4]))
            del buffer[: end + 4]
            if status == 101:
                raise Malformed("101 Switching Protocols to a POST that asked for none")
            if status >= 200:  # an interim 1xx is skipped
                self._framing = _framing(status, version, fields)
                self.answer = Answer(status, fields.get("retry-after"))
        framing = self._framing
        assert framing is not None
        if not framing.reusable:
            self.reusable = False
            return
        if framing.length is not None:
            body_end = framing.length if len(buffer) >= framing.length else None
        else:
            self._chunks = self._chunks or _Chunks()
            body_end = self._chunks.end(buffer)
        if body_end is None:
            if len(buffer) > MAX_DRAIN + MAX_HEAD:  # chunk framing and trailers included
                raise Malformed("body over the drain cap")
            return
        self.reusable = body_end == len(buffer)


def _parse_head(raw: bytes) -> tuple[int, bytes, dict[str, str]]:
    """(status, version, the headers we use, lowercased); Malformed when not HTTP/1.x."""
    if (
        b"\0" in raw
        or raw.count(b"\n") != raw.count(b"\r")
        or raw.count(b"\r\n") != raw.count(b"\n")
    ):
        raise Malformed("a bare CR or LF, or a NUL, in the answer head")
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise Malformed(f"status line {lines[0][:80]!r}")
    code = parts[1]
    if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 599:
        raise Malformed(f"status {code[:10]!r}")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or not _TOKEN.issuperset(name):
            raise Malformed(f"header line {line[:80]!r}")  # obs-fold, a bare word, a space
        key = name.decode("ascii").lower()
        if key in _KEPT:
            text = value.strip(b" \t").decode("latin-1")
            fields[key] = f"{fields[key]}, {text}" if key in fields else text
    return int(code), parts[0], fields


def _framing(status: int, version: bytes, fields: dict[str, str]) -> _Framing:
    tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
    reusable = version == b"HTTP/1.1" and "close" not in tokens
    if status in _NO_BODY:
        return _Framing(0, reusable)
    if "transfer-encoding" in fields:
        codings = [t.strip().lower() for t in fields["transfer-encoding"].split(",")]
        # With a Content-Length too, someone is smuggling: answer taken, connection dropped.
        chunked = codings[-1] == "chunked" and "content-length" not in fields
        return _Framing(None, reusable and chunked)
    if "content-length" in fields:
        values = {v.strip() for v in fields["content-length"].split(",")}
        text = next(iter(values))
        if len(values) != 1 or not text.isdigit() or not text.isascii():
            raise Malformed(f"Content-Length {fields['content-length'][:40]!r}")
        length = int(text)
        return _Framing(length, reusable and length <= MAX_DRAIN)
    return _Framing(0, False)  # the body runs until the server closes: we do not wait for it


class _Chunks:
    """A chunked body read as it arrives, resuming where the last piece left off (so a server
    trickling tiny chunks costs no rescans): the payload counts against MAX_DRAIN."""

    def __init__(self) -> None:
        self.at = 0
        self.received = 0
        self.trailers: int | None = None  # counted once the last chunk is in

    def end(self, data: bytearray) -> int | None:
        """Where the body that starts `data` ends, or None while it is incomplete."""
        while self.trailers is None:
            eol = data.find(b"\r\n", self.at)
            if eol < 0:
                return None
            size_text = bytes(data[self.at : eol]).split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 8 or not _HEX.issuperset(size_text):
                raise Malformed("chunk size")
            size = int(size_text, 16)
            if self.received + size > MAX_DRAIN:
                raise Malformed("body over the drain cap")
            if size == 0:
                self.at, self.trailers = eol + 2, 0
                break
            if len(data) < eol + 4 + size:
                return None
            if data[eol + 2 + size : eol + 4 + size] != b"\r\n":
                raise Malformed("chunk not followed by CRLF")
            self.received += size
            self.at = eol + 4 + size
        while True:  # trailers, then the blank line
            eol = data.find(b"\r\n", self.at)
            if eol < 0:
                return None
            blank, self.at = eol == self.at, eol + 2
            if blank:
                return self.at
            self.trailers += 1
            if self.trailers > 100:
                raise Malformed("too many trailers")

"""The Zen protocol in Python: the one place the Python servers learn what a question is.

It mirrors protocol/zen.{hpp,cpp} rule for rule, so that a Python server and a C++ server give
the same bytes for the same input (tests/data/zen_cases.json holds the table both are tested
against). Like its C++ twin it holds no socket code: bytes that arrived go in, answers come out.

A question is every byte up to and including the first ``?``; an answer ends with ``.``. The
book's zen_utils.py looked a whole recv() buffer up as one string; here the bytes are framed at
every ``?``, so pipelined and split questions both work. A question that reaches
``max_request`` bytes without its ``?`` is refused with ``Error: request too long.``, and the
server then closes the connection.

The same answers also go out over HTTP/1.1 (``protocol="http"``, the ``--protocol http`` that
archbench-server appends): HttpConversation below frames request heads instead of questions,
with exactly the rules and bytes of protocol/ (docs/http.md), so that curl, wrk and
archbench-load's HTTP mode get from a Python design what they get from a C++ one.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import time

QUESTION_END = b"?"
ANSWER_END = b"."
PADDING = b"-"
DEFAULT_MAX_REQUEST = 1024

APHORISMS: dict[bytes, bytes] = {
    b"Beautiful is better than?": b"Ugly.",
    b"Explicit is better than?": b"Implicit.",
    b"Simple is better than?": b"Complex.",
}
UNKNOWN_ANSWER = b"Error: unknown aphorism."
TOO_LONG_ANSWER = b"Error: request too long."
_LINE_BREAKS = b"\r\n"


def answer_for(question: bytes) -> bytes:
    """The answer to one complete question (its final ``?`` included), before padding."""
    return APHORISMS.get(question, UNKNOWN_ANSWER)


def padded(answer: bytes, reply_bytes: int) -> bytes:
    """``answer`` padded to ``reply_bytes``: without its final ``.``, ``-`` filler, then ``.``.

    An answer already that long is returned as it is.
    """
    if len(answer) >= reply_bytes:
        return answer
    return answer[:-1] + PADDING * (reply_bytes - len(answer)) + ANSWER_END


@dataclasses.dataclass(frozen=True)
class Workload:
    """What every request costs the server, the same under every design."""

    work_us: int = 0  # CPU burnt per request (thread CPU time, not wall time)
    sleep_us: int = 0  # time blocked per request, as in a call to a back end
    reply_bytes: int = 0  # answers padded to this many bytes (0: unpadded)
    max_request: int = DEFAULT_MAX_REQUEST
    protocol: str = "zen"  # or "http"

    def longest_answer(self) -> int:
        body = max(self.reply_bytes, len(UNKNOWN_ANSWER), len(TOO_LONG_ANSWER))
        return body + (HTTP_LONGEST_HEAD if self.protocol == "http" else 0)


def burn_cpu(us: int) -> None:
    """Burns ``us`` microseconds of this thread's CPU time: a compute-heavy request.

    Measured on the thread's CPU clock, as in C++, so that a preempted server (or one whose
    thread waits for the GIL) still does exactly the work asked for.
    """
    if us <= 0:
        return
    until = time.thread_time_ns() + us * 1000
    while time.thread_time_ns() < until:
        pass


def do_request_work(workload: Workload) -> None:
    """Applies the per-request knobs: burn, then block. Called once per question."""
    burn_cpu(workload.work_us)
    if workload.sleep_us > 0:
        time.sleep(workload.sleep_us / 1e6)


class FrameStatus(enum.Enum):
    OK = "ok"  # every byte was consumed; feed the next bytes when they arrive
    TOO_LONG = "too_long"  # a frame reached the limit without its terminator: answer, close
    CLOSE = "close"  # HTTP: the last answer says the server closes (an error, Connection: close)


class Framer:
    """Splits a byte stream into frames that end with ``terminator``.

    ``feed()`` returns the complete frames in what arrived (terminator included) and keeps an
    unfinished one for the next call. With ``skip_line_breaks`` (a server) line breaks before a
    frame are skipped, so that questions typed into nc, one per line, are answered; inside a
    frame every byte counts.
    """

    def __init__(self, terminator: bytes, max_frame: int, skip_line_breaks: bool) -> None:
        self._terminator = terminator
        self._max_frame = max(max_frame, 1)
        self._skip_line_breaks = skip_line_breaks
        self._partial = bytearray()

    def mid_frame(self) -> bool:
        """True when bytes of an unfinished frame are held: EOF now cuts a frame in half."""
        return bool(self._partial)

    def feed(self, data: bytes) -> tuple[list[bytes], FrameStatus]:
        frames: list[bytes] = []
        view = memoryview(data)
        start, end_of_data = 0, len(data)
        while start < end_of_data:
            if not self._partial and self._skip_line_breaks:
                while start < end_of_data and data[start] in _LINE_BREAKS:
                    start += 1
                if start == end_of_data:
                    break
            limit = self._max_frame - len(self._partial)  # bytes this frame may still take
            end = data.find(self._terminator, start, start + limit)
            if end >= 0:
                if self._partial:
                    self._partial += view[start:end + 1]
                    frames.append(bytes(self._partial))
                    self._partial.clear()
                else:
                    frames.append(data[start:end + 1])
                start = end + 1
                continue
            if end_of_data - start >= limit:
                return frames, FrameStatus.TOO_LONG
            self._partial += view[start:]
            break
        return frames, FrameStatus.OK


class Conversation:
    """One client's conversation as a server sees it: bytes in, answers out.

    Every design feeds it what recv() returned and sends what it returned; this is Stevens'
    web_child() and the book's zen_utils.handle_conversation() without the socket.
    """

    def __init__(self, workload: Workload) -> None:
        self._workload = workload
        self._framer = Framer(QUESTION_END, workload.max_request, skip_line_breaks=True)
        self.questions_answered = 0  # a server's idle clock restarts when it grows

    def mid_question(self) -> bool:
        return self._framer.mid_frame()

    def on_input(self, data: bytes) -> tuple[bytes, FrameStatus]:
        """Answers each complete question in ``data``, doing the workload's work per question.

        Returns the (padded) answers and a status: with TOO_LONG the answers end with the
        refusal, and the server sends them and closes the connection (as for any status but
        OK).
        """
        questions, status = self._framer.feed(data)
        reply_bytes = self._workload.reply_bytes
        answers = []
        for question in questions:
            do_request_work(self._workload)
            answers.append(padded(answer_for(question), reply_bytes))
        self.questions_answered += len(questions)
        if status is FrameStatus.TOO_LONG:
            answers.append(padded(TOO_LONG_ANSWER, reply_bytes))
        return b"".join(answers), status


def bounded_read_size(workload: Workload, buffer_size: int, output_bound: int) -> int:
    """How many bytes one read may take so that its answers stay under about ``output_bound``.

    Each byte read can end at most one question, and an answer is at most longest_answer()
    bytes: 16 kB of one-byte questions padded by --reply-bytes 1000000 would be 16 GB.
    """
    return min(max(output_bound // workload.longest_answer(), 1), buffer_size)


# --------------------------------------------------------------------------- HTTP/1.1

PROTOCOLS = ("zen", "http")
# Each path asks one of the three questions.
HTTP_PATHS: dict[bytes, bytes] = {path: APHORISMS[question] for path, question in (
    (b"/beautiful", b"Beautiful is better than?"), (b"/explicit", b"Explicit is better than?"),
    (b"/simple", b"Simple is better than?"))}
BAD_REQUEST_ANSWER = b"Error: bad request."
NOT_ALLOWED_ANSWER = b"Error: method not allowed."
REASONS = {200: b"OK", 404: b"Not Found", 400: b"Bad Request", 405: b"Method Not Allowed",
           431: b"Request Header Fields Too Large"}
HTTP_VERSIONS = (b"HTTP/1.0", b"HTTP/1.1")
# The most bytes an answer's status line and headers take (405 with Connection: close and a
# ten-digit Content-Length is 141): what bounded_read_size() adds to each answer in HTTP.
HTTP_LONGEST_HEAD = 160
_HEAD_ENDS = (b"\n\n", b"\n\r\n")  # the blank line after a LF: a bare LF is accepted too
# Control bytes no line may hold (a tab may): NUL to US, and DEL.
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def http_response(code: int, body: bytes, close: bool) -> bytes:
    """One response, byte for byte as protocol/ writes it: no Date, no Server header."""
    allow = b"Allow: GET\r\n" if code == 405 else b""
    connection = b"Connection: close\r\n" if close else b""
    return (b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n%sContent-Length: %d\r\n%s\r\n"
            % (code, REASONS[code], allow, len(body), connection) + body)


@dataclasses.dataclass
class _Head:
    """What a well-formed request head says: its method, target, and whether to close after."""
    method: bytes
    target: bytes
    close: bool
    has_body: bool


def _parse_head(head: bytes) -> _Head | None:
    """The request line and header lines of one complete head (its blank line included), or
    None when it is malformed: not three parts, an unknown version, a header line with no
    ``:`` or starting with a space or tab, or a control byte other than tab in a line."""
    lines = [line[:-1] if line.endswith(b"\r") else line for line in head.split(b"\n")]
    lines = lines[:-2]  # the blank line, and what follows its LF (nothing)
    if any(_CONTROL.search(line) for line in lines):
        return None
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not all(parts) or parts[2] not in HTTP_VERSIONS:
        return None
    tokens: set[bytes] = set()
    has_body = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or line[:1] in (b" ", b"\t"):
            return None
        name, value = name.lower(), value.strip(b" \t")
        if name == b"connection":
            tokens.update(token.strip(b" \t").lower() for token in value.split(b","))
        elif name == b"content-length":
            has_body = has_body or not (value.isdigit() and int(value) == 0)
        elif name == b"transfer-encoding":
            has_body = True
    if parts[2] == b"HTTP/1.1":
        close = b"close" in tokens
    else:  # HTTP/1.0 closes unless it asked to keep the connection
        close = b"close" in tokens or b"keep-alive" not in tokens
    return _Head(parts[0], parts[1], close, has_body)


class HttpConversation:
    """One client's HTTP/1.1 conversation: the same interface as Conversation (bytes in,
    responses out), for the same designs.

    A request is its head: the request line and header lines up to the blank line (no body is
    accepted). Heads are answered in order, so pipelined requests work; a head split across
    reads is held until its blank line arrives. A head that reaches ``max_request`` bytes
    without one gets 431, a malformed one 400, a method other than GET 405, a head that
    announces a body 400: each of them with ``Connection: close``, after which the server
    closes (status CLOSE), as it does after a request that asked for it.
    """

    def __init__(self, workload: Workload) -> None:
        self._workload = workload
        self._held = bytearray()  # the start of a head whose blank line has not arrived
        self.questions_answered = 0  # GET requests answered (200 or 404)

    def mid_question(self) -> bool:
        return bool(self._held)

    def on_input(self, data: bytes) -> tuple[bytes, FrameStatus]:
        buffer = bytes(self._held) + data if self._held else data
        self._held.clear()
        limit = max(self._workload.max_request, 1)
        answers: list[bytes] = []
        start = 0
        while True:
            while start < len(buffer) and buffer[start] in _LINE_BREAKS:
                start += 1  # CR/LF before a request line are skipped
            if start == len(buffer):
                return b"".join(answers), FrameStatus.OK
            window = start + limit  # the head must end within max_request bytes
            ends = [found + len(mark) for mark in _HEAD_ENDS
                    if (found := buffer.find(mark, start, window)) >= 0]
            if not ends:
                if len(buffer) - start >= limit:
                    answers.append(self._refusal(431, TOO_LONG_ANSWER))
                    return b"".join(answers), FrameStatus.CLOSE
                self._held += buffer[start:]
                return b"".join(answers), FrameStatus.OK
            end = min(ends)
            answer, close = self._answer(buffer[start:end])
            answers.append(answer)
            if close:
                return b"".join(answers), FrameStatus.CLOSE
            start = end

    def _answer(self, head: bytes) -> tuple[bytes, bool]:
        """The response to one complete head, and whether the server closes after it."""
        request = _parse_head(head)
        if request is None or request.has_body:
            return self._refusal(400, BAD_REQUEST_ANSWER), True
        if request.method != b"GET":
            return self._refusal(405, NOT_ALLOWED_ANSWER), True
        do_request_work(self._workload)  # once per GET answered, never for a refusal
        self.questions_answered += 1
        body = HTTP_PATHS.get(request.target)
        code = 200 if body is not None else 404
        body = padded(body if body is not None else UNKNOWN_ANSWER, self._workload.reply_bytes)
        return http_response(code, body, request.close), request.close

    def _refusal(self, code: int, answer: bytes) -> bytes:
        return http_response(code, padded(answer, self._workload.reply_bytes), close=True)


def new_conversation(workload: Workload) -> Conversation | HttpConversation:
    """The conversation of the workload's protocol: what every design makes per client."""
    return HttpConversation(workload) if workload.protocol == "http" else Conversation(workload)

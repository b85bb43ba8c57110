"""The HTTP/1.1 mode of servers/python/zen.py (HttpConversation), rule by rule and byte for byte
as docs/http.md states it for protocol/ (no sockets: bytes in, responses out)."""
import json
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "servers" / "python"))

import test_zen  # noqa: E402
import zen  # noqa: E402

HTTP = zen.Workload(protocol="http")


def converse(reads: list[bytes], workload: zen.Workload = HTTP
             ) -> tuple[bytes, zen.FrameStatus, zen.HttpConversation]:
    """Feeds ``reads`` to one HTTP conversation as a server receives them; what it sent."""
    return test_zen.converse(reads, workload)


def response(code: str, body: bytes, close: bool = False, allow: bool = False) -> bytes:
    return (f"HTTP/1.1 {code}\r\nContent-Type: text/plain\r\n".encode()
            + (b"Allow: GET\r\n" if allow else b"")
            + f"Content-Length: {len(body)}\r\n".encode()
            + (b"Connection: close\r\n" if close else b"") + b"\r\n" + body)


OK_UGLY = response("200 OK", b"Ugly.")
BAD = response("400 Bad Request", b"Error: bad request.", close=True)


class Answers(unittest.TestCase):
    def test_each_path_gets_its_answer_in_exactly_these_bytes(self):
        for path, body in [(b"/beautiful", b"Ugly."), (b"/explicit", b"Implicit."),
                           (b"/simple", b"Complex.")]:
            output, status, _ = converse([b"GET " + path + b" HTTP/1.1\r\nHost: h\r\n\r\n"])
            self.assertEqual(output, response("200 OK", body))
            self.assertIs(status, zen.FrameStatus.OK)

    def test_unknown_path_gets_404_and_the_connection_stays_open(self):
        output, status, _ = converse([b"GET /beautiful?x=1 HTTP/1.1\r\n\r\n"])
        self.assertEqual(output, response("404 Not Found", b"Error: unknown aphorism."))
        self.assertIs(status, zen.FrameStatus.OK)

    def test_bodies_are_padded_to_reply_bytes_as_zen_answers_are(self):
        workload = zen.Workload(protocol="http", reply_bytes=12)
        self.assertEqual(converse([b"GET /beautiful HTTP/1.1\r\n\r\n"], workload)[0],
                         response("200 OK", b"Ugly-------."))
        self.assertEqual(converse([b"PUT / HTTP/1.1\r\n\r\n"], workload)[0],
                         response("405 Method Not Allowed", b"Error: method not allowed.",
                                  close=True, allow=True))

    def test_work_is_done_once_per_get_answered_and_never_for_a_refusal(self):
        output, _, conversation = converse([b"GET /simple HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n"
                                            b"POST /simple HTTP/1.1\r\n\r\n"])
        self.assertEqual(conversation.questions_answered, 2)


class Framing(unittest.TestCase):
    def test_pipelined_requests_are_answered_in_order(self):
        output, status, _ = converse([b"GET /simple HTTP/1.1\r\n\r\nGET /beautiful HTTP/1.1\r\n"
                                      b"Host: h\r\n\r\nGET /explicit HTTP/1.1\r\n\r\n"])
        self.assertEqual(output, response("200 OK", b"Complex.") + OK_UGLY
                         + response("200 OK", b"Implicit."))
        self.assertIs(status, zen.FrameStatus.OK)

    def test_request_split_across_reads_is_answered_once_whole(self):
        request = b"GET /beautiful HTTP/1.1\r\nHost: localhost\r\n\r\n"
        reads = [request[i:i + 1] for i in range(len(request))]
        output, status, conversation = converse(reads)
        self.assertEqual(output, OK_UGLY)
        self.assertFalse(conversation.mid_question())
        self.assertTrue(converse([request[:-1]])[2].mid_question())

    def test_line_breaks_after_a_head_gathered_across_reads_are_skipped(self):
        # protocol/'s fuzz target found this case in C++ (tests/unit/http_test.cpp has it too).
        output, status, _ = converse([b"GET /beautiful HTTP/1.1\r\nHost: x\r\n", b"\r\n\r\n",
                                      b"\r\nGET /simple HTTP/1.1\r\n\r\n"])
        self.assertEqual(output, OK_UGLY + response("200 OK", b"Complex."))
        self.assertIs(status, zen.FrameStatus.OK)

    def test_bare_line_feeds_end_lines_and_line_breaks_before_a_request_are_skipped(self):
        self.assertEqual(converse([b"\r\n\n\r\nGET /beautiful HTTP/1.1\nHost: h\n\n"])[0],
                         OK_UGLY)

    def test_head_reaching_max_request_without_its_blank_line_gets_431_and_a_close(self):
        output, status, _ = converse([b"GET /beautiful HTTP/1.1\r\nX: " + b"a" * 2000])
        self.assertEqual(output, response("431 Request Header Fields Too Large",
                                          b"Error: request too long.", close=True))
        self.assertIs(status, zen.FrameStatus.CLOSE)

    def test_head_of_exactly_max_request_bytes_is_answered(self):
        head = b"GET /beautiful HTTP/1.1\r\nX: "
        head += b"a" * (64 - len(head) - 4) + b"\r\n\r\n"
        self.assertEqual(len(head), 64)
        workload = zen.Workload(protocol="http", max_request=64)
        self.assertEqual(converse([head], workload)[0], OK_UGLY)
        self.assertIs(converse([head[:-4] + b"a\r\n\r\n"], workload)[1], zen.FrameStatus.CLOSE)

    def test_after_a_close_the_rest_of_the_input_is_not_answered(self):
        output, status, _ = converse([b"GET /beautiful HTTP/1.1\r\nConnection: close\r\n\r\n"
                                      b"GET /simple HTTP/1.1\r\n\r\n"])
        self.assertEqual(output, response("200 OK", b"Ugly.", close=True))
        self.assertIs(status, zen.FrameStatus.CLOSE)


class Malformed(unittest.TestCase):
    def assert_bad(self, request: bytes) -> None:
        output, status, _ = converse([request])
        self.assertEqual(output, BAD, request)
        self.assertIs(status, zen.FrameStatus.CLOSE)

    def test_request_line_not_three_parts_gets_400_and_a_close(self):
        for line in (b"GET /beautiful", b"GET  /beautiful HTTP/1.1", b"GET /a b HTTP/1.1",
                     b"hello"):
            self.assert_bad(line + b"\r\n\r\n")

    def test_unknown_version_gets_400(self):
        self.assert_bad(b"GET /beautiful HTTP/2.0\r\n\r\n")
        self.assert_bad(b"GET /beautiful http/1.1\r\n\r\n")

    def test_header_without_colon_or_starting_with_white_space_gets_400(self):
        self.assert_bad(b"GET /beautiful HTTP/1.1\r\nHost\r\n\r\n")
        self.assert_bad(b"GET /beautiful HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n")
        self.assert_bad(b"GET /beautiful HTTP/1.1\r\n\tX: y\r\n\r\n")

    def test_control_bytes_but_tab_get_400(self):
        self.assert_bad(b"GET /beau\x00tiful HTTP/1.1\r\n\r\n")
        self.assert_bad(b"GET /beautiful HTTP/1.1\r\nX: a\rb\r\n\r\n")
        self.assert_bad(b"GET /beautiful HTTP/1.1\r\nX: \x7f\r\n\r\n")
        self.assertEqual(converse([b"GET /beautiful HTTP/1.1\r\nX: a\tb\r\n\r\n"])[0], OK_UGLY)

    def test_a_request_with_a_body_gets_400(self):
        self.assert_bad(b"GET /beautiful HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
        self.assert_bad(b"GET /beautiful HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        self.assertEqual(converse([b"GET /beautiful HTTP/1.1\r\ncontent-length: 0\r\n\r\n"])[0],
                         OK_UGLY)

    def test_method_other_than_get_gets_405_with_allow_and_a_close(self):
        output, status, _ = converse([b"HEAD /beautiful HTTP/1.1\r\n\r\n"])
        self.assertEqual(output, response("405 Method Not Allowed",
                                          b"Error: method not allowed.", close=True, allow=True))
        self.assertIs(status, zen.FrameStatus.CLOSE)


class KeepAlive(unittest.TestCase):
    def test_connection_close_is_a_case_insensitive_token_and_is_honoured(self):
        for value in (b"close", b"Close", b"keep-alive, CLOSE", b" upgrade ,close "):
            output, status, _ = converse([b"GET /beautiful HTTP/1.1\r\nconnection:" + value
                                          + b"\r\n\r\n"])
            self.assertEqual(output, response("200 OK", b"Ugly.", close=True), value)
            self.assertIs(status, zen.FrameStatus.CLOSE)

    def test_http_1_0_closes_after_the_answer(self):
        output, status, _ = converse([b"GET /beautiful HTTP/1.0\r\n\r\n"])
        self.assertEqual(output, response("200 OK", b"Ugly.", close=True))
        self.assertIs(status, zen.FrameStatus.CLOSE)

    def test_http_1_0_with_keep_alive_stays_open_without_a_connection_header(self):
        output, status, _ = converse([b"GET /beautiful HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"])
        self.assertEqual(output, OK_UGLY)
        self.assertIs(status, zen.FrameStatus.OK)

    def test_zen_stays_the_default_protocol(self):
        self.assertIsInstance(zen.new_conversation(zen.Workload()), zen.Conversation)



class SharedHttpTable(unittest.TestCase):
    """The cases protocol/ passes too (tests/data/http_cases.json, tests/unit/zen_cases_test.cpp)."""

    def test_every_case_of_the_shared_http_table_gets_its_output(self):
        table = json.loads((ROOT / "tests" / "data" / "http_cases.json").read_text())
        self.assertEqual(table["protocol"], "http")
        self.assertGreaterEqual(len(table["cases"]), 30)
        for case in table["cases"]:
            with self.subTest(case["name"]):
                workload = zen.Workload(protocol="http", reply_bytes=case.get("reply_bytes", 0),
                                        max_request=case.get("max_request", 1024))
                output, status, conversation = converse(
                    [test_zen.read_of(read) for read in case["reads"]], workload)
                self.assertEqual(output, test_zen.bytes_of(case["output"]))
                self.assertEqual(status is not zen.FrameStatus.OK, case["closes"])
                if not case["closes"]:
                    self.assertEqual(conversation.mid_question(), case["mid_question"])

if __name__ == "__main__":
    unittest.main()

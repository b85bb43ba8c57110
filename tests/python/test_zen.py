"""The Zen protocol of DESIGN.md, rule by rule, against servers/python/zen.py alone (no
sockets), and its agreement with protocol/zen.cpp on the shared table tests/data/zen_cases.json
(which tests/unit/zen_cases_test.cpp reads too)."""
import json
import sys
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "servers" / "python"))

import zen  # noqa: E402

CASES = ROOT / "tests" / "data" / "zen_cases.json"


def converse(reads: list[bytes], workload: zen.Workload = zen.Workload()
             ) -> tuple[bytes, zen.FrameStatus, zen.Conversation]:
    """Feeds ``reads`` to one conversation as a server receives them; what it sent."""
    conversation = zen.new_conversation(workload)  # HttpConversation in tests/python/test_http.py
    output, status = b"", zen.FrameStatus.OK
    for data in reads:
        answers, status = conversation.on_input(data)
        output += answers
        if status is not zen.FrameStatus.OK:
            break
    return output, status, conversation


class Answers(unittest.TestCase):
    def test_each_aphorism_gets_its_answer(self):
        for question, answer in [(b"Beautiful is better than?", b"Ugly."),
                                 (b"Explicit is better than?", b"Implicit."),
                                 (b"Simple is better than?", b"Complex.")]:
            self.assertEqual(converse([question])[0], answer)

    def test_unknown_question_gets_the_error_and_no_close(self):
        output, status, _ = converse([b"Tea is better than?"])
        self.assertEqual(output, b"Error: unknown aphorism.")
        self.assertIs(status, zen.FrameStatus.OK)

    def test_answers_are_the_same_table_as_the_cpp_module(self):
        self.assertEqual(len(zen.APHORISMS), 3)
        self.assertTrue(all(q.endswith(b"?") and a.endswith(b".")
                            for q, a in zen.APHORISMS.items()))


class Framing(unittest.TestCase):
    def test_pipelined_questions_are_answered_in_order(self):
        self.assertEqual(converse([b"Simple is better than?Beautiful is better than?"])[0],
                         b"Complex.Ugly.")

    def test_question_split_across_reads_is_answered_once_whole(self):
        output, _, conversation = converse([b"Explicit is", b" better than?"])
        self.assertEqual(output, b"Implicit.")
        self.assertFalse(conversation.mid_question())

    def test_unfinished_question_is_held_and_reported_mid_question(self):
        output, _, conversation = converse([b"Simple is"])
        self.assertEqual(output, b"")
        self.assertTrue(conversation.mid_question())

    def test_line_breaks_before_a_question_are_skipped(self):
        self.assertEqual(converse([b"\r\n\nSimple is better than?\n"])[0], b"Complex.")

    def test_line_break_inside_a_question_counts(self):
        self.assertEqual(converse([b"Simple is\n better than?"])[0], zen.UNKNOWN_ANSWER)

    def test_client_side_framer_keeps_line_breaks(self):
        framer = zen.Framer(zen.ANSWER_END, 100, skip_line_breaks=False)
        self.assertEqual(framer.feed(b"\nUgly.")[0], [b"\nUgly."])

    def test_questions_answered_counts_every_answered_question(self):
        _, _, conversation = converse([b"???", b"Simple is better than?"])
        self.assertEqual(conversation.questions_answered, 4)


class Limit(unittest.TestCase):
    def test_question_reaching_max_request_without_mark_is_refused(self):
        output, status, _ = converse([b"x" * 1024])
        self.assertEqual(output, b"Error: request too long.")
        self.assertIs(status, zen.FrameStatus.TOO_LONG)

    def test_question_of_max_request_bytes_with_its_mark_is_answered(self):
        output, status, _ = converse([b"x" * 1023 + b"?"])
        self.assertEqual(output, zen.UNKNOWN_ANSWER)
        self.assertIs(status, zen.FrameStatus.OK)

    def test_limit_counts_a_question_split_across_reads(self):
        self.assertIs(converse([b"x" * 512, b"x" * 512])[1], zen.FrameStatus.TOO_LONG)

    def test_max_request_knob_sets_the_limit(self):
        workload = zen.Workload(max_request=8)
        self.assertIs(converse([b"Simple is better than?"], workload)[1],
                      zen.FrameStatus.TOO_LONG)

    def test_questions_before_the_refusal_are_answered_first(self):
        self.assertEqual(converse([b"Simple is better than?" + b"y" * 5000])[0],
                         b"Complex.Error: request too long.")


class Padding(unittest.TestCase):
    def test_answer_is_padded_with_dashes_before_its_full_stop(self):
        self.assertEqual(zen.padded(b"Ugly.", 10), b"Ugly-----.")

    def test_answer_already_that_long_is_sent_as_it_is(self):
        self.assertEqual(zen.padded(b"Implicit.", 9), b"Implicit.")
        self.assertEqual(zen.padded(b"Implicit.", 2), b"Implicit.")

    def test_reply_bytes_pads_every_answer_and_the_refusal(self):
        workload = zen.Workload(reply_bytes=40, max_request=4)
        output, _, _ = converse([b"?xxxx"], workload)
        self.assertEqual(output, zen.padded(zen.UNKNOWN_ANSWER, 40)
                         + zen.padded(zen.TOO_LONG_ANSWER, 40))
        self.assertEqual(len(output), 80)


class Workload(unittest.TestCase):
    def test_work_us_burns_thread_cpu_time_per_question(self):
        started = time.thread_time()
        converse([b"???"], zen.Workload(work_us=20000))
        self.assertGreaterEqual(time.thread_time() - started, 0.06)

    def test_sleep_us_blocks_per_question_without_burning_cpu(self):
        started, cpu_started = time.monotonic(), time.thread_time()
        converse([b"??"], zen.Workload(sleep_us=50000))
        self.assertGreaterEqual(time.monotonic() - started, 0.1)
        self.assertLess(time.thread_time() - cpu_started, 0.05)

    def test_no_knob_no_work(self):
        started = time.thread_time()
        zen.do_request_work(zen.Workload())
        self.assertLess(time.thread_time() - started, 0.01)

    def test_read_size_bounds_the_answers_to_one_read(self):
        workload = zen.Workload(reply_bytes=1000000)
        self.assertEqual(zen.bounded_read_size(workload, 16384, 1 << 20), 1)
        self.assertEqual(zen.bounded_read_size(zen.Workload(), 16384, 1 << 20), 16384)
        self.assertEqual(zen.bounded_read_size(zen.Workload(reply_bytes=1000), 16384, 1 << 20),
                         1048)


def bytes_of(text: str) -> bytes:
    return text.encode("latin-1")  # the table's characters are bytes, code points 0 to 255


def read_of(read) -> bytes:
    if isinstance(read, str):
        return bytes_of(read)
    return bytes_of(read["repeat"]) * read["times"]


class SharedTable(unittest.TestCase):
    """The cases protocol/zen.cpp passes too (tests/unit/zen_cases_test.cpp)."""

    def test_every_case_of_the_shared_table_gets_its_output(self):
        cases = json.loads(CASES.read_text())["cases"]
        self.assertGreaterEqual(len(cases), 20)
        for case in cases:
            with self.subTest(case["name"]):
                workload = zen.Workload(reply_bytes=case.get("reply_bytes", 0),
                                        max_request=case.get("max_request", 1024))
                output, status, conversation = converse(
                    [read_of(read) for read in case["reads"]], workload)
                self.assertEqual(output, bytes_of(case["output"]))
                self.assertEqual(status is zen.FrameStatus.TOO_LONG, case["closes"])
                if not case["closes"]:
                    self.assertEqual(conversation.mid_question(), case["mid_question"])


if __name__ == "__main__":
    unittest.main()

"""The lessons section: its sentences are computed from the run's points, so synthetic runs
with opposite data must produce opposite words, and the SLO figure must follow the points."""
import json
import math
import unittest
from pathlib import Path

from support import TempDir, make_run

import lessons
import report
import run_data


def set_workloads(run: Path, specs: list[dict], slo_us: float | None = None) -> None:
    meta = json.loads((run / "meta.json").read_text())
    meta["experiment"]["workloads"] = specs
    if slo_us:
        meta["experiment"]["slo_us"] = slo_us
    (run / "meta.json").write_text(json.dumps(meta))


def ok(**figures) -> dict:
    return {"status": "ok", "requests_ok": 1000, "errors": 0, "timeouts": 0, **figures}


def blocking_model(capped: str, free: str):
    """A 1 ms back end: `capped` answers about 920 req/s whatever the connections, `free` about
    900 per connection."""
    def model(arch, workload, connections, rep):
        rate = 920 if arch == capped else min(900 * connections, 60_000)
        return ok(throughput_rps=rate * (1 + 0.01 * rep), p50_us=connections / rate * 1e6,
                  p99_us=2 * connections / rate * 1e6)
    return model


class BlockingLessonTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def sentences(self, capped: str, free: str, name: str) -> str:
        path = make_run(self.tmp.path, name=name, archs=("epoll", "threaded"),
                        workloads=("sleep-1ms",), connections=(1, 16, 64),
                        model=blocking_model(capped, free), hgrm=False)
        set_workloads(path, [{"name": "sleep-1ms", "session": 0, "sleep_us": 1000}])
        found = lessons.find_lessons(run_data.load_run(path), draw=False)
        self.assertEqual([lesson.key for lesson in found], ["blocking"])
        return " ".join(found[0].sentences)

    def test_an_event_loop_capped_and_threads_free_are_named_so(self):
        text = self.sentences("epoll", "threaded", "20250101T000000Z-a")
        self.assertIn("at most 1/sleep = 1,000 req/s", text)
        self.assertIn("capped near it were epoll", text)
        self.assertIn("went past the cap: threaded", text)
        self.assertIn("threaded answered 63x what epoll did", text)

    def test_the_reverse_data_gives_the_reverse_words(self):
        text = self.sentences("threaded", "epoll", "20250101T000000Z-b")
        self.assertIn("capped near it were threaded", text)
        self.assertIn("went past the cap: epoll", text)
        self.assertNotIn("capped near it were epoll", text)


class SloFigureTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def curve_run(self, p99s, errors_at=None, lagging_at=None) -> run_data.Run:
        offered = [1000, 2000, 4000, 8000]
        names = [f"load-{o}" for o in offered]

        def model(arch, workload, connections, rep):
            o = offered[names.index(workload)]
            return ok(offered_rps=o, throughput_rps=o * (0.5 if o == lagging_at else 0.99),
                      p50_us=p99s[names.index(workload)] / 3, p99_us=p99s[names.index(workload)],
                      p99_9_us=p99s[names.index(workload)] * 2,
                      errors=3 if o == errors_at else 0)
        path = make_run(self.tmp.path, name=f"20250101T000000Z-{errors_at}-{lagging_at}",
                        archs=("epoll",), workloads=tuple(names), connections=(64,),
                        model=model, hgrm=False)
        set_workloads(path, [{"name": n, "rate": o} for n, o in zip(names, offered)],
                      slo_us=1000)
        return run_data.load_run(path)

    def figure(self, run) -> float:
        return lessons.slo_figure(lessons.load_curve(run, "epoll", lessons.open_loop_workloads(run)))

    def test_the_highest_offer_with_p99_within_the_slo(self):
        self.assertEqual(self.figure(self.curve_run([200, 400, 900, 5000])), 4000)

    def test_an_offer_with_errors_does_not_count(self):
        self.assertEqual(self.figure(self.curve_run([200, 400, 900, 5000], errors_at=4000)), 2000)

    def test_an_offer_not_answered_does_not_count(self):
        self.assertEqual(self.figure(self.curve_run([200, 400, 900, 900], lagging_at=8000)), 4000)

    def test_no_offer_within_the_slo_says_none(self):
        run = self.curve_run([2000, 4000, 9000, 50000])
        self.assertTrue(math.isnan(self.figure(run)))
        self.assertIn("epoll none", lessons.load_sentences(run, lessons.open_loop_workloads(run))[0][0])

    def test_the_sentence_names_the_figure_and_the_hockey_stick(self):
        run = self.curve_run([200, 400, 900, 5000])
        sentences, figures = lessons.load_sentences(run, lessons.open_loop_workloads(run))
        self.assertEqual(figures, {"epoll": 4000})
        self.assertIn("epoll 4,000 req/s", sentences[0])
        self.assertIn("from 200 us at 1,000 to 5,000 us at 8,000", sentences[1])


class IdleLessonTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_select_closing_and_epoll_holding_are_told_apart(self):
        levels = {"idle-100": 100, "idle-5000": 5000}

        def model(arch, workload, connections, rep):
            n = levels[workload]
            closed = max(n - 1010, 0) if arch == "select" else 0
            cpu = 7 + (n / 20 if arch == "poll" else 0)
            return ok(throughput_rps=20_000, p50_us=50, p99_us=300, idle_opened=n,
                      idle_closed_by_server=closed, idle_failed=0, server_cpu_us_per_req=cpu,
                      server_rss_kb=4000 + n * 0.2, errors=100 if closed else 0,
                      status="failed" if closed else "ok")
        path = make_run(self.tmp.path, archs=("select", "poll", "epoll"),
                        workloads=tuple(levels), connections=(8,), model=model, hgrm=False)
        set_workloads(path, [{"name": w, "idle": n} for w, n in levels.items()])
        found = lessons.find_lessons(run_data.load_run(path), draw=False)
        self.assertEqual([lesson.key for lesson in found], ["idle"])
        text = " ".join(found[0].sentences)
        self.assertIn("With 5,000 idle connections beside 8 active ones", text)
        self.assertIn("poll (active p99 300 us), epoll (active p99 300 us) held every one", text)
        self.assertIn("select closed 3,990 of them (kept 1,010; select() cannot watch", text)
        self.assertIn("poll 12.0 -> 257.0 us (at 5,000)", text)


class OverloadLessonTest(unittest.TestCase):
    def test_recovery_is_the_first_second_after_the_overload_within_the_slo(self):
        steps = [[0.5, 2], [2.0, 2], [0.5, 6]]
        p99s = [300, 300, 40_000, 90_000, 60_000, 20_000, 800, 300, 300, 300]
        entries = [{"t": t, "duration_s": 1, "ok": 1000, "errors": 0, "p99_us": p}
                   for t, p in enumerate(p99s)]
        result = lessons.recovery(entries, steps, capacity=1000, slo=1000)
        self.assertEqual(result["recovered_s"], 2)
        self.assertEqual(result["held_share"], 1.0)

    def test_on_a_busy_machine_recovery_is_back_within_twice_the_p99_before(self):
        steps = [[0.5, 2], [2.0, 2], [0.5, 4]]
        p99s = [5000, 5000, 90_000, 90_000, 30_000, 9000, 6000, 5000]
        entries = [{"t": t, "duration_s": 1, "ok": 1000, "errors": 0, "p99_us": p}
                   for t, p in enumerate(p99s)]
        result = lessons.recovery(entries, steps, capacity=1000, slo=1000)
        self.assertEqual(result["threshold_us"], 10_000)
        self.assertEqual(result["recovered_s"], 1)

    def test_no_recovery_within_the_run_is_nan(self):
        entries = [{"t": t, "duration_s": 1, "ok": 10, "errors": 0, "p99_us": 50_000}
                   for t in range(6)]
        self.assertTrue(math.isnan(lessons.recovery(entries, [[2.0, 2], [0.5, 4]], 1000,
                                                    1000)["recovered_s"]))


class ReportSectionTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_the_report_opens_with_the_lessons_and_their_chart(self):
        path = make_run(self.tmp.path, archs=("epoll", "threaded"), workloads=("sleep-1ms",),
                        connections=(1, 16, 64), model=blocking_model("epoll", "threaded"),
                        hgrm=False)
        set_workloads(path, [{"name": "sleep-1ms", "session": 0, "sleep_us": 1000}])
        page = report.write_report(run_data.load_run(path)).read_text()
        self.assertIn('id="lessons"', page)
        self.assertLess(page.index('id="lessons"'), page.index('id="summary"'))
        self.assertIn("plots/lesson-sleep-1ms.png", page)
        self.assertTrue((path / "plots" / "lesson-sleep-1ms.png").is_file())

    def test_the_summary_gives_the_slo_figure(self):
        offered = [1000, 2000, 4000]
        p99s = [200, 500, 3000]

        def model(arch, workload, connections, rep):
            i = [f"load-{o}" for o in offered].index(workload)
            return ok(offered_rps=offered[i], throughput_rps=offered[i], p50_us=100,
                      p99_us=p99s[i], p99_9_us=2 * p99s[i])
        path = make_run(self.tmp.path, archs=("epoll",),
                        workloads=tuple(f"load-{o}" for o in offered), connections=(64,),
                        model=model, hgrm=False)
        set_workloads(path, [{"name": f"load-{o}", "rate": o} for o in offered], slo_us=1000)
        page = report.write_report(run_data.load_run(path)).read_text()
        summary = page[page.index('id="summary"'):]
        self.assertIn("Highest offered rate within the SLO", summary)
        self.assertIn("<td>epoll</td><td>2,000</td>", summary)

    def test_a_run_without_lesson_workloads_has_no_lessons_section(self):
        path = make_run(self.tmp.path, hgrm=False)
        page = report.write_report(run_data.load_run(path)).read_text()
        self.assertNotIn('id="lessons"', page)


if __name__ == "__main__":
    unittest.main()

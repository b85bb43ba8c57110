"""Families: every architecture's family from the registry, colour by family, the overview's one
line per family (its best member by the ranking rules), the chooser's markup."""
import colorsys
import re
import subprocess
import unittest

from support import REPO, TempDir, book_model, make_run

import charts
import chooser
import families
import report
import run_data

SERVER = REPO / "build" / "bin" / "archbench-server"


def hue(colour):
    return colorsys.rgb_to_hls(*(int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)))[0]


def drawn_lines(ax):
    return [line for line in ax.get_lines() if line.get_linestyle() != "None"
            and line.get_gid() != "loopback-floor"]


def like(arch_model):
    """book_model with more architectures: each behaves as the one it is mapped to."""
    return lambda arch, workload, count, rep: book_model(arch_model.get(arch, arch), workload,
                                                         count, rep)


class RegistryFamiliesTest(unittest.TestCase):
    @unittest.skipUnless(SERVER.exists(), "needs build/bin/archbench-server")
    def test_every_registered_architecture_has_a_family_the_report_knows(self):
        listed = subprocess.run([str(SERVER), "--list"], capture_output=True, text=True,
                                check=True).stdout.splitlines()
        pairs = [line.split("\t") for line in subprocess.run(
            [str(SERVER), "--list-families"], capture_output=True, text=True,
            check=True).stdout.splitlines()]
        self.assertEqual([p[0] for p in pairs], [line.split("\t")[0] for line in listed])
        for name, family in pairs:
            self.assertIn(family, families.FAMILY_HUES, name)

    def test_a_new_architecture_takes_its_family_from_the_run(self):
        table = families.Families({"epoll": "one event loop", "py-newthing": "Python"})
        self.assertEqual(table.family("py-newthing"), "Python")
        self.assertEqual(table.family("never-registered"), families.UNKNOWN_FAMILY)
        self.assertEqual(table.family("select"), "one event loop")  # the fallback table


class ColourFollowsFamilyTest(unittest.TestCase):
    def test_members_of_a_family_share_its_hue_and_differ_in_shade_or_marker(self):
        table = families.Families(families.FALLBACK_FAMILIES)
        for family, members in table.grouped(list(families.FALLBACK_FAMILIES)).items():
            base = hue(families.FAMILY_HUES[family])
            styles = {(table.colour(a), table.marker(a)) for a in members}
            self.assertEqual(len(styles), len(members), family)
            if family != "one client at a time":  # a grey has no hue
                for arch in members:
                    turn = abs(hue(table.colour(arch)) - base)
                    self.assertLess(min(turn, 1 - turn), 0.06, (family, arch))

    def test_hues_of_different_families_are_apart(self):
        hues = [hue(c) for f, c in families.FAMILY_HUES.items() if f != "one client at a time"]
        for i, a in enumerate(hues):
            for b in hues[i + 1:]:
                self.assertGreater(min(abs(a - b), 1 - abs(a - b)), 0.03)

    def test_a_member_appended_to_the_registry_changes_no_other_colour(self):
        before = families.Families({"select": "one event loop", "epoll": "one event loop"})
        after = families.Families({"select": "one event loop", "epoll": "one event loop",
                                   "epoll-et": "one event loop"})
        for arch in ("select", "epoll"):
            self.assertEqual(before.colour(arch), after.colour(arch))
            self.assertEqual(before.marker(arch), after.marker(arch))
        self.assertNotIn(after.colour("epoll-et"), [after.colour("select"),
                                                    after.colour("epoll")])


class OverviewTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        # Two event loops as fast as epoll (tied) and a slower one; a new Python architecture
        # whose family only meta.json knows.
        cls.archs = ("single", "threaded", "forked", "select", "epoll", "poll", "asio",
                     "py-new")
        cls.path = make_run(cls.tmp.path, archs=cls.archs, connections=(1, 16, 64), reps=3,
                            model=like({"poll": "epoll", "asio": "epoll",
                                        "py-new": "my-arch"}),
                            families={"py-new": "Python"})
        cls.data = run_data.load_run(cls.path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_the_overview_draws_one_line_per_family(self):
        layers = charts.overview_layers([charts.Layer(self.data)], "persistent", "throughput")
        ax = charts.throughput_figure(layers, "persistent").axes[0]
        lines = drawn_lines(ax)
        self.assertEqual(len(lines), len(self.data.families))
        self.assertEqual(len(self.data.families), 4)
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        self.assertIn("Python: py-new", legend)

    def test_the_best_member_is_drawn_and_members_tied_with_it_are_named(self):
        best, tied = families.best_member(self.data, "persistent", ["select", "epoll", "poll",
                                                                   "asio"], "throughput_rps",
                                          True)
        self.assertIn(best, ("epoll", "poll", "asio"))
        self.assertEqual(sorted([best] + tied), ["asio", "epoll", "poll"])
        layers = charts.overview_layers([charts.Layer(self.data)], "persistent", "throughput")
        label = layers[0].names[best]
        self.assertTrue(label.startswith(f"one event loop: {best}"), label)
        self.assertIn("tied:", label)
        self.assertNotIn("select", label)

    def test_a_failed_point_is_never_best(self):
        # single fails at 1024 in book_model; forked and threaded: threaded is faster.
        best, _ = families.best_member(self.data, "persistent", ["threaded", "forked"],
                                       "throughput_rps", True)
        self.assertEqual(best, "threaded")
        path = make_run(self.tmp.path, "with-failures", archs=("single", "select", "epoll"),
                        connections=(1024,), reps=3)
        run = run_data.load_run(path)  # select and single fail at 1024: epoll is best
        self.assertEqual(families.best_member(run, "persistent", ["select", "epoll"],
                                              "throughput_rps", True), ("epoll", []))

    def test_a_family_chart_draws_all_of_its_members_and_no_other(self):
        layers = charts.family_layers([charts.Layer(self.data)], "one event loop")
        ax = charts.throughput_figure(layers, "persistent").axes[0]
        self.assertEqual(sorted(line.get_color() for line in drawn_lines(ax)),
                         sorted(run_data.arch_colour(a)
                                for a in ("select", "epoll", "poll", "asio")))

    def test_the_chooser_names_every_architecture_and_family_of_the_run(self):
        html = report.families_html(self.data)
        self.assertEqual(sorted(re.findall(r'<input type="checkbox" checked data-arch="([^"]+)"',
                                           html)), sorted(self.archs))
        self.assertEqual(re.findall(r'data-family="([^"]+)"', html),
                         [families.slug(f) for f in self.data.families])
        table = report.summary_table(self.data, "persistent")
        self.assertEqual(sorted(re.findall(r'<tr data-arch="([^"]+)"', table)),
                         sorted(self.archs))
        self.assertIn(chooser.SCRIPT, report.render_html(self.data, []))


if __name__ == "__main__":
    unittest.main()

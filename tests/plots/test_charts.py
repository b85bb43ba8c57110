"""The figures themselves: what matplotlib was given to draw (without saving them)."""
import math
import unittest

from support import TempDir, make_run

import charts
import run_data


def lines_of(ax, colour):
    return [line for line in ax.get_lines() if line.get_color() == colour
            and line.get_linestyle() != "None"]


class ChartDataTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        # book_model: single fails at 1024 with 0 req/s in the CSV, select fails with empty cells.
        cls.data = run_data.load_run(make_run(cls.tmp.path, connections=(1, 64, 1024), reps=2))
        cls.layers = [charts.Layer(cls.data)]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_failed_points_are_gaps_in_the_throughput_line_never_zeros(self):
        figure = charts.throughput_figure(self.layers, "persistent")
        ax = figure.axes[0]
        for arch in ("single", "select"):
            (line,) = lines_of(ax, run_data.arch_colour(arch))
            y = dict(zip(line.get_xdata(), line.get_ydata()))
            self.assertTrue(math.isnan(y[1024]), f"{arch} at 1024 drawn at {y[1024]}")
            self.assertGreater(y[1], 0)
            self.assertNotIn(0.0, list(line.get_ydata()))

    def test_failed_points_are_crossed_in_the_strip_under_the_chart(self):
        figure = charts.throughput_figure(self.layers, "persistent")
        main, strip = figure.axes[0], figure.axes[1]
        crosses = [(line.get_color(), list(line.get_xdata())) for line in strip.get_lines()]
        self.assertIn((run_data.arch_colour("single"), [1024]), crosses)
        self.assertIn((run_data.arch_colour("select"), [1024]), crosses)
        self.assertEqual([t.get_text() for t in strip.get_yticklabels()], ["single", "select"])
        self.assertIs(strip.get_shared_x_axes().joined(main, strip), True)

    def test_every_chart_with_lines_keeps_the_gap(self):
        for make in (charts.latency_figure, charts.cpu_figure, charts.memory_figure):
            figure = make(self.layers, "persistent")
            for ax in figure.axes:
                for line in lines_of(ax, run_data.arch_colour("select")):
                    y = dict(zip(line.get_xdata(), line.get_ydata()))
                    self.assertTrue(math.isnan(y[1024]), make.__name__)

    def test_each_architecture_keeps_its_colour_in_every_chart(self):
        for make in (charts.throughput_figure, charts.latency_figure, charts.cpu_figure,
                     charts.memory_figure, charts.errors_figure):
            ax = make(self.layers, "persistent").axes[0]
            for arch in ("threaded", "epoll"):
                self.assertEqual(len(lines_of(ax, run_data.arch_colour(arch))), 1,
                                 (make.__name__, arch))

    def test_legend_sits_outside_the_axes(self):
        figure = charts.throughput_figure(self.layers, "persistent")
        legend = figure.axes[0].get_legend()
        self.assertIsNotNone(legend)
        self.assertGreater(legend.get_bbox_to_anchor().x0,
                           figure.axes[0].get_window_extent().x1)
        self.assertIn("epoll", [t.get_text() for t in legend.get_texts()])

    def test_title_names_workload_and_machine(self):
        figure = charts.throughput_figure(self.layers, "persistent")
        title = figure._suptitle.get_text()
        self.assertIn("persistent", title)
        self.assertIn("Synthetic CPU 9000", title)

    def test_spectrum_axis_is_labelled_in_percentiles(self):
        figure = charts.spectrum_figure(self.layers, "persistent", [1, 64])
        ax = figure.axes[0]
        figure.canvas.draw()
        labels = [t.get_text() for t in ax.get_xticklabels()]
        self.assertEqual(labels[:5], ["50%", "90%", "99%", "99.9%", "99.99%"])
        self.assertEqual(ax.get_xscale(), "log")
        self.assertEqual(len(lines_of(ax, run_data.arch_colour("epoll"))), 1)

    def test_spectrum_counts_default_to_lowest_middle_highest(self):
        self.assertEqual(charts.spectrum_counts([1, 4, 16, 64, 256, 1024]), [1, 64, 1024])
        self.assertEqual(charts.spectrum_counts([1, 64]), [1, 64])
        self.assertEqual(charts.spectrum_counts([1, 4, 16, 64], [4, 999]), [4])

    def test_comparison_draws_a_dashed_and_b_solid(self):
        layers = [charts.Layer(self.data, "--", "A"), charts.Layer(self.data, "-", "B")]
        ax = charts.throughput_figure(layers, "persistent").axes[0]
        styles = sorted(line.get_linestyle() for line in lines_of(ax, run_data.arch_colour("epoll")))
        self.assertEqual(styles, ["-", "--"])


if __name__ == "__main__":
    unittest.main()

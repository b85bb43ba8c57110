"""C++ and Python, the same designs: each of the book's Python servers beside the C++
architecture that is the same design (servers/python/ and servers/), and what the interpreter
costs, in the run's own figures. The pairs are the book's designs; a pair is only spoken of when
both of its members were measured, at a connection count where both answered every request.
"""
from __future__ import annotations

import html
import math

import lessons
import ranking
from run_data import Run

# Python design -> the C++ architecture that is the same design.
PAIRS = {
    "py-single": "single",
    "py-prethreaded": "prethreaded",
    "py-threading-mixin": "threaded",
    "py-forking-mixin": "forked",
    "py-poll": "poll",
    "py-asyncio-callbacks": "asio",
    "py-asyncio-coroutines": "asio-coro",
}


def _clean(run: Run, workload: str, arch: str, connections: int) -> bool:
    points = run.points_at(workload, arch, connections)
    return bool(points) and all(p.ok and p.value("errors") == 0 for p in points)


def comparison_point(run: Run, pairs: dict[str, str]) -> tuple[str, int] | None:
    """The workload (persistent connections first) and the highest connection count at which
    the most pairs both served without an error."""
    best = None
    for workload in run.workloads:
        spec = lessons.workload_spec(run, workload)
        if spec.get("sleep_us") or spec.get("work_us") or spec.get("idle") or \
                spec.get("rate_x_capacity") or spec.get("rate") or spec.get("rate_steps"):
            continue
        for count in run.connections(workload):
            served = sum(1 for py, cpp in pairs.items()
                         if _clean(run, workload, py, count) and _clean(run, workload, cpp, count))
            key = (served, spec.get("session", 0) == 0, count)
            if served and (best is None or key > best[0]):
                best = (key, workload, count)
    return (best[1], best[2]) if best else None


def sentences(run: Run) -> list[str]:
    pairs = {py: cpp for py, cpp in PAIRS.items()
             if py in run.architectures and cpp in run.architectures}
    where = comparison_point(run, pairs)
    if where is None:
        return []
    workload, count = where
    said = [f"Workload {workload}, {count} connections, medians of the repetitions:"]
    for py, cpp in pairs.items():
        if not (_clean(run, workload, py, count) and _clean(run, workload, cpp, count)):
            continue
        rates = {name: lessons._values(run, workload, name, count, "throughput_rps")
                 for name in (py, cpp)}
        cpus = {name: lessons._values(run, workload, name, count, "server_cpu_us_per_req")
                for name in (py, cpp)}
        rate_py, rate_cpp = (lessons.median(run, workload, n, count, "throughput_rps")
                             for n in (py, cpp))
        cpu_py, cpu_cpp = (lessons.median(run, workload, n, count, "server_cpu_us_per_req")
                           for n in (py, cpp))
        verdict = ranking.separated(rates[cpp], rates[py])
        how = ("answers more" if verdict > 0 else "answers less" if verdict < 0
               else "is tied within noise with it on throughput")
        text = (f"{py} answered {lessons.rps(rate_py)} req/s to {cpp}'s {lessons.rps(rate_cpp)}"
                f" ({rate_py / rate_cpp:.2f}x); {cpp} {how}")
        if not math.isnan(cpu_py) and not math.isnan(cpu_cpp) and cpu_cpp > 0:
            cpu_verdict = ranking.separated(cpus[py], cpus[cpp], higher_is_better=False)
            text += (f"; server CPU per request {cpu_py:.1f} us against {cpu_cpp:.1f} us "
                     f"({cpu_py / cpu_cpp:.1f}x"
                     + ("" if cpu_verdict else ", not separated by the repetitions") + ")")
        said.append(text + ".")
    return said if len(said) > 1 else []


def section_html(run: Run) -> str:
    said = sentences(run)
    if not said:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in said[1:])
    return ("<h2 id=\"languages\">C++ and Python, the same designs</h2>"
            "<p>Each of the book's Python servers (servers/python/) beside the C++ architecture "
            "that is the same design: what the interpreter costs per request, and where the "
            "GIL caps the threaded designs. " + html.escape(said[0]) + "</p><ul>" + items +
            "</ul>")

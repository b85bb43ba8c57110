"""The protocol a point speaks and the tools on either side of it: archbench's own, or the
field's (nginx as a server, wrk as a load generator), for the cross-checks of docs/http.md.

Three experiment keys, each given for the whole experiment and overridden by a workload:

    protocol = "http"             # zen (the default) or http: --protocol of both tools
    path = "/beautiful"           # what archbench-load (--path) and wrk ask for, in HTTP
    load_generator = "wrk"        # archbench-load (the default) or wrk (harness/wrk.py)

and one pseudo-architecture, "nginx" (harness/nginx.py), which an experiment may list beside
the registered ones when every workload it runs speaks HTTP. The rules that tie them are
checked when the experiment is loaded, so that a run never starts what cannot be measured.
"""
from __future__ import annotations

PROTOCOLS = ("zen", "http")
LOAD_GENERATORS = ("archbench-load", "wrk")
NGINX = "nginx"
DEFAULTS = {"protocol": "zen", "path": "/beautiful", "load_generator": "archbench-load"}
KEYS = tuple(DEFAULTS)


def setting(experiment, workload, key: str) -> str:
    """The workload's own value of `key`, else the experiment's, else the default."""
    value = getattr(workload, key, None)
    if value is None:
        value = getattr(experiment, key, None)
    return value if value is not None else DEFAULTS[key]


def problems(experiment) -> list[str]:
    """Why the experiment cannot be run as written ([] when it can): a value not known, wrk
    asked for what it cannot do, nginx in a Zen workload."""
    found = []
    for workload in experiment.workloads:
        where = f"workload {workload.name}"
        protocol, path, tool = (setting(experiment, workload, key) for key in KEYS)
        if protocol not in PROTOCOLS:
            found.append(f"{where}: protocol must be one of {', '.join(PROTOCOLS)}, "
                         f"not {protocol!r}")
        if tool not in LOAD_GENERATORS:
            found.append(f"{where}: load_generator must be one of "
                         f"{', '.join(LOAD_GENERATORS)}, not {tool!r}")
        if not isinstance(path, str) or not path.startswith("/") or any(
                c.isspace() or not c.isprintable() for c in path):
            found.append(f"{where}: path must start with / and hold no space, not {path!r}")
        if tool == "wrk":
            if protocol != "http":
                found.append(f"{where}: wrk speaks HTTP only: set protocol = \"http\"")
            pipeline = workload.pipeline if workload.pipeline is not None else \
                experiment.load.get("pipeline", 1)
            unsupported = [key for key, value in (
                ("session", workload.session), ("rate", workload.rate),
                ("rate_x_capacity", workload.rate_x_capacity),
                ("rate_steps", workload.rate_steps), ("idle", workload.idle),
                ("pipeline", pipeline != 1)) if value]
            if unsupported:
                found.append(f"{where}: wrk runs persistent closed-loop connections only; "
                             f"it cannot do {', '.join(unsupported)}")
        if NGINX in experiment.architectures:
            if protocol != "http":
                found.append(f"{where}: nginx answers HTTP only: the architecture nginx "
                             f"needs protocol = \"http\"")
            if workload.work_us or workload.sleep_us:
                found.append(f"{where}: nginx cannot do work_us or sleep_us")
    return found

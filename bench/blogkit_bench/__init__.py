"""The benchmark behind ``bench/run``: our proxy against nginx, same machine, same core.

Read by file name:

- ``workloads``: the table of workloads (what each one sends and what it reports).
- ``targets``: the issue's goals, as (figure, bound) rows checked against the ratios.
- ``setup``: certificates, free ports and the configuration files of both proxies.
- ``processes``: starting the pinned processes (backend, ours, nginx, the blog).
- ``procstat``: CPU time and memory of a process tree, read from ``/proc``.
- ``loadgen``: running ``wrk`` and ``h2load`` and reading their figures.
- ``backend``: the fixed-response aiohttp backend (runs in the project's ``.venv``).
- ``blogdata``: a blog data directory with a few posts for the blog workloads.
- ``report``: medians, ratios, the terminal table and the JSON file; ``chart``: the PNG.
- ``__main__``: the rounds that alternate ours, nginx and the ceiling.
"""

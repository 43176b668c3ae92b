"""The differential suite: our proxy and Debian's nginx side by side on one case table.

What it does
    Both proxies run as plain processes on loopback (``systems.py``): ours as
    ``python -m tlsproxy serve --config FILE`` (never imported), nginx 1.22 with a
    generated config the way a competent admin fronts an application. Each has a
    plain-HTTP and an HTTPS listener and its own recording backend (``backend.py``):
    a raw asyncio server that records every byte each connection delivered and
    answers with the case's scripted bytes, keeping connections alive so that a
    desync shows. Every case (``table.py``) is sent as raw bytes (``client.py``) to
    both; then two control requests check that nothing is left behind (``run.py``).

How a case is judged (``test_differential.py``)
    1. Our proxy must keep the safety properties of ``properties.py`` (whole,
       validly framed requests only at the backend, no reuse of a connection after
       a broken answer, one valid answer per request, controls answered, no
       client-chosen address forwarded) and meet the case's ``Expect`` (the
       decisions of issue 14).
    2. Then the two are compared (``compare.py``) on three aspects, after the
       normalization listed there: ``status``, ``answer`` (fields and body of
       answers that came from the backend) and ``backend`` (what it received,
       connection by connection). A difference must be in ``differences.toml`` with
       its reason and RFC section, exactly (same aspects), or the case fails.
    3. Cases in ``known_faults.toml`` are strict expected failures of step 1: a fix
       turns them into failures until their entry goes.

The summary at the end prints cases, identical, justified differences, known
faults and failures. docs/testing.md says how to run one case, add a case and
justify a difference.
"""

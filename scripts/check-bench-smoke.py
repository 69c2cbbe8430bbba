"""make test's check of a short `make bench` run (its JSON report): every figure is
reported for each function, the Python reference and the two floors (not their values),
each function logs one JSON line per request as Lambda gets it, that line is a CloudWatch
EMF document, no request body is logged, and a warm redirect makes one DynamoDB write.

Usage: check-bench-smoke.py REPORT.json
"""
import json, sys
r = json.load(open(sys.argv[1]))
rows = dict(r["functions"], python=r["python_reference_redirect"], floor=r["io_floor_redirect"],
            crates_floor=r["crates_floor_redirect"])
assert set(rows) == {"create", "redirect", "stats", "python", "floor", "crates_floor"}, rows.keys()
for name, f in rows.items():
    assert f["warm_invocations"] == 20 and f["logged_invocations"] == 21, (name, f)
    assert f["init_ms"] > 0 and f["peak_rss_mb"] > 0 and f["cpu_us_per_warm_invocation"] > 0, (name, f)
    assert f["init_cpu_ms"] > 0 and f["first_invocation_cpu_ms"] > 0, (name, f)
for name in ("create", "redirect", "stats"):
    f = r["functions"][name]
    assert f["bootstrap_zip_mb"] > 0, name
    # Logs as Lambda gets them: one JSON line per request with these fields, no body.
    line = json.loads(f["sample_request_log_line"])
    fields = line.get("fields", line)
    for key in ("route", "method", "status", "latency_us", "request_id", "ddb_requests"):
        assert key in fields, (name, key, line)
    assert fields["route"] == name, line
    # The same line is a CloudWatch EMF document: metrics without a metrics server.
    emf = line["_aws"]["CloudWatchMetrics"][0]
    assert emf["Dimensions"] == [["Function"]] and line["Function"] == name, line
    assert all(isinstance(line[m["Name"]], (int, float)) for m in emf["Metrics"]), line
    # The runtime's per-invocation span is neither created nor serialized into each line.
    assert "span" not in line and "spans" not in line, (name, line)
    assert f["log_lines_with_request_body"] == 0, (name, "a request body was logged")
assert r["functions"]["redirect"]["sample_request_log_line"].count("bench-link") >= 1
# One write per redirect with the bench's spread of visitors: only a function's first
# overflow of a day's map costs a refused write more (about 1 in 20 here, 1 in 5000 in a
# full run).
redirect = r["functions"]["redirect"]
assert redirect["ddb_requests_per_warm_invocation"] <= 1.1, redirect
assert redirect["ddb_capacity_units_per_warm_invocation"] <= 1.1, redirect
print("bench smoke: 10 passed, 0 failed")

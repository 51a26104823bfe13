# SPDX-License-Identifier: Apache-2.0
"""Python side of bench/jobs.sh: ListSpeakerEnrollmentJobs at depth.

Signing, sending and the result tables come from bench/sign.py; this file
adds what a deep job history needs. All traffic goes to 127.0.0.1.

Commands:
  jobs.py domain PORT
      creates one domain through boto3 and prints its id.
  jobs.py walk PORT DOMAIN COUNT PAGE TOKEN_FILE
      pages through the domain's COUNT jobs (seeded by seed-jobs, so named
      seed-0 .. seed-COUNT-1, newest first) with MaxResults 100 from the
      first page to page PAGE - 1, one signed request after the other on
      one keep-alive connection, checking that every page holds the next
      100 names; writes the NextToken of page PAGE to TOKEN_FILE and prints
      one JSON line of timings.
  jobs.py sign PORT BODY_JSON FIRST REQUEST_FILE RESPONSE_FILE
      signs a ListSpeakerEnrollmentJobs request like sign.py does, sends it
      once and insists on HTTP 200 with 100 summaries named seed-FIRST
      downwards. When RESPONSE_FILE exists it must hold the same answer
      (the NextToken aside: it carries its time of issue, so its bytes
      change from one second to the next, though never its length). Then
      writes the fresh answer to RESPONSE_FILE.
  jobs.py report RESULTS_TSV MACHINE_TSV WALK_JSON DEEP_PAGE
      prints the markdown tables and ratios of a run.
"""

import http.client
import json
import os
import statistics
import sys
import time

import sign

PAGE_SIZE = 100
OPERATION = "ListSpeakerEnrollmentJobs"


def domain(port):
    d = sign.client(port).create_domain(
        Name="bench-jobs",
        Description="Benchmark domain with a deep job history",
        ServerSideEncryptionConfiguration={"KmsKeyId": "bench-key"})
    print(d["Domain"]["DomainId"])
    return 0


def check_page(answer, first):
    """None if the page holds the 100 jobs from seed-FIRST down, else why
    not."""
    names = [j.get("JobName") for j in answer.get("JobSummaries", [])]
    want = ["seed-%d" % (first - i) for i in range(PAGE_SIZE)]
    if names != want:
        return "expected %s .. %s, got %d summaries from %s" % (
            want[0], want[-1], len(names), names[:1])
    return None


def walk(port, domain_id, count, page, token_path):
    """Follow NextToken from the first page to page 'page'."""
    conn = http.client.HTTPConnection("127.0.0.1", port,
                                      timeout=sign.TIMEOUT_S)
    latencies_ms = []
    token = None
    t0 = time.perf_counter()
    c0 = time.process_time()
    for p in range(1, page):
        req = {"DomainId": domain_id, "MaxResults": PAGE_SIZE}
        if token:
            req["NextToken"] = token
        body = json.dumps(req).encode("utf-8")
        headers = sign.signed_headers(port, OPERATION, body)

        s0 = time.perf_counter()
        conn.putrequest("POST", "/", skip_host=True,
                        skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        raw = resp.read()
        latencies_ms.append((time.perf_counter() - s0) * 1000.0)

        if resp.status != 200:
            sys.stderr.write("jobs.py walk: page %d answered %d: %r\n"
                             % (p, resp.status, raw[:300]))
            return 1
        answer = json.loads(raw)
        why = check_page(answer, count - 1 - (p - 1) * PAGE_SIZE)
        if why or "NextToken" not in answer:
            sys.stderr.write("jobs.py walk: page %d: %s\n"
                             % (p, why or "no NextToken"))
            return 1
        token = answer["NextToken"]
    seconds = time.perf_counter() - t0
    client_cpu_s = time.process_time() - c0
    conn.close()

    with open(token_path, "w") as f:
        f.write(token)
    # Median and 99th percentile latency of each tenth of the walk,
    # shallow to deep.
    n = len(latencies_ms)
    tenths = [sorted(latencies_ms[i * n // 10:(i + 1) * n // 10])
              for i in range(10)] if n >= 10 else []
    print(json.dumps({
        "pages": n, "seconds": round(seconds, 2),
        "client_cpu_s": round(client_cpu_s, 2),
        "median_ms": round(statistics.median(latencies_ms), 3),
        "p99_ms": round(sorted(latencies_ms)[int(n * 0.99)], 3),
        "tenths_median_ms": [round(statistics.median(t), 3)
                             for t in tenths],
        "tenths_p99_ms": [round(t[int(len(t) * 0.99)], 3) for t in tenths],
    }))
    return 0


def without_token(raw):
    answer = json.loads(raw)
    answer.pop("NextToken", None)
    return answer


def sign_page(port, body_json, first, request_path, response_path):
    body = json.dumps(json.loads(body_json)).encode("utf-8")
    headers = sign.signed_headers(port, OPERATION, body)
    sign.write_request(request_path, headers, body)

    status, raw = sign.send(port, headers, body)
    if status != 200:
        sys.stderr.write("jobs.py sign: %s answered %d: %r\n"
                         % (OPERATION, status, raw[:300]))
        return 1
    why = check_page(json.loads(raw), first)
    if why:
        sys.stderr.write("jobs.py sign: %s\n" % why)
        return 1
    if os.path.exists(response_path):
        with open(response_path, "rb") as f:
            before = f.read()
        if len(before) != len(raw) or \
                without_token(before) != without_token(raw):
            sys.stderr.write("jobs.py sign: the page changed since the "
                             "start of the run\n")
            return 1
    with open(response_path, "wb") as f:
        f.write(raw)
    print(len(raw))
    return 0


def report(results_path, machine_path, walk_path, deep_page):
    deep_label = "page %s" % format(int(deep_page), ",")
    labels = {"first": "page 1", "deep": deep_label}
    out = sign.machine_table(machine_path)
    out.append("")
    table, m = sign.results_table(sign.load_results(results_path),
                                  ("first", "deep"), labels)
    out += table
    out.append("")

    tf, td = m.get(("first", "timbre")), m.get(("deep", "timbre"))
    nf, nd = m.get(("first", "nginx")), m.get(("deep", "nginx"))
    if tf and td:
        out.append(
            "- Timbre, %s / page 1: req/s **%.2f**, p50 %.2f, p99 %.2f, "
            "CPU µs/req **%.2f**" % (
                deep_label, td["rps"] / tf["rps"],
                td["p50_us"] / tf["p50_us"], td["p99_us"] / tf["p99_us"],
                td["cpu_us_per_req"] / tf["cpu_us_per_req"]))
    if nf and nd:
        out.append(
            "- nginx, %s bytes / page 1 bytes: req/s %.2f, CPU µs/req %.2f"
            % (deep_label, nd["rps"] / nf["rps"],
               nd["cpu_us_per_req"] / nf["cpu_us_per_req"]))
    for name, t, n in (("page 1", tf, nf), (deep_label, td, nd)):
        if t and n:
            out.append("- %s: Timbre/nginx req/s = **%.2f**, CPU µs/req "
                       "%.1fx nginx's" % (name, t["rps"] / n["rps"],
                                          t["cpu_us_per_req"]
                                          / n["cpu_us_per_req"]))

    with open(walk_path) as f:
        w = json.load(f)
    for key, name in (("tenths_median_ms", "median"),
                      ("tenths_p99_ms", "p99")):
        if w.get(key):
            out.append("- Walk to %s, %s latency of each tenth of the "
                       "pages, shallow to deep (ms): %s" % (
                           deep_label, name,
                           " / ".join("%.2f" % x for x in w[key])))
    print("\n".join(out))
    return 0


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "domain":
            return domain(int(argv[2]))
        if len(argv) == 7 and argv[1] == "walk":
            return walk(int(argv[2]), argv[3], int(argv[4]), int(argv[5]),
                        argv[6])
        if len(argv) == 7 and argv[1] == "sign":
            return sign_page(int(argv[2]), argv[3], int(argv[4]), argv[5],
                             argv[6])
        if len(argv) == 6 and argv[1] == "report":
            return report(argv[2], argv[3], argv[4], argv[5])
    except Exception as e:  # one line for jobs.sh's log, not a traceback
        sys.stderr.write("jobs.py %s: %s: %s\n"
                         % (argv[1], type(e).__name__, e))
        return 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

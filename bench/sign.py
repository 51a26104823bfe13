# SPDX-License-Identifier: Apache-2.0
"""Python side of the benchmark (bench/run.sh): fixtures, signing, report.

wrk cannot sign requests, and it does not need to: a SigV4 signature stays
valid for the server's allowed clock skew (15 minutes), so one request
signed here can be replayed unchanged by every wrk connection for a run of
a few seconds. run.sh signs afresh before every run, so no run comes near
the end of that window.

Commands (all traffic goes to 127.0.0.1):
  sign.py setup PORT N
      creates N domains through boto3 and prints the id of the first one.
  sign.py sign PORT OPERATION BODY_JSON REQUEST_FILE RESPONSE_FILE
      signs POST / for VoiceID.OPERATION with key test/test, region
      us-east-1, service voiceid, and Host 127.0.0.1:PORT (the value wrk
      sends); writes the request for bench/signed.lua to REQUEST_FILE,
      sends it once, insists on HTTP 200, writes the response body to
      RESPONSE_FILE and prints its size in bytes.
  sign.py report RESULTS_TSV MACHINE_TSV
      prints the markdown tables of a run: medians over the rounds.

The request file is the request as wrk will send it, minus Content-Length
(wrk adds it): a first line "METHOD PATH", one "Name: value" line per
header, an empty line, then the body bytes.

boto3 is pointed at the repository's service model through AWS_DATA_PATH
(Debian's botocore has an older Voice ID model); run.sh lays out that
folder and exports the variable.
"""

import http.client
import json
import statistics
import sys

import boto3
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REGION = "us-east-1"
KEY = "test"
SECRET = "test"
JSON_CT = "application/x-amz-json-1.0"
TIMEOUT_S = 10


def client(port):
    return boto3.client(
        "voice-id", endpoint_url="http://127.0.0.1:%d" % port,
        region_name=REGION, aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1}))


def setup(port, count):
    """Create `count` domains that look like real ones; print the first."""
    vid = client(port)
    first = None
    for i in range(count):
        domain = vid.create_domain(
            Name="bench-domain-%02d" % i,
            Description="Benchmark domain %d of %d" % (i + 1, count),
            ServerSideEncryptionConfiguration={"KmsKeyId": "bench-key"},
            Tags=[{"Key": "purpose", "Value": "benchmark"}])["Domain"]
        first = first or domain["DomainId"]
    print(first)
    return 0


def signed_headers(port, operation, body):
    """The headers of a signed POST / as a list of (name, value)."""
    host = "127.0.0.1:%d" % port
    headers = {
        "Host": host,
        "Content-Type": JSON_CT,
        "X-Amz-Target": "VoiceID." + operation,
    }
    req = AWSRequest(method="POST", url="http://%s/" % host, data=body,
                     headers=headers)
    botocore.auth.SigV4Auth(
        Credentials(KEY, SECRET), "voiceid", REGION).add_auth(req)
    return list(req.headers.items())


def send(port, headers, body):
    """Send exactly these headers once; return (status, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        conn.putrequest("POST", "/", skip_host=True,
                        skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def write_request(path, headers, body):
    """Write a request file for bench/signed.lua (format above)."""
    with open(path, "wb") as f:
        f.write(b"POST /\n")
        for name, value in headers:
            f.write(("%s: %s\n" % (name, value)).encode("ascii"))
        f.write(b"\n")
        f.write(body)


def sign(port, operation, body_json, request_path, response_path):
    body = json.dumps(json.loads(body_json)).encode("utf-8")
    headers = signed_headers(port, operation, body)
    write_request(request_path, headers, body)

    # The very request wrk will replay must succeed, or the run would
    # measure how fast the server refuses it.
    status, answer = send(port, headers, body)
    if status != 200:
        sys.stderr.write("sign.py: %s answered %d: %r\n"
                         % (operation, status, answer[:300]))
        return 1
    if operation == "ListDomains" and "NextToken" in json.loads(answer):
        sys.stderr.write("sign.py: ListDomains has a next page; the "
                         "benchmark wants one full page\n")
        return 1
    with open(response_path, "wb") as f:
        f.write(answer)
    print(len(answer))
    return 0


def median(rows, key):
    return statistics.median(float(r[key]) for r in rows)


def load_results(path):
    """The rows of run_wrk's tab-separated results, as dicts."""
    with open(path) as f:
        lines = [ln.rstrip("\n").split("\t") for ln in f if ln.strip()]
    assert "rps" in lines[0]
    return [dict(zip(lines[0], ln)) for ln in lines[1:]]


def machine_table(path):
    """The markdown table of a "name<TAB>value" file, as lines."""
    with open(path) as f:
        machine = [ln.rstrip("\n").split("\t", 1) for ln in f if ln.strip()]
    out = ["| Item | Value |", "|---|---|"]
    out += ["| %s | %s |" % (k, v) for k, v in machine]
    return out


def results_table(rows, ops, labels=None):
    """Markdown table of medians over the rounds, one line per operation
    and server, as (lines, {(op, target): median row}); 'labels' names
    the operations in the table when their tags are terse."""
    labels = labels or {}
    out = ["| Operation | Server | Req/s (median) | Req/s per round "
           "| p50 ms | p99 ms | Server CPU µs/req | Bytes/response "
           "| Non-2xx | Socket errors |",
           "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    medians = {}
    for op in ops:
        for target in ("timbre", "nginx"):
            sel = [r for r in rows if r["op"] == op and r["target"] == target]
            if not sel:
                continue
            m = {k: median(sel, k) for k in
                 ("rps", "p50_us", "p99_us", "cpu_us_per_req",
                  "bytes_per_resp")}
            medians[(op, target)] = m
            out.append(
                "| %s | %s | %.0f | %s | %.2f | %.2f | %.1f | %.0f | %d | %d |"
                % (
                    labels.get(op, op), target, m["rps"],
                    " / ".join("%.0f" % float(r["rps"]) for r in sel),
                    m["p50_us"] / 1000.0, m["p99_us"] / 1000.0,
                    m["cpu_us_per_req"], m["bytes_per_resp"],
                    sum(int(r["non2xx"]) for r in sel),
                    sum(int(r["socket_errors"]) for r in sel)))
    return out, medians


def report(results_path, machine_path):
    """Markdown tables of medians from run.sh's tab-separated results."""
    ops = ("DescribeDomain", "ListDomains")
    out = machine_table(machine_path)
    out.append("")
    table, medians = results_table(load_results(results_path), ops)
    out += table
    out.append("")
    for op in ops:
        timbre = medians.get((op, "timbre"))
        nginx = medians.get((op, "nginx"))
        if timbre and nginx and nginx["rps"]:
            out.append("- %s: Timbre/nginx = **%.2f** (aim: at least 0.50)"
                       % (op, timbre["rps"] / nginx["rps"]))
    print("\n".join(out))
    return 0


def main(argv):
    try:
        if len(argv) == 4 and argv[1] == "setup":
            return setup(int(argv[2]), int(argv[3]))
        if len(argv) == 7 and argv[1] == "sign":
            return sign(int(argv[2]), argv[3], argv[4], argv[5], argv[6])
        if len(argv) == 4 and argv[1] == "report":
            return report(argv[2], argv[3])
    except Exception as e:  # one line for run.sh's log, not a traceback
        sys.stderr.write("sign.py %s: %s: %s\n"
                         % (argv[1], type(e).__name__, e))
        return 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

# SPDX-License-Identifier: Apache-2.0
"""Python side of bench/enroll.sh: one speaker enrollment job of many
requests, from StartSpeakerEnrollmentJob to its terminal status.

The boto3 client and the machine table come from bench/sign.py; this
file adds the audio, the manifest, the job and its report. All traffic
goes to 127.0.0.1.

Commands:
  enroll.py prepare CORPUS BUCKET COUNT AUDIO_TSV
      copies the four enrollment recordings of every speaker of the eval
      corpus CORPUS (its manifest.tsv) into BUCKET (the folder of
      s3://calls in the server's data folder), writes BUCKET/manifest.json
      of COUNT requests, the speakers taken in turn and each request a
      new SpeakerId (caller-0001 ...), measures every recording with
      soxi -D into AUDIO_TSV and prints one JSON line: what one job holds.
  enroll.py domain PORT NAME
      creates a domain through boto3 and prints its id.
  enroll.py job PORT DOMAIN COUNT BUCKET TIMEOUT_S
      starts a job on s3://calls/manifest.json, polls
      DescribeSpeakerEnrollmentJob until the job ends (at most TIMEOUT_S),
      and prints one JSON line of timings. Fails unless the job is
      COMPLETED and its output file lists every request as a new
      enrollment and no errors.
  enroll.py report MACHINE_TSV PREPARE_JSON ROUNDS_TSV
      prints the markdown tables of a run. ROUNDS_TSV has one line per
      job, "round<TAB>server CPU seconds<TAB>file of the job's line".
"""

import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import sign

ROLE = "arn:aws:iam::000000000000:role/voiceid"
MANIFEST = "manifest.json"
FILES_PER_REQUEST = 4
TERMINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"}
POLL_S = 0.1


def enroll_files(corpus):
    """{speaker: [paths of -enroll01 .. -enroll04]}, speakers in order,
    only those with all four."""
    wanted = {}
    with open(os.path.join(corpus, "manifest.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            wanted.setdefault(row["speaker_id"], {})[row["utt_id"]] = \
                os.path.join(corpus, row["path"])
    out = {}
    for speaker in sorted(wanted):
        utts = ["%s-enroll%02d" % (speaker, i)
                for i in range(1, FILES_PER_REQUEST + 1)]
        if all(u in wanted[speaker] for u in utts):
            out[speaker] = [wanted[speaker][u] for u in utts]
    return out


def durations(paths):
    """Seconds of each file, from one soxi call."""
    res = subprocess.run(["soxi", "-D"] + paths, capture_output=True,
                         text=True, timeout=120, check=True)
    values = [float(v) for v in res.stdout.split()]
    if len(values) != len(paths):
        raise RuntimeError("soxi gave %d durations for %d files"
                           % (len(values), len(paths)))
    return values


def prepare(corpus, bucket, count, audio_tsv):
    speakers = enroll_files(corpus)
    if not speakers:
        raise RuntimeError("no speaker of %s has four enrollment "
                           "recordings" % corpus)
    speakers = dict(list(speakers.items())[:count])
    uris, seconds = {}, {}
    for speaker, paths in speakers.items():
        os.makedirs(os.path.join(bucket, speaker), exist_ok=True)
        uris[speaker] = []
        for path, secs in zip(paths, durations(paths)):
            name = os.path.basename(path)
            shutil.copyfile(path, os.path.join(bucket, speaker, name))
            uri = "s3://calls/%s/%s" % (speaker, name)
            uris[speaker].append(uri)
            seconds[uri] = secs
    with open(audio_tsv, "w") as f:
        f.write("s3_uri\tseconds\n")
        for uri in sorted(seconds):
            f.write("%s\t%.6f\n" % (uri, seconds[uri]))

    order = list(speakers)
    requests, per_request = [], []
    for i in range(count):
        speaker = order[i % len(order)]
        requests.append({
            "RequestId": "req-%04d" % (i + 1),
            "SpeakerId": "caller-%04d" % (i + 1),
            "AudioSpecifications": [{"S3Uri": u, "ChannelId": 0}
                                    for u in uris[speaker]]})
        per_request.append(sum(seconds[u] for u in uris[speaker]))
    with open(os.path.join(bucket, MANIFEST), "w") as f:
        json.dump({"Version": "1.0",
                   "SpeakerEnrollmentRequests": requests}, f)
    print(json.dumps({
        "requests": count, "speakers": len(order),
        "files": count * FILES_PER_REQUEST,
        "distinct_files": len(seconds),
        "audio_s": round(sum(per_request), 3),
        "request_min_s": round(min(per_request), 3),
        "request_max_s": round(max(per_request), 3),
        "manifest_bytes": os.path.getsize(os.path.join(bucket, MANIFEST)),
    }))
    return 0


def domain(port, name):
    d = sign.client(port).create_domain(
        Name=name, Description="Benchmark domain for one enrollment job",
        ServerSideEncryptionConfiguration={"KmsKeyId": "bench-key"})
    print(d["Domain"]["DomainId"])
    return 0


def check_output(path, count):
    """None if the output file enrolls every request anew, else why
    not."""
    with open(path) as f:
        out = json.load(f)
    ok = out.get("SuccessfulEnrollments", [])
    errors = out.get("Errors", [])
    if errors:
        return "%d errors, the first: %s" % (len(errors),
                                              json.dumps(errors[0]))
    want = {"req-%04d" % (i + 1): "caller-%04d" % (i + 1)
            for i in range(count)}
    got = {s.get("RequestId"): s.get("CustomerSpeakerId") for s in ok}
    if got != want or len(ok) != count:
        return "%d successful enrollments, %d expected" % (len(ok), count)
    odd = [s for s in ok if s.get("EnrollmentStatus") != "NEW_ENROLLMENT"]
    if odd:
        return "%d enrollments are not new, the first: %s" % (
            len(odd), json.dumps(odd[0]))
    return None


def job(port, domain_id, count, bucket, timeout_s):
    vid = sign.client(port)
    # The first call of a client loads the service model; that is not
    # the job's time.
    vid.describe_domain(DomainId=domain_id)
    t0 = time.perf_counter()
    started = vid.start_speaker_enrollment_job(
        DomainId=domain_id, JobName="bench-enroll",
        DataAccessRoleArn=ROLE,
        InputDataConfig={"S3Uri": "s3://calls/" + MANIFEST},
        OutputDataConfig={"S3Uri": "s3://calls/output"})["Job"]
    start_call_s = time.perf_counter() - t0
    job_id = started["JobId"]

    # Seconds at which each new PercentComplete was first seen.
    progress = []
    polls = 0
    while True:
        j = vid.describe_speaker_enrollment_job(
            DomainId=domain_id, JobId=job_id)["Job"]
        polls += 1
        now = time.perf_counter() - t0
        percent = j.get("JobProgress", {}).get("PercentComplete", 0)
        if not progress or progress[-1][1] != percent:
            progress.append((round(now, 3), percent))
        if j["JobStatus"] in TERMINAL:
            break
        if now > timeout_s:
            raise RuntimeError("job %s still %s after %d s"
                               % (job_id, j["JobStatus"], timeout_s))
        time.sleep(POLL_S)
    wall_s = time.perf_counter() - t0

    output = os.path.join(bucket, "output", job_id, MANIFEST + ".out")
    if j["JobStatus"] != "COMPLETED":
        why = "the job ended %s: %s" % (j["JobStatus"],
                                        json.dumps(j.get("FailureDetails")))
    else:
        why = check_output(output, count)
    print(json.dumps({
        "job_id": job_id, "status": j["JobStatus"],
        "requests": count, "wall_s": round(wall_s, 3),
        "start_call_s": round(start_call_s, 4),
        "created_to_ended_s": round(
            (j["EndedAt"] - j["CreatedAt"]).total_seconds(), 3)
        if "EndedAt" in j else None,
        "polls": polls, "progress": progress,
        "output": output, "problem": why,
    }))
    if why:
        sys.stderr.write("enroll.py job: %s: %s\n" % (job_id, why))
        return 1
    return 0


def tenth_s(progress, wall_s, first):
    """Seconds the first or the last tenth of the requests took, from the
    polls' progress (PercentComplete stays at 99 until the output file
    is written, so the last tenth includes writing it)."""
    if first:
        hits = [t for t, p in progress if p >= 10]
        return hits[0] if hits else None
    hits = [t for t, p in progress if p >= 90]
    return wall_s - hits[0] if hits else None


def derived(r, audio_s):
    n = r["requests"]
    return {
        "wall_s": r["wall_s"],
        "created_to_ended_s": r["created_to_ended_s"],
        "cpu_s": r["cpu_s"],
        "rps": n / r["wall_s"],
        "audio_per_cpu": audio_s / r["cpu_s"] if r["cpu_s"] else 0.0,
        "rtf": audio_s / r["wall_s"],
        "cpu_ms_per_req": r["cpu_s"] * 1000.0 / n,
        "cpu_per_wall": r["cpu_s"] / r["wall_s"],
        "first_tenth_s": tenth_s(r["progress"], r["wall_s"], True),
        "last_tenth_s": tenth_s(r["progress"], r["wall_s"], False),
    }


def fmt(v, spec):
    return "?" if v is None else spec % v


def row(label, status, d):
    return ("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |"
            % (label, status, fmt(d["wall_s"], "%.2f"),
               fmt(d["created_to_ended_s"], "%.2f"),
               fmt(d["cpu_s"], "%.2f"), fmt(d["cpu_per_wall"], "%.2f"),
               fmt(d["rps"], "%.1f"), fmt(d["audio_per_cpu"], "%.0f"),
               fmt(d["rtf"], "%.0f"), fmt(d["cpu_ms_per_req"], "%.1f"),
               fmt(d["first_tenth_s"], "%.2f"),
               fmt(d["last_tenth_s"], "%.2f")))


def report(machine_path, prepare_path, rounds_path):
    with open(prepare_path) as f:
        job_size = json.load(f)
    rounds = []
    with open(rounds_path) as f:
        for line in f:
            if not line.strip():
                continue
            _, cpu_s, path = line.rstrip("\n").split("\t")
            with open(path) as jf:
                r = json.load(jf)
            r["cpu_s"] = float(cpu_s)
            rounds.append(r)
    audio_s = job_size["audio_s"]

    out = sign.machine_table(machine_path)
    out.append("")
    out += ["| Round | Status, output | Wall s, start to end "
            "| CreatedAt to EndedAt s | Server CPU s | CPU / wall "
            "| Requests/s | Audio s per CPU-s | Real-time factor "
            "| CPU ms/request | First / last tenth s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    ds = []
    for i, r in enumerate(rounds, 1):
        d = derived(r, audio_s)
        ds.append(d)
        out.append(row(str(i), "%s, %s" % (
            r["status"], r["problem"] or "%d new, no errors"
            % r["requests"]), d))
    if len(ds) > 1:
        med = {k: statistics.median(d[k] for d in ds)
               if all(d[k] is not None for d in ds) else None
               for k in ds[0]}
        out.append(row("median", "", med))
    else:
        med = ds[0]
    out.append("")
    out.append(
        "- One job of %s requests (%.0f s of audio): **%.1f requests/s**, "
        "**%.0f s of audio per server CPU-second**, real-time factor "
        "**%.0f** (audio seconds per wall-clock second)"
        % (format(job_size["requests"], ","), audio_s, med["rps"],
           med["audio_per_cpu"], med["rtf"]))
    print("\n".join(out))
    return 0


def main(argv):
    try:
        if len(argv) == 6 and argv[1] == "prepare":
            return prepare(argv[2], argv[3], int(argv[4]), argv[5])
        if len(argv) == 4 and argv[1] == "domain":
            return domain(int(argv[2]), argv[3])
        if len(argv) == 7 and argv[1] == "job":
            return job(int(argv[2]), argv[3], int(argv[4]), argv[5],
                       float(argv[6]))
        if len(argv) == 5 and argv[1] == "report":
            return report(argv[2], argv[3], argv[4])
    except Exception as e:  # one line for enroll.sh's log, not a traceback
        sys.stderr.write("enroll.py %s: %s: %s\n"
                         % (argv[1], type(e).__name__, e))
        return 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

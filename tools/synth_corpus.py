#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Makes the synthetic telephone speech corpus Timbre's speaker model uses.

    synth_corpus.py OUT_DIR train|eval [--speakers N] [--utts-per-speaker M]
                    [--jobs J]

A pseudo-speaker is a voice recipe: a TTS engine and voice (espeak-ng
dialect + variant, a flite voice, a festival voice) with fixed pitch, speed
and a vocal-tract factor (a resampling 'speed' that scales formants and
pitch together, as a longer or shorter vocal tract would). A speaker keeps
its recipe for every utterance; between sentences only the rate (+-5 %) and
pitch (+-3 %) wander a little, and each utterance passes through its own
simulated telephone line: a +-2 % speed drift, a 300-3400 Hz band (edges
jittered by up to 50 Hz), resampling to 8 kHz, a level of -29..-21 dBFS on
active speech, white noise at 20-35 dB SNR and G.711 mu-law coding.

Train and eval recipes never meet: eval draws on two espeak-ng dialects,
a dozen espeak-ng variants and two voices (flite rms, festival ked_diphone)
that train never uses, and the sentence lists are disjoint files.

Determinism: every choice comes from random.Random seeded with a string
naming the split, the speaker index and the utterance or sentence index, so
the same arguments give byte-identical files whatever --jobs is, and a
smaller --speakers or --utts-per-speaker gives a prefix of the larger run
(the eval enrollment/test split aside, which depends on M). Sox runs
without dither; gain, noise and mu-law coding are integer or IEEE double
arithmetic in this file. Only the standard library is used.

Output: OUT_DIR/<speaker>/<utt>.wav (8 kHz mono mu-law WAV),
OUT_DIR/manifest.tsv (speaker_id, utt_id, path, seconds, recipe; one header
line; path relative to OUT_DIR) and OUT_DIR/utterances.tsv (per-utterance
channel settings and text, for debugging). tools/corpus/README.md says more.
"""

import argparse
import array
import math
import multiprocessing
import operator
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave


HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS_DIR = os.path.join(HERE, "corpus")
RATE_HZ = 8000

# Per split: speaker id prefix, default sizes, sentence file, and how often
# (every n-th speaker) the recipe comes from flite/festival, not espeak-ng.
SPLITS = {
    "train": {"prefix": "tr", "speakers": 200, "utts": 8,
              "sentences": "sentences-train.txt", "other_every": 5},
    "eval": {"prefix": "ev", "speakers": 60, "utts": 6,
             "sentences": "sentences-eval.txt", "other_every": 4},
}

# Eval speakers: the first EVAL_ENROLL utterances are for enrollment, the
# rest are test utterances. Lengths are net speech as the engine's VAD
# counts it (net_speech_s mirrors src/voice/vad.c), with a margin over what
# the engine needs (30 s to enroll, 10 s to authenticate): every
# enrollment utterance holds ENROLL_NET_S, every test one TEST_NET_S.
# Train utterances hold TRAIN_NET_S of net speech and, where a sentence
# boundary allows, at most TRAIN_MAX_S of synthesised speech.
EVAL_ENROLL = 4
ENROLL_NET_S = 9.0
TEST_NET_S = 12.0
TRAIN_NET_S = 3.0
TRAIN_MAX_S = 8.0
# Net speech is about 0.75 of the trimmed TTS audio; sentences are first
# gathered with that guess, and added one by one while net speech is short.
NET_SHARE = 0.75

ESPEAK_DIALECTS = {
    "train": ["en", "en-us", "en-gb-scotland", "en-gb-x-gbclan",
              "en-gb-x-rp", "en-029"],
    "eval": ["en-gb-x-gbcwmd", "en-us-nyc"],
}

# Human-sounding espeak-ng variants; the echoing, robotic, whispering and
# child-like ones are left out, and so is caleb (it renders like klatt).
ESPEAK_VARIANTS = {
    "train": ["m1", "m2", "m3", "m4", "m5", "m7", "m8", "f1", "f2", "f3",
              "f5", "Alex", "Alicia", "Andrea", "Andy", "AnxiousAndy",
              "Annie", "Denis", "Diogo", "Gene", "Hugo", "Jacky", "Lee",
              "Mario", "Michael", "Mike", "Nguyen", "Storm", "adam",
              "announcer", "antonio", "aunty", "belinda", "benjamin",
              "boris", "croak", "david", "ed", "edward", "grandma",
              "grandpa", "gustave", "iven", "iven2", "iven4", "john",
              "klatt", "klatt2", "klatt4", "klatt5", "marcelo", "max",
              "michel", "miguel", "pablo", "paul", "pedro", "quincy",
              "rob", "sandro", "shelby", "steph", "steph3", "victor"],
    "eval": ["m6", "f4", "Gene2", "Henrique", "iven3", "klatt3",
             "edward2", "steph2", "linda", "norbert", "robert", "travis",
             "anika"],
}

# flite and festival voices. 'f0' lists target F0 means (Hz) for voices
# whose pitch can be set; the others vary their speaking rate instead.
OTHER_VOICES = {
    "train": [
        {"engine": "flite", "voice": "kal16", "f0": [84, 98, 112]},
        {"engine": "flite", "voice": "awb", "f0": [108, 124, 140]},
        {"engine": "flite", "voice": "slt", "f0": [148, 168, 188]},
        {"engine": "festival", "voice": "kal_diphone", "f0": [94, 110, 126],
         "f0_std": 14},
        {"engine": "festival", "voice": "cmu_us_slt_arctic_hts", "f0": None},
    ],
    "eval": [
        {"engine": "flite", "voice": "rms", "f0": None},
        {"engine": "festival", "voice": "ked_diphone", "f0": [94, 110, 126],
         "f0_std": 15},
    ],
}
VTL_GRID = [0.90, 0.95, 1.00, 1.05, 1.10]
STRETCH_GRID = [0.90, 1.00, 1.10]

# Where the Debian festival voices keep their files, to fail early with the
# package name when one is missing.
FESTIVAL_VOICE_DIRS = {
    "kal_diphone": ("english/kal_diphone", "festvox-kallpc16k"),
    "ked_diphone": ("english/ked_diphone", "festvox-kdlpc16k"),
    "cmu_us_slt_arctic_hts": ("us/cmu_us_slt_arctic_hts",
                              "festvox-us-slt-hts"),
}
FESTIVAL_BATCH = 8

# Uniform 16-bit noise from random bytes has this RMS (32768 / sqrt(3)).
UNIFORM_RMS = 18918.6
ULAW_OFFSET = 40000


class CorpusError(Exception):
    pass


def parse_args(argv):
    """Returns the parsed command line, with split defaults filled in."""
    p = argparse.ArgumentParser(
        prog="synth-corpus.sh",
        description="Make Timbre's synthetic telephone speech corpus.")
    p.add_argument("out_dir")
    p.add_argument("split", choices=sorted(SPLITS))
    p.add_argument("--speakers", type=int)
    p.add_argument("--utts-per-speaker", type=int, dest="utts")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    conf = SPLITS[args.split]
    if args.speakers is None:
        args.speakers = conf["speakers"]
    if args.utts is None:
        args.utts = conf["utts"]
    if args.speakers < 1 or args.utts < 1 or args.jobs < 1:
        p.error("--speakers, --utts-per-speaker and --jobs must be >= 1")
    if args.split == "eval" and args.utts < 2:
        p.error("eval needs at least 2 utterances per speaker "
                "(enrollment and test)")
    return args


def read_sentences(split):
    path = os.path.join(CORPUS_DIR, SPLITS[split]["sentences"])
    with open(path, encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    return [line for line in lines if line]


def espeak_pool(split):
    """Returns the split's espeak-ng recipes in their fixed order.

    Eval takes every pairing that has an eval-only dialect or variant, so
    no eval recipe shares its dialect+variant with a train recipe.
    """
    if split == "train":
        pairs = [(d, v) for d in ESPEAK_DIALECTS["train"]
                 for v in ESPEAK_VARIANTS["train"]]
    else:
        all_v = ESPEAK_VARIANTS["train"] + ESPEAK_VARIANTS["eval"]
        pairs = [(d, v) for d in ESPEAK_DIALECTS["eval"] for v in all_v]
        pairs += [(d, v) for d in ESPEAK_DIALECTS["train"]
                  for v in ESPEAK_VARIANTS["eval"]]
    recipes = []
    for dialect, variant in pairs:
        rng = random.Random("%s/espeak/%s+%s" % (split, dialect, variant))
        recipes.append({
            "engine": "espeak-ng", "voice": "%s+%s" % (dialect, variant),
            "pitch": rng.randint(25, 75), "speed": rng.randint(135, 185),
            "vtl": rng.choice([0.94, 0.97, 1.00, 1.03, 1.06]),
        })
    random.Random("%s/espeak-order" % split).shuffle(recipes)
    return recipes


def other_pool(split):
    """Returns the split's flite/festival recipes, voices taken in turn."""
    per_voice = []
    for spec in OTHER_VOICES[split]:
        rng = random.Random("%s/other/%s" % (split, spec["voice"]))
        grid = []
        for vtl in VTL_GRID:
            if spec["f0"]:
                for f0 in spec["f0"]:
                    grid.append({"f0": f0, "vtl": vtl,
                                 "stretch": round(rng.uniform(0.92, 1.1),
                                                  2)})
            else:
                for stretch in STRETCH_GRID:
                    grid.append({"f0": None, "vtl": vtl,
                                 "stretch": stretch})
        rng.shuffle(grid)
        for g in grid:
            g.update({"engine": spec["engine"], "voice": spec["voice"],
                      "f0_std": spec.get("f0_std")})
        per_voice.append(grid)
    recipes = []
    for i in range(max(len(g) for g in per_voice)):
        recipes += [g[i] for g in per_voice if i < len(g)]
    return recipes


def speaker_recipes(split, n_speakers):
    """Returns n_speakers recipes; speaker k's recipe never depends on n."""
    esp = espeak_pool(split)
    oth = other_pool(split)
    every = SPLITS[split]["other_every"]
    out = []
    for k in range(n_speakers):
        prefer_other = k % every == every - 1
        if (prefer_other and oth) or not esp:
            if not oth:
                raise CorpusError(
                    "%s has only %d distinct recipes; ask for fewer "
                    "speakers" % (split, k))
            out.append(oth.pop(0))
        else:
            out.append(esp.pop(0))
    return out


def recipe_str(r):
    """Returns the recipe as one manifest field (no tabs)."""
    if r["engine"] == "espeak-ng":
        return "espeak-ng voice=%s pitch=%d speed=%d vtl=%.2f" % (
            r["voice"], r["pitch"], r["speed"], r["vtl"])
    s = "%s voice=%s" % (r["engine"], r["voice"])
    if r["f0"]:
        s += " f0=%d" % r["f0"]
    return s + " stretch=%.2f vtl=%.2f" % (r["stretch"], r["vtl"])


def check_tools(recipes):
    for cmd in ("espeak-ng", "flite", "festival", "sox"):
        if shutil.which(cmd) is None:
            raise CorpusError("%s not found; run tools/synth-corpus.sh, "
                              "which names the Debian packages" % cmd)
    voices = {r["voice"] for r in recipes if r["engine"] == "festival"}
    for v in sorted(voices):
        sub, pkg = FESTIVAL_VOICE_DIRS[v]
        if not os.path.isdir(os.path.join("/usr/share/festival/voices",
                                          sub)):
            raise CorpusError("festival voice %s missing: install the "
                              "Debian package %s" % (v, pkg))


def run(cmd, data=None):
    """Runs cmd, returning its stdout; raises CorpusError on failure."""
    env = dict(os.environ, LC_ALL="C.UTF-8")
    res = subprocess.run(cmd, input=data, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    if res.returncode != 0:
        raise CorpusError("%s failed (exit %d): %s" % (
            cmd[0], res.returncode,
            res.stderr.decode("utf-8", "replace").strip()[:300]))
    return res.stdout


def read_wav(path):
    """Returns (rate_hz, samples) of a 16-bit mono PCM WAV file."""
    try:
        with wave.open(path, "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise CorpusError("%s: expected 16-bit mono" % path)
            rate = w.getframerate()
            data = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as e:
        raise CorpusError("%s: %s" % (path, e))
    samples = array.array("h")
    samples.frombytes(data)
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        raise CorpusError("%s: no audio" % path)
    return rate, samples


def sentence_variation(split, k, j):
    """Returns the small per-sentence rate and pitch factors."""
    rng = random.Random("%s/%d/sent/%d" % (split, k, j))
    return rng.uniform(0.95, 1.05), rng.uniform(0.97, 1.03)


def synth_espeak(r, text, rate_f, pitch_f, path):
    # espeak-ng's -p is a 0-99 scale, not Hz; +-3 % of the voice's pitch
    # is about +-2 steps of it.
    pitch = min(99, max(0, round(r["pitch"] + (pitch_f - 1.0) * 67)))
    speed = round(r["speed"] * rate_f)
    # Some variants clip at the usual amplitude: halve it until they don't.
    for amp in (40, 20, 10):
        run(["espeak-ng", "-v", r["voice"], "-p", str(pitch), "-s",
             str(speed), "-a", str(amp), "-w", path, text])
        rate, samples = read_wav(path)
        if max(samples) < 32000 and min(samples) > -32000:
            break
    return rate, samples


def synth_flite(r, text, rate_f, pitch_f, path):
    cmd = ["flite", "-voice", r["voice"], "--setf",
           "duration_stretch=%.4f" % (r["stretch"] / rate_f)]
    if r["f0"]:
        cmd += ["--setf", "int_f0_target_mean=%.2f" % (r["f0"] * pitch_f)]
    run(cmd + ["-t", text, "-o", path])
    return read_wav(path)


def festival_items(r, items, tmp):
    """Returns the festival script lines that synthesise 'items'."""
    lines = ["(voice_%s)" % r["voice"]]
    for n, (text, rate_f, pitch_f) in enumerate(items):
        path = os.path.join(tmp, "fest%d.wav" % n)
        if r["f0"]:
            lines.append("(Parameter.set 'Duration_Stretch %.4f)" % (
                r["stretch"] / rate_f))
            lines.append(
                "(set! int_lr_params '((target_f0_mean %.2f) "
                "(target_f0_std %d) (model_f0_mean 170) "
                "(model_f0_std 34)))" % (r["f0"] * pitch_f, r["f0_std"]))
        else:
            # The HTS voice takes its rate as an engine option (-r, >1 is
            # faster); its F0 cannot be moved, so only the rate varies.
            lines.append(
                "(set! hts_engine_params (append %s::hts_engine_params "
                "(list (list \"-r\" %.4f))))" % (
                    r["voice"], rate_f / r["stretch"]))
        safe = text.replace("\\", " ").replace('"', " ")
        lines.append("(utt.save.wave (utt.synth (Utterance Text \"%s\")) "
                     "\"%s\" 'riff)" % (safe, path))
    return lines


def synth_festival(r, items, tmp):
    """Synthesises several sentences in one festival run (it is slow to
    start); returns their (rate, samples) in order."""
    script = os.path.join(tmp, "batch.scm")
    with open(script, "w", encoding="utf-8") as f:
        f.write("\n".join(festival_items(r, items, tmp)) + "\n")
    for n in range(len(items)):
        path = os.path.join(tmp, "fest%d.wav" % n)
        if os.path.exists(path):
            os.unlink(path)
    run(["festival", "-b", script])
    return [read_wav(os.path.join(tmp, "fest%d.wav" % n))
            for n in range(len(items))]


def trim(samples, rate):
    """Returns samples without the leading and trailing silence the engine
    adds (frames 45 dB below the loudest), keeping 30 ms either side."""
    hop = rate // 100
    sq = list(map(operator.mul, samples, samples))
    energies = [sum(sq[s:s + hop]) for s in range(0, len(sq), hop)]
    floor = max(energies) * 10 ** -4.5
    voiced = [i for i, e in enumerate(energies) if e > floor]
    if not voiced or max(energies) == 0:
        raise CorpusError("engine produced silence")
    pad = 3 * hop
    start = max(0, voiced[0] * hop - pad)
    end = min(len(samples), (voiced[-1] + 1) * hop + pad)
    return samples[start:end]


class SentenceSource:
    """Hands out one speaker's sentences, synthesised and trimmed, in the
    speaker's fixed sentence order; festival is asked in batches."""

    def __init__(self, split, k, recipe, sentences, tmp):
        self.split = split
        self.k = k
        self.recipe = recipe
        self.sentences = sentences
        self.order = random.Random("%s/%d/order" % (split, k)).sample(
            range(len(sentences)), len(sentences))
        self.tmp = tmp
        self.next_j = 0
        self.ready = []
        self.rate = None

    def _item(self, j):
        if j >= len(self.order):
            raise CorpusError("speaker %d ran out of sentences" % self.k)
        rate_f, pitch_f = sentence_variation(self.split, self.k, j)
        return self.sentences[self.order[j]], rate_f, pitch_f

    def _fill(self):
        r = self.recipe
        if r["engine"] == "festival":
            items = [self._item(self.next_j + n)
                     for n in range(FESTIVAL_BATCH)
                     if self.next_j + n < len(self.order)]
            outs = synth_festival(r, items, self.tmp)
        else:
            items = [self._item(self.next_j)]
            path = os.path.join(self.tmp, "tts.wav")
            synth = synth_espeak if r["engine"] == "espeak-ng" \
                else synth_flite
            outs = [synth(r, items[0][0], items[0][1], items[0][2], path)]
        for (text, _, _), (rate, samples) in zip(items, outs):
            if self.rate is None:
                self.rate = rate
            if rate != self.rate:
                raise CorpusError("%s changed its sample rate" % r["voice"])
            self.ready.append((text, trim(samples, rate)))
        self.next_j += len(items)

    def peek(self):
        if not self.ready:
            self._fill()
        return self.ready[0]

    def pop(self):
        item = self.peek()
        self.ready.pop(0)
        return item


def utt_plan(split, u, n_utts, rng):
    """Returns (utt_name, speech_target_s, speech_max_s, min_net_s) of
    utterance u; the first two count trimmed TTS audio."""
    if split == "train":
        return ("u%02d" % (u + 1), rng.uniform(3.5, 6.5), TRAIN_MAX_S,
                TRAIN_NET_S)
    n_enroll = min(EVAL_ENROLL, n_utts - 1)
    if u < n_enroll:
        return ("enroll%02d" % (u + 1), ENROLL_NET_S / NET_SHARE,
                float("inf"), ENROLL_NET_S)
    return ("test%02d" % (u - n_enroll + 1), TEST_NET_S / NET_SHARE,
            float("inf"), TEST_NET_S)


def compose(src, target_s, max_s, speed):
    """Takes sentences until the speech reaches target_s, stopping short of
    max_s at a sentence boundary once there are two seconds; returns
    (texts, parts, speech_s)."""
    texts, parts, total = [], [], 0.0
    while True:
        text, samples = src.peek()
        d = len(samples) / src.rate / speed
        if parts and total >= target_s:
            break
        if parts and total + d > max_s and total >= 2.0:
            break
        src.pop()
        texts.append(text)
        parts.append(samples)
        total += d
    return texts, parts, total


def assemble(parts, rate, rng):
    """Joins sentences with natural pauses and pads both ends."""
    out = array.array("h", bytes(2 * int(rate * rng.uniform(0.2, 0.5))))
    for n, p in enumerate(parts):
        if n:
            out.extend(array.array(
                "h", bytes(2 * int(rate * rng.uniform(0.25, 0.6)))))
        out.extend(p)
    out.extend(array.array("h", bytes(2 * int(rate * rng.uniform(0.2,
                                                                  0.5)))))
    return out


def telephone_band(samples, rate, speed, lo_hz, hi_hz):
    """Returns 8 kHz 16-bit samples: speed change, resampling, band-pass.

    Sox runs without dither (-D) so it is deterministic; 'vol 0.5' leaves
    headroom for filter overshoot, the level is set afterwards anyway.
    """
    raw = samples.tobytes() if sys.byteorder == "little" else \
        _swapped(samples)
    fmt = ["-e", "signed", "-b", "16", "-c", "1", "-L"]
    out = run(["sox", "-D", "-V1", "-t", "raw", "-r", str(rate)] + fmt +
              ["-", "-t", "raw", "-r", str(RATE_HZ)] + fmt +
              ["-", "vol", "0.5", "speed", "%.4f" % speed,
               "rate", "-h", str(RATE_HZ), "sinc",
               "%d-%d" % (lo_hz, hi_hz)], raw)
    res = array.array("h")
    res.frombytes(out)
    if sys.byteorder == "big":
        res.byteswap()
    return res


def _swapped(samples):
    c = array.array("h", samples)
    c.byteswap()
    return c.tobytes()


def active_rms(samples):
    """Returns the RMS over 20 ms frames within 30 dB of the loudest one,
    a cheap stand-in for the active speech level of ITU-T P.56."""
    sq = list(map(operator.mul, samples, samples))
    energies = [sum(sq[s:s + 160]) for s in range(0, len(sq) - 159, 160)]
    floor = max(energies) * 1e-3
    active = [e for e in energies if e >= floor]
    return (sum(active) / (160.0 * len(active))) ** 0.5


def ulaw_encode_value(x):
    """Returns the G.711 mu-law byte of a 16-bit sample."""
    sign = 0x80 if x < 0 else 0
    mag = min(-x if x < 0 else x, 32635) + 132
    exponent = mag.bit_length() - 8
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_table():
    """Maps sample + ULAW_OFFSET (clamped to 16 bits) to its mu-law byte;
    built once per process."""
    global _ULAW_TABLE
    if _ULAW_TABLE is None:
        _ULAW_TABLE = bytes(
            ulaw_encode_value(min(32767, max(-32768, i - ULAW_OFFSET)))
            for i in range(2 * ULAW_OFFSET + 1))
    return _ULAW_TABLE


_ULAW_TABLE = None


def ulaw_decode_value(b):
    """Returns the 16-bit sample a G.711 mu-law byte stands for."""
    b = ~b & 0xFF
    mag = ((((b & 0x0F) << 3) + 132) << ((b >> 4) & 7)) - 132
    return -mag if b & 0x80 else mag


ULAW_DECODE = [ulaw_decode_value(b) for b in range(256)]


def net_speech_s(data):
    """Returns the seconds of speech the engine's VAD would find in mu-law
    'data', by the rules of src/voice/vad.h: 25 ms frames every 10 ms,
    DC-removed energies, threshold 40 % of the way from the 10th to the
    95th percentile but at most 30 dB under the latter and over -60 dBFS,
    runs under 5 frames dropped, 3 frames of hangover."""
    x = [ULAW_DECODE[b] for b in data]
    sq = list(map(operator.mul, x, x))
    energies = []
    for s in range(0, len(x) - 199, 80):
        total = sum(x[s:s + 200])
        energies.append(sum(sq[s:s + 200]) - total * total / 200.0)
    n = len(energies)
    if n == 0:
        return 0.0
    ranked = sorted(energies)
    noise = max(ranked[int(0.10 * (n - 1))], 1e-9)
    speech = max(ranked[int(0.95 * (n - 1))], 1e-9)
    if speech < noise * 10.0:
        return 0.0
    t = math.exp(math.log(noise) + 0.4 * math.log(speech / noise))
    t = max(t, speech * 1e-3, 200 * 1e-6 * 32768.0 ** 2)
    flags = [e > t for e in energies]
    count = 0
    i = 0
    last_end = -10
    while i < n:
        if not flags[i]:
            i += 1
            continue
        start = i
        while i < n and flags[i]:
            i += 1
        if i - start >= 5:
            # A run plus its 3 frames of hangover, not counting frames an
            # earlier run's hangover already covered.
            count += min(i + 3, n) - max(start, last_end)
            last_end = min(i + 3, n)
    return count * 0.01


def ulaw_wav_bytes(data):
    """Returns a WAV file (format 7, with the fact chunk non-PCM needs)."""
    n = len(data)
    pad = b"\0" if n % 2 else b""
    fmt = struct.pack("<HHIIHHH", 7, 1, RATE_HZ, RATE_HZ, 1, 8, 0)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt +
            b"fact" + struct.pack("<II", 4, n) +
            b"data" + struct.pack("<I", n) + data + pad)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def channel(samples, rng, table):
    """Sets the level, adds noise and codes to mu-law; returns (bytes,
    level_dbfs, snr_db)."""
    level_db = rng.uniform(-29.0, -21.0)
    snr_db = rng.uniform(20.0, 35.0)
    rms = active_rms(samples)
    peak = max(max(samples), -min(samples), 1)
    gain = 32768.0 * 10 ** (level_db / 20.0) / rms
    if peak * gain > 29000:
        gain = 29000.0 / peak
        level_db = 20.0 * math.log10(rms * gain / 32768.0)
    noise_k = rms * gain * 10 ** (-snr_db / 20.0) / UNIFORM_RMS
    noise = array.array("h", rng.randbytes(2 * len(samples)))
    off = ULAW_OFFSET
    data = bytes([table[int(x * gain + y * noise_k) + off]
                  for x, y in zip(samples, noise)])
    return data, level_db, snr_db


def make_speaker(task):
    """Writes one speaker's utterances; returns its manifest and detail
    rows. Runs in a worker process."""
    split, k, recipe, n_utts, out_dir, sentences = task
    spk = "%s%04d" % (SPLITS[split]["prefix"], k + 1)
    os.makedirs(os.path.join(out_dir, spk), exist_ok=True)
    table = ulaw_table()
    rows, details = [], []
    tmp = tempfile.mkdtemp(prefix="synth-corpus-")
    try:
        src = SentenceSource(split, k, recipe, sentences, tmp)
        for u in range(n_utts):
            utt, data, detail = make_utterance(split, k, u, n_utts, recipe,
                                               src, table)
            utt = "%s-%s" % (spk, utt)
            rel = "%s/%s.wav" % (spk, utt)
            with open(os.path.join(out_dir, rel), "wb") as f:
                f.write(ulaw_wav_bytes(data))
            rows.append("%s\t%s\t%s\t%.3f\t%s" % (
                spk, utt, rel, len(data) / RATE_HZ, recipe_str(recipe)))
            details.append(utt + "\t" + detail)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows, details


def make_utterance(split, k, u, n_utts, recipe, src, table):
    """Returns (name, mu-law bytes, detail row) of utterance u. Sentences
    are added until the net speech is long enough; each try starts again
    from the same seed, so the result depends on nothing else."""
    seed = "%s/%d/utt/%d" % (split, k, u)
    plan = random.Random(seed + "/plan")
    name, target_s, max_s, min_net_s = utt_plan(split, u, n_utts, plan)
    speed = recipe["vtl"] * plan.uniform(0.98, 1.02)
    lo_hz = 300 + plan.randint(-50, 50)
    hi_hz = 3400 + plan.randint(-50, 50)
    texts, parts, speech_s = compose(src, target_s, max_s, speed)
    while True:
        rng = random.Random(seed + "/audio")
        audio = telephone_band(assemble(parts, src.rate, rng), src.rate,
                               speed, lo_hz, hi_hz)
        data, level_db, snr_db = channel(audio, rng, table)
        net_s = net_speech_s(data)
        if net_s >= min_net_s:
            break
        text, samples = src.pop()
        texts.append(text)
        parts.append(samples)
        speech_s += len(samples) / src.rate / speed
    detail = "%.2f\t%.2f\t%.4f\t%d-%d\t%.1f\t%.1f\t%s" % (
        speech_s, net_s, speed, lo_hz, hi_hz, level_db, snr_db,
        " ".join(texts))
    return name, data, detail


def write_atomic(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    os.replace(tmp, path)


def main(argv):
    args = parse_args(argv)
    started = time.monotonic()
    try:
        sentences = read_sentences(args.split)
        recipes = speaker_recipes(args.split, args.speakers)
        check_tools(recipes)
        os.makedirs(args.out_dir, exist_ok=True)
        tasks = [(args.split, k, r, args.utts, args.out_dir, sentences)
                 for k, r in enumerate(recipes)]
        rows = ["speaker_id\tutt_id\tpath\tseconds\trecipe"]
        details = ["utt_id\tspeech_s\tnet_speech_s\tspeed\tband_hz"
                   "\tlevel_dbfs\tsnr_db\ttext"]
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            for r, d in pool.imap(make_speaker, tasks, chunksize=1):
                rows += r
                details += d
        write_atomic(os.path.join(args.out_dir, "manifest.tsv"), rows)
        write_atomic(os.path.join(args.out_dir, "utterances.tsv"), details)
    except CorpusError as e:
        print("synth-corpus: %s" % e, file=sys.stderr)
        return 1
    total_s = sum(float(r.split("\t")[3]) for r in rows[1:])
    print("synth-corpus: %s: %d speakers, %d utterances, %.1f s of audio, "
          "%.1f s wall" % (args.split, args.speakers, len(rows) - 1, total_s,
                           time.monotonic() - started), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

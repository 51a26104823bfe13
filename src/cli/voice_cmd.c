/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timbre compare | embed | train | eval: the voice engine from the shell.
 *
 * compare  enrolls one voiceprint from --enroll files and scores every
 *          --test file against it, one JSON line per test, in order.
 * embed    prints a summary of one file's voiceprint.
 * train    builds a model from a corpus manifest (cli/manifest.h).
 * eval     scores every test utterance of an evaluation manifest against
 *          every enrolled speaker and prints EER, minDCF and the error
 *          rates at the model's default threshold.
 *
 * Work on many files (train, eval) is spread over --threads workers, each
 * taking the next file from a shared counter, so the output does not
 * depend on the number of threads.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/manifest.h"
#include "timbre/voice.h"
#include "util/err.h"
#include "voice/features.h"
#include "voice/modelfile.h"

#define MAX_FILES 64
#define MAX_THREADS 64
/* minDCF operating point, as in the NIST speaker recognition evaluations */
#define DCF_P_TARGET 0.01

struct common_options {
    const char *model;
    const char *corpus;
    const char *out;
    int channel;
    int threads;
    double min_enroll_s;
    double min_test_s;
};


/* Prints one JSON object on one line, members in the order they were
 * added and separated as in {"test": "T1.wav", "score": 87}, then a
 * newline; takes ownership of 'obj'. */
static void
print_json(json_t *obj)
{
    char *text = json_dumps(obj, JSON_INDENT(0) | JSON_PRESERVE_ORDER
                                 | JSON_REAL_PRECISION(6));

    if (text) {
        puts(text);
        free(text);
    }
    json_decref(obj);
}


static double
cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static double
wall_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static bool
number_arg(const char *text, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(text, &end);

    if (end == text || *end != '\0' || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}


/*
 * Parses the options every command shares; collects --enroll and --test
 * paths (for compare) and leaves other plain arguments in 'rest'. Returns
 * false after printing the problem.
 */
static bool
parse_options(int argc, char **argv, struct common_options *o,
              const char **enroll, size_t *n_enroll, const char **tests,
              size_t *n_tests, const char **rest, size_t *n_rest)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        double number;
        bool takes_value = true;

        if (strcmp(arg, "--model") == 0 && value) {
            o->model = value;
        } else if (strcmp(arg, "--corpus") == 0 && value) {
            o->corpus = value;
        } else if ((strcmp(arg, "--out") == 0 || strcmp(arg, "-o") == 0)
                   && value) {
            o->out = value;
        } else if (strcmp(arg, "--channel") == 0 && value
                   && number_arg(value, 0, 1, &number)) {
            o->channel = (int)number;
        } else if (strcmp(arg, "--threads") == 0 && value
                   && number_arg(value, 1, MAX_THREADS, &number)) {
            o->threads = (int)number;
        } else if (strcmp(arg, "--min-enroll-speech") == 0 && value
                   && number_arg(value, 0, 3600, &number)) {
            o->min_enroll_s = number;
        } else if (strcmp(arg, "--min-test-speech") == 0 && value
                   && number_arg(value, 0, 3600, &number)) {
            o->min_test_s = number;
        } else if (strcmp(arg, "--enroll") == 0 && value && enroll
                   && *n_enroll < VOICE_MAX_ENROLL_FILES) {
            enroll[(*n_enroll)++] = value;
        } else if (strcmp(arg, "--test") == 0 && value && tests
                   && *n_tests < MAX_FILES) {
            tests[(*n_tests)++] = value;
        } else if (strncmp(arg, "--", 2) != 0 && rest
                   && *n_rest < MAX_FILES) {
            rest[(*n_rest)++] = arg;
            takes_value = false;
        } else {
            fprintf(stderr, "timbre: bad, repeated too often or "
                    "incomplete option '%s'\n", arg);
            return false;
        }
        if (takes_value)
            i++;
    }
    return true;
}


static void
options_default(struct common_options *o)
{
    memset(o, 0, sizeof(*o));
    o->threads = 2;
    o->min_enroll_s = VOICE_DEFAULT_ENROLL_SPEECH_S;
    o->min_test_s = VOICE_DEFAULT_TEST_SPEECH_S;
}


static struct voice_engine *
open_engine(const char *path)
{
    struct voice_engine *e = NULL;
    char msg[512];

    if (voice_engine_open(path, &e, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "timbre: cannot load the model: %s\n", msg);
        return NULL;
    }
    return e;
}


int
cli_compare(int argc, char **argv)
{
    struct common_options o;
    const char *enroll[VOICE_MAX_ENROLL_FILES];
    const char *tests[MAX_FILES];
    struct voice_source sources[VOICE_MAX_ENROLL_FILES];
    struct voice_print enrolled = { 0 };
    struct voice_engine *e;
    size_t n_enroll = 0;
    size_t n_tests = 0;
    char msg[512];
    int status = 1;

    options_default(&o);
    if (!parse_options(argc, argv, &o, enroll, &n_enroll, tests, &n_tests,
                       NULL, NULL) || n_enroll == 0 || n_tests == 0) {
        fprintf(stderr, "usage: timbre compare [--model PATH] [--channel N]"
                " [--min-enroll-speech S] [--min-test-speech S]\n"
                "       --enroll A.wav [--enroll B.wav ...] --test T1.wav "
                "[--test T2.wav ...]\n");
        return 2;
    }
    e = open_engine(o.model);
    if (e == NULL)
        return 1;

    for (size_t i = 0; i < n_enroll; i++)
        sources[i] = (struct voice_source){ enroll[i], o.channel };
    if (voice_engine_embed(e, sources, n_enroll, o.min_enroll_s, &enrolled,
                           msg, sizeof(msg)) != 0) {
        print_json(json_pack("{s:s, s:s, s:f}", "enroll", enroll[0],
                             "error", msg, "net_speech",
                             enrolled.net_speech_s));
        goto out;
    }

    for (size_t i = 0; i < n_tests; i++) {
        struct voice_source test = { tests[i], o.channel };
        struct voice_print probe = { 0 };
        int score = 0;

        if (voice_engine_embed(e, &test, 1, o.min_test_s, &probe, msg,
                               sizeof(msg)) != 0) {
            print_json(json_pack("{s:s, s:s, s:f}", "test", tests[i],
                                 "error", msg, "net_speech",
                                 probe.net_speech_s));
            continue;
        }
        voice_engine_score(e, &enrolled, &probe, &score, NULL);
        print_json(json_pack("{s:s, s:i, s:f}", "test", tests[i], "score",
                             score, "net_speech",
                             round(probe.net_speech_s * 10) / 10));
        voice_print_clear(&probe);
    }
    status = 0;

out:
    voice_print_clear(&enrolled);
    voice_engine_free(e);
    return status;
}


int
cli_embed(int argc, char **argv)
{
    struct common_options o;
    const char *files[MAX_FILES];
    size_t n_files = 0;
    struct voice_source source;
    struct voice_print print = { 0 };
    struct voice_engine *e;
    double norm = 0;
    char msg[512];
    int status = 0;

    options_default(&o);
    if (!parse_options(argc, argv, &o, NULL, NULL, NULL, NULL, files,
                       &n_files) || n_files != 1) {
        fprintf(stderr, "usage: timbre embed [--model PATH] [--channel N] "
                "[--min-test-speech S] FILE.wav\n");
        return 2;
    }
    e = open_engine(o.model);
    if (e == NULL)
        return 1;

    source = (struct voice_source){ files[0], o.channel };
    if (voice_engine_embed(e, &source, 1, o.min_test_s, &print, msg,
                           sizeof(msg)) != 0) {
        print_json(json_pack("{s:s, s:s, s:f}", "file", files[0], "error",
                             msg, "net_speech", print.net_speech_s));
        status = 1;
        goto out;
    }

    /* A summary only: a voiceprint is biometric data and stays inside. */
    for (size_t i = 0; i < print.dim; i++)
        norm += (double)print.values[i] * print.values[i];
    print_json(json_pack("{s:s, s:s, s:i, s:f, s:f, s:i}", "file",
                         files[0], "model", print.version, "dim",
                         (int)print.dim, "norm",
                         round(sqrt(norm) * 1e4) / 1e4, "net_speech",
                         round(print.net_speech_s * 10) / 10, "threshold",
                         voice_engine_threshold(e)));

out:
    voice_print_clear(&print);
    voice_engine_free(e);
    return status;
}


/* Work shared by the threads of a batch: the next index to take. */
struct batch {
    atomic_size_t next;
    size_t n;
    void (*run)(struct batch *b, size_t index);
    void *ctx;
};


static void *
batch_worker(void *arg)
{
    struct batch *b = arg;
    size_t i;

    while ((i = atomic_fetch_add(&b->next, 1)) < b->n)
        b->run(b, i);
    return NULL;
}


/* Runs b->run for every index on 'threads' threads and waits. */
static void
batch_run(struct batch *b, int threads)
{
    pthread_t ids[MAX_THREADS];
    int started = 0;

    atomic_store(&b->next, 0);
    for (; started < threads; started++) {
        if (pthread_create(&ids[started], NULL, batch_worker, b) != 0)
            break;
    }
    if (started == 0)
        batch_worker(b);
    for (int i = 0; i < started; i++)
        pthread_join(ids[i], NULL);
}


struct train_ctx {
    const struct manifest *m;
    struct voice_features *feats;
    int *rc;
};


static void
train_features_one(struct batch *b, size_t i)
{
    struct train_ctx *t = b->ctx;
    char msg[512];

    t->rc[i] = voice_features_from_file(t->m->rows[i].path, 0,
                                        &t->feats[i], msg, sizeof(msg));
    if (t->rc[i] != 0)
        fprintf(stderr, "timbre: skipping %s\n", msg);
}


int
cli_train(int argc, char **argv)
{
    struct common_options o;
    struct voice_train_options topt;
    struct voice_train_report report;
    struct manifest m = { 0 };
    struct voice_features *feats = NULL;
    struct voice_train_utt *utts = NULL;
    struct voice_model *model = NULL;
    struct train_ctx ctx;
    struct batch b = { 0 };
    size_t n_utts = 0;
    double t0 = wall_seconds();
    double t_feats;
    char msg[512];
    int *rcs = NULL;
    int status = 1;

    options_default(&o);
    if (!parse_options(argc, argv, &o, NULL, NULL, NULL, NULL, NULL, NULL)
        || o.corpus == NULL || o.out == NULL) {
        fprintf(stderr, "usage: timbre train --corpus MANIFEST.tsv "
                "--out MODEL [--threads N]\n");
        return 2;
    }
    if (manifest_load(o.corpus, &m, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "timbre: %s\n", msg);
        return 1;
    }

    feats = calloc(m.n_rows, sizeof(*feats));
    utts = calloc(m.n_rows, sizeof(*utts));
    rcs = calloc(m.n_rows, sizeof(*rcs));
    if (feats == NULL || utts == NULL || rcs == NULL)
        goto out;

    ctx = (struct train_ctx){ &m, feats, rcs };
    b.n = m.n_rows;
    b.run = train_features_one;
    b.ctx = &ctx;
    batch_run(&b, o.threads);
    t_feats = wall_seconds() - t0;

    for (size_t i = 0; i < m.n_rows; i++) {
        if (rcs[i] != 0 || feats[i].n_frames == 0)
            continue;
        utts[n_utts++] = (struct voice_train_utt){
            .feats = feats[i].data,
            .n_frames = feats[i].n_frames,
            .speaker = m.rows[i].speaker_index,
        };
    }

    voice_train_options_default(&topt);
    if (voice_model_train(utts, n_utts, &topt, &model, msg,
                          sizeof(msg)) != 0
        || voice_model_save(model, o.out, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "timbre: training failed: %s\n", msg);
        goto out;
    }

    voice_model_train_report(model, &report);
    print_json(json_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:i, s:f, s:i, s:f, s:f}",
        "model", o.out, "version", voice_model_version(model),
        "utterances", (int)n_utts, "skipped", (int)(m.n_rows - n_utts),
        "speakers", (int)report.n_speakers,
        "threshold", voice_model_threshold(model),
        "heldout_eer", report.heldout_eer,
        "voiceprint_dim", (int)voice_model_voiceprint_dim(model),
        "seconds_features", round(t_feats * 10) / 10,
        "seconds_total", round((wall_seconds() - t0) * 10) / 10));
    status = 0;

out:
    if (status != 0 && feats == NULL)
        fprintf(stderr, "timbre: out of memory\n");
    for (size_t i = 0; feats && i < m.n_rows; i++)
        voice_features_free(&feats[i]);
    voice_model_free(model);
    free(feats);
    free(utts);
    free(rcs);
    manifest_free(&m);
    return status;
}


struct eval_ctx {
    const struct manifest *m;
    const struct voice_engine *e;
    const struct common_options *o;
    size_t enroll_utts;
    size_t *first_row;          /* per speaker: index of its first row */
    size_t *n_rows;             /* per speaker: rows it has */
    struct voice_print *enrolled;       /* per speaker */
    size_t *test_rows;          /* rows used as tests */
    struct voice_print *probes; /* per test row */
    atomic_int failures;
};


static void
eval_enroll_one(struct batch *b, size_t s)
{
    struct eval_ctx *c = b->ctx;
    struct voice_source src[VOICE_MAX_ENROLL_FILES];
    size_t n = c->n_rows[s] < c->enroll_utts ? c->n_rows[s] : c->enroll_utts;
    char msg[512];

    for (size_t i = 0; i < n; i++)
        src[i] = (struct voice_source){ c->m->rows[c->first_row[s] + i].path,
                                        0 };
    if (voice_engine_embed(c->e, src, n, c->o->min_enroll_s,
                           &c->enrolled[s], msg, sizeof(msg)) != 0) {
        fprintf(stderr, "timbre: enrollment of %s failed: %s\n",
                c->m->rows[c->first_row[s]].speaker, msg);
        atomic_fetch_add(&c->failures, 1);
    }
}


static void
eval_probe_one(struct batch *b, size_t t)
{
    struct eval_ctx *c = b->ctx;
    struct voice_source src = { c->m->rows[c->test_rows[t]].path, 0 };
    char msg[512];

    if (voice_engine_embed(c->e, &src, 1, c->o->min_test_s, &c->probes[t],
                           msg, sizeof(msg)) != 0) {
        fprintf(stderr, "timbre: test %s failed: %s\n", src.path, msg);
        atomic_fetch_add(&c->failures, 1);
    }
}


static int
compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}


/*
 * Equal error rate and normalised minimum detection cost over every
 * threshold that separates the sorted scores: a trial is accepted when
 * its score is at or above the threshold.
 */
static void
error_rates(double *tgt, size_t n_tgt, double *non, size_t n_non,
            double *eer, double *min_dcf)
{
    size_t i_t = 0;
    size_t i_n = 0;
    double best_gap = 2.0;

    qsort(tgt, n_tgt, sizeof(*tgt), compare_doubles);
    qsort(non, n_non, sizeof(*non), compare_doubles);
    *eer = 1.0;
    *min_dcf = 1.0;

    /* Step the threshold over every score, lowest first; i_t targets and
     * i_n non-targets lie below it. */
    for (;;) {
        double p_miss = (double)i_t / (double)n_tgt;
        double p_fa = (double)(n_non - i_n) / (double)n_non;
        double gap = fabs(p_miss - p_fa);
        double dcf = (p_miss * DCF_P_TARGET + p_fa * (1 - DCF_P_TARGET))
                     / DCF_P_TARGET;
        double next;

        if (gap < best_gap) {
            best_gap = gap;
            *eer = (p_miss + p_fa) / 2;
        }
        if (dcf < *min_dcf)
            *min_dcf = dcf;
        if (i_t == n_tgt && i_n == n_non)
            break;

        next = i_t < n_tgt ? tgt[i_t] : INFINITY;
        if (i_n < n_non && non[i_n] < next)
            next = non[i_n];
        while (i_t < n_tgt && tgt[i_t] <= next)
            i_t++;
        while (i_n < n_non && non[i_n] <= next)
            i_n++;
    }
}


/* Splits the manifest's rows by speaker: the first 'enroll_utts' rows of
 * each speaker enroll it, the rest are its tests. */
static int
eval_layout(struct eval_ctx *c)
{
    const struct manifest *m = c->m;
    size_t n_tests = 0;

    c->first_row = calloc(m->n_speakers, sizeof(size_t));
    c->n_rows = calloc(m->n_speakers, sizeof(size_t));
    c->enrolled = calloc(m->n_speakers, sizeof(struct voice_print));
    c->test_rows = calloc(m->n_rows, sizeof(size_t));
    c->probes = calloc(m->n_rows, sizeof(struct voice_print));
    if (!c->first_row || !c->n_rows || !c->enrolled || !c->test_rows
        || !c->probes)
        return ERR_NOMEM;

    for (size_t i = m->n_rows; i-- > 0;) {
        int s = m->rows[i].speaker_index;

        c->first_row[s] = i;
        c->n_rows[s]++;
    }
    for (size_t i = 0; i < m->n_rows; i++) {
        int s = m->rows[i].speaker_index;

        if (i - c->first_row[s] >= c->enroll_utts)
            c->test_rows[n_tests++] = i;
    }
    return (int)n_tests;
}


static void
eval_free(struct eval_ctx *c)
{
    for (size_t s = 0; c->enrolled && s < c->m->n_speakers; s++)
        voice_print_clear(&c->enrolled[s]);
    for (size_t t = 0; c->probes && t < c->m->n_rows; t++)
        voice_print_clear(&c->probes[t]);
    free(c->first_row);
    free(c->n_rows);
    free(c->enrolled);
    free(c->test_rows);
    free(c->probes);
}


int
cli_eval(int argc, char **argv)
{
    struct common_options o;
    struct manifest m = { 0 };
    struct eval_ctx c = { 0 };
    struct batch b = { 0 };
    double *tgt = NULL;
    double *non = NULL;
    size_t n_tgt = 0;
    size_t n_non = 0;
    size_t fa = 0;
    size_t fr = 0;
    double audio_s = 0;
    double cpu0;
    double cpu_s;
    double eer;
    double min_dcf;
    int threshold;
    int n_tests;
    char msg[512];
    int status = 1;

    options_default(&o);
    if (!parse_options(argc, argv, &o, NULL, NULL, NULL, NULL, NULL, NULL)
        || o.corpus == NULL) {
        fprintf(stderr, "usage: timbre eval --corpus MANIFEST.tsv "
                "[--model PATH] [--threads N]\n");
        return 2;
    }
    if (manifest_load(o.corpus, &m, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "timbre: %s\n", msg);
        return 1;
    }
    c.m = &m;
    c.o = &o;
    c.enroll_utts = 4;
    c.e = open_engine(o.model);
    if (c.e == NULL)
        goto out;
    n_tests = eval_layout(&c);
    if (n_tests <= 0) {
        fprintf(stderr, "timbre: %s has no test utterances\n", o.corpus);
        goto out;
    }
    threshold = voice_engine_threshold(c.e);

    /* Voiceprints for every enrollment and every test, timed on the CPU
     * clock of all threads together. */
    cpu0 = cpu_seconds();
    b = (struct batch){ .n = m.n_speakers, .run = eval_enroll_one,
                        .ctx = &c };
    batch_run(&b, o.threads);
    b = (struct batch){ .n = (size_t)n_tests, .run = eval_probe_one,
                        .ctx = &c };
    batch_run(&b, o.threads);
    cpu_s = cpu_seconds() - cpu0;

    tgt = malloc(m.n_rows * sizeof(*tgt));
    non = malloc(m.n_rows * m.n_speakers * sizeof(*non));
    if (tgt == NULL || non == NULL)
        goto out;

    for (size_t s = 0; s < m.n_speakers; s++)
        audio_s += c.enrolled[s].audio_s;
    for (int t = 0; t < n_tests; t++) {
        int speaker = m.rows[c.test_rows[t]].speaker_index;

        audio_s += c.probes[t].audio_s;
        for (size_t s = 0; s < m.n_speakers; s++) {
            double cosine;
            int score;

            if (voice_engine_score(c.e, &c.enrolled[s], &c.probes[t],
                                   &score, &cosine) != 0)
                continue;
            if ((int)s == speaker) {
                tgt[n_tgt++] = cosine;
                fr += score < threshold;
            } else {
                non[n_non++] = cosine;
                fa += score >= threshold;
            }
        }
    }
    if (n_tgt == 0 || n_non == 0) {
        fprintf(stderr, "timbre: no trials could be scored\n");
        goto out;
    }
    error_rates(tgt, n_tgt, non, n_non, &eer, &min_dcf);

    printf("model            %s\n", voice_engine_version(c.e));
    printf("speakers         %zu enrolled from %zu utterances each\n",
           m.n_speakers, c.enroll_utts);
    printf("trials           %zu target, %zu non-target (%d failed "
           "embeddings)\n", n_tgt, n_non, atomic_load(&c.failures));
    printf("EER              %.2f %%\n", eer * 100);
    printf("minDCF           %.4f (P_target %.2f)\n", min_dcf,
           DCF_P_TARGET);
    printf("threshold        %d: false accepts %.2f %%, false rejects "
           "%.2f %%\n", threshold, 100.0 * (double)fa / (double)n_non,
           100.0 * (double)fr / (double)n_tgt);
    printf("speed            %.0fx real time per core (%.0f s of audio "
           "in %.1f CPU s)\n", audio_s / cpu_s, audio_s, cpu_s);
    print_json(json_pack(
        "{s:s, s:i, s:i, s:f, s:f, s:i, s:f, s:f, s:f}",
        "model", voice_engine_version(c.e), "target_trials", (int)n_tgt,
        "nontarget_trials", (int)n_non, "eer", eer, "min_dcf", min_dcf,
        "threshold", threshold,
        "false_accept_rate", (double)fa / (double)n_non,
        "false_reject_rate", (double)fr / (double)n_tgt,
        "x_real_time_per_core", audio_s / cpu_s));
    status = 0;

out:
    free(tgt);
    free(non);
    eval_free(&c);
    voice_engine_free((struct voice_engine *)c.e);
    manifest_free(&m);
    return status;
}

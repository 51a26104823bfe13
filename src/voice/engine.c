/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine facade of include/timbre/voice.h: a loaded model plus the
 * steps from recordings to voiceprints and scores. Each file is decoded
 * and reduced to speech features in turn (voice/features.c), then the
 * files' features are pooled into one voiceprint (voice/modelfile.c).
 */
#include "timbre/voice.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "voice/features.h"
#include "voice/modelfile.h"

#define DEFAULT_MODEL_NAME "voice/default.model"

struct voice_engine {
    struct voice_model *model;
};


/* <folder of the running executable>/voice/default.model */
static int
default_model_path(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    if (n <= 0)
        return ERR_IO;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return ERR_IO;
    *slash = '\0';
    if ((size_t)snprintf(out, cap, "%s/%s", exe, DEFAULT_MODEL_NAME) >= cap)
        return ERR_TOOBIG;
    return 0;
}


int
voice_engine_open(const char *path, struct voice_engine **out, char *msg,
                  size_t msg_len)
{
    char fallback[PATH_MAX];
    struct voice_engine *e;
    int rc;

    if (path == NULL) {
        rc = default_model_path(fallback, sizeof(fallback));
        if (rc != 0) {
            err_message(msg, msg_len, "cannot locate the default model "
                        "next to the executable");
            return rc;
        }
        path = fallback;
    }

    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return ERR_NOMEM;
    rc = voice_model_load(path, &e->model, msg, msg_len);
    if (rc != 0) {
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}


void
voice_engine_free(struct voice_engine *e)
{
    if (e == NULL)
        return;
    voice_model_free(e->model);
    free(e);
}


const char *
voice_engine_version(const struct voice_engine *e)
{
    return voice_model_version(e->model);
}


int
voice_engine_threshold(const struct voice_engine *e)
{
    return voice_model_threshold(e->model);
}


static void
features_free_all(struct voice_features *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        voice_features_free(&f[i]);
}


int
voice_engine_embed(const struct voice_engine *e,
                   const struct voice_source *sources, size_t n,
                   double min_speech_s, struct voice_print *out,
                   char *msg, size_t msg_len)
{
    struct voice_features feats[VOICE_MAX_ENROLL_FILES];
    const float *data[VOICE_MAX_ENROLL_FILES];
    size_t n_frames[VOICE_MAX_ENROLL_FILES];
    size_t dim = voice_model_voiceprint_dim(e->model);
    double speech_s = 0;
    double audio_s = 0;
    size_t done = 0;
    float *values = NULL;
    int rc = 0;

    if (n == 0 || n > VOICE_MAX_ENROLL_FILES) {
        err_message(msg, msg_len, "a voiceprint takes 1 to %d files, not "
                    "%zu", VOICE_MAX_ENROLL_FILES, n);
        return ERR_INVAL;
    }

    for (; done < n; done++) {
        rc = voice_features_from_file(sources[done].path,
                                      sources[done].channel, &feats[done],
                                      msg, msg_len);
        if (rc != 0)
            goto out;
        data[done] = feats[done].data;
        n_frames[done] = feats[done].n_frames;
        speech_s += feats[done].net_speech_s;
        audio_s += feats[done].total_s;
    }

    memset(out, 0, sizeof(*out));
    out->net_speech_s = speech_s;
    out->audio_s = audio_s;
    if (speech_s < min_speech_s || speech_s <= 0) {
        err_message(msg, msg_len, "%.1f s of net speech, %.1f s needed",
                    speech_s, min_speech_s);
        rc = ERR_NOSPEECH;
        goto out;
    }

    values = malloc(dim * sizeof(*values));
    if (values == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    rc = voice_model_embed_files(e->model, data, n_frames, n, values);
    if (rc != 0) {
        err_message(msg, msg_len, "cannot make a voiceprint: %s",
                    err_str(rc));
        free(values);
        goto out;
    }
    snprintf(out->version, sizeof(out->version), "%s",
             voice_model_version(e->model));
    out->dim = dim;
    out->values = values;

out:
    features_free_all(feats, done);
    return rc;
}


int
voice_engine_score(const struct voice_engine *e,
                   const struct voice_print *a, const struct voice_print *b,
                   int *score, double *cosine)
{
    const char *version = voice_model_version(e->model);
    size_t dim = voice_model_voiceprint_dim(e->model);

    if (a->values == NULL || b->values == NULL || a->dim != dim
        || b->dim != dim || strcmp(a->version, version) != 0
        || strcmp(b->version, version) != 0)
        return ERR_MISMATCH;
    *score = voice_model_score(e->model, a->values, b->values, cosine);
    return 0;
}


void
voice_print_clear(struct voice_print *p)
{
    if (p == NULL)
        return;
    free(p->values);
    memset(p, 0, sizeof(*p));
}

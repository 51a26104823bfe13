/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoding and resampling of call recordings (see audio.h for the
 * contract).
 *
 * A stream is a 'source' (a file descriptor or a borrowed memory buffer,
 * both seen by libsndfile through the same virtual I/O callbacks, so files
 * and fuzz inputs take one decode path), a libsndfile handle and, for
 * every source rate but 8 kHz, a libsoxr stream resampler; they run one
 * source block at a time:
 *
 *   source --sf_readf_float--> block (interleaved, BLOCK_FRAMES frames)
 *     --pick channel, clip--> mono block --soxr_process--> pcm queue
 *     --> caller
 *
 * 8 kHz sources skip the resampler: each mono block is copied to the
 * queue as it is. The resampler takes as much of the mono block as fits
 * the empty queue, so a block may take more than one trip, and once
 * every source frame has gone in it is flushed (soxr_process with no
 * input) until it gives nothing more. The queue and the blocks have
 * fixed sizes, and soxr, asked for no more output than the queue holds,
 * takes no more input than that needs and keeps only its filter and a
 * short history, so memory does not grow with the length of the file.
 * The trips depend only on the source, never on the caller's read
 * sizes, so reading in any pieces gives the same samples.
 *
 * Why soxr's high-quality recipe (SOXR_HQ: 20-bit precision, linear
 * phase) on one thread: measured through this module with tones at every
 * supported rate, it is flat within 0.02 dB up to 3.7 kHz (the top of the
 * mel filters), 3 dB down at 3.8 kHz and more than 130 dB down from
 * 4.0 kHz on, so nothing folds back into the output band. SOXR_MQ was no
 * faster and only 0.09 dB flat at 3.7 kHz from 11.025 kHz sources. A
 * 60 s source decoded and converted at 4700 (44.1 kHz stereo) to 19000
 * (16 kHz) times real time on one core of the development machine; a new
 * stream costs about 0.1 ms to set up.
 *
 * Before libsndfile sees a byte, sniff() reads the first bytes itself:
 * only RIFF/RIFX WAVE and FLAC pass, which keeps libsndfile's other
 * parsers out of reach of untrusted input and lets the extension check
 * and the message say what the content really is. For WAV, check_riff()
 * walks the chunk list to the data chunk, because libsndfile silently
 * shortens a data chunk that runs past the end of the file and the
 * truncation would go unnoticed.
 */
#include "voice/audio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>
#include <soxr.h>

#include "util/err.h"

#define NAME_MAX_LEN 128
#define ERROR_MAX_LEN 320
/* Legitimate WAV files carry a handful of chunks before their data; a long
 * chain of tiny chunks is refused rather than walked. */
#define MAX_RIFF_CHUNKS 1024
/* 0xFFFFFFFF in the data size means "unknown length" (written by
 * recorders that stream to a pipe); libsndfile then uses the file size. */
#define RIFF_SIZE_UNKNOWN 0xFFFFFFFFu
/* The 8 kHz queue holds one mono block: an 8 kHz source fills it in one
 * go, the resampler in pieces of at most this many samples. */
#define PCM_CAP VOICE_AUDIO_BLOCK_FRAMES
/* soxr's text for a failed allocation (soxr.c, 0.1.x). */
#define SOXR_NOMEM_TEXT "malloc failed"

enum container {
    CONTAINER_NONE,
    CONTAINER_WAV,
    CONTAINER_FLAC,
};

struct source {
    int fd;                         /* -1 for a memory source */
    const unsigned char *mem;       /* borrowed */
    int64_t size;
    int64_t pos;
    int err;                        /* errno of the first failed read */
};

struct voice_audio {
    struct source src;
    SNDFILE *sf;
    soxr_t resampler;               /* NULL for 8 kHz sources */
    int channels;
    int channel;
    int64_t frames_declared;        /* -1: the header leaves it open */
    int64_t frames_max;             /* VOICE_AUDIO_MAX_DURATION_S */
    int64_t frames_read;
    float *block;                   /* BLOCK_FRAMES * channels */
    float *mono;                    /* BLOCK_FRAMES, the selected channel */
    size_t mono_len;
    size_t mono_pos;                /* first sample not yet resampled */
    float *pcm;                     /* PCM_CAP samples at 8 kHz, queued */
    size_t pcm_len;
    size_t pcm_pos;
    int eof;                        /* every declared frame was decoded */
    int done;                       /* eof, and every sample went out */
    int failed;                     /* sticky ERR_* of voice_audio_read */
    float last_sample;              /* previous sample of the channel */
    int64_t n_rail;                 /* samples stuck at full scale */
    char name[NAME_MAX_LEN];
    char error[ERROR_MAX_LEN];
};

static const int supported_rates_hz[] = {
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000,
};


static sf_count_t
vio_get_filelen(void *user)
{
    const struct source *s = user;

    return s->size;
}


static sf_count_t
vio_seek(sf_count_t offset, int whence, void *user)
{
    struct source *s = user;
    int64_t base;

    switch (whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = s->pos;
        break;
    case SEEK_END:
        base = s->size;
        break;
    default:
        return -1;
    }

    /* Positions past the end are allowed (reads there return 0); the
     * bounds keep the arithmetic clear of overflow. */
    if (offset < -base || offset > INT64_MAX / 2 - base)
        return -1;
    s->pos = base + offset;
    return s->pos;
}


static sf_count_t
vio_read(void *ptr, sf_count_t count, void *user)
{
    struct source *s = user;
    unsigned char *dst = ptr;
    int64_t want;
    int64_t got = 0;
    ssize_t r;

    if (count <= 0 || s->pos >= s->size)
        return 0;
    want = count < s->size - s->pos ? count : s->size - s->pos;

    if (s->fd < 0) {
        memcpy(dst, s->mem + s->pos, (size_t)want);
        s->pos += want;
        return want;
    }

    while (got < want) {
        r = pread(s->fd, dst + got, (size_t)(want - got), s->pos + got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            if (s->err == 0)
                s->err = errno;
            break;
        }
        if (r == 0)
            break;
        got += r;
    }
    s->pos += got;
    return got;
}


static sf_count_t
vio_write(const void *ptr, sf_count_t count, void *user)
{
    return 0;
}


static sf_count_t
vio_tell(void *user)
{
    const struct source *s = user;

    return s->pos;
}


static SF_VIRTUAL_IO source_vio = {
    .get_filelen = vio_get_filelen,
    .seek = vio_seek,
    .read = vio_read,
    .write = vio_write,
    .tell = vio_tell,
};


/* Reads exactly 'n' bytes at 'off'; returns 0, or -1 when they are not
 * all there (or the read failed: see s->err). */
static int
source_read_at(struct source *s, int64_t off, void *buf, size_t n)
{
    s->pos = off;
    if (vio_read(buf, (sf_count_t)n, s) != (sf_count_t)n)
        return -1;
    return 0;
}


static uint32_t
get_u32(const unsigned char *p, int big_endian)
{
    if (big_endian)
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | p[3];
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
           (uint32_t)p[1] << 8 | p[0];
}


/* Says which container the first bytes announce; an ID3v2 tag in front of
 * FLAC is skipped as libsndfile does. */
static enum container
sniff(struct source *s)
{
    unsigned char head[12];
    unsigned char magic[4];
    int64_t off;

    if (source_read_at(s, 0, head, sizeof head) != 0)
        return CONTAINER_NONE;
    if ((memcmp(head, "RIFF", 4) == 0 || memcmp(head, "RIFX", 4) == 0) &&
        memcmp(head + 8, "WAVE", 4) == 0)
        return CONTAINER_WAV;
    if (memcmp(head, "fLaC", 4) == 0)
        return CONTAINER_FLAC;
    if (memcmp(head, "ID3", 3) != 0)
        return CONTAINER_NONE;

    off = 10 + ((int64_t)(head[6] & 0x7f) << 21 |
                (int64_t)(head[7] & 0x7f) << 14 |
                (int64_t)(head[8] & 0x7f) << 7 | (head[9] & 0x7f));
    if (source_read_at(s, off, magic, sizeof magic) != 0)
        return CONTAINER_NONE;
    return memcmp(magic, "fLaC", 4) == 0 ? CONTAINER_FLAC : CONTAINER_NONE;
}


/* Walks the RIFF chunks to the data chunk and refuses one that declares
 * more bytes than the file holds. A file without a reachable data chunk
 * is left for libsndfile to refuse. */
static int
check_riff(struct source *s, const char *name, char *msg, size_t msg_len)
{
    unsigned char head[8];
    int big_endian;
    int64_t off = 12;
    int64_t avail;
    uint32_t size;

    if (source_read_at(s, 0, head, 4) != 0)
        return 0;
    big_endian = memcmp(head, "RIFX", 4) == 0;

    for (int i = 0; i < MAX_RIFF_CHUNKS; i++) {
        if (off > s->size - 8 || source_read_at(s, off, head, 8) != 0)
            return 0;
        size = get_u32(head + 4, big_endian);
        if (memcmp(head, "data", 4) != 0) {
            off += 8 + (int64_t)size + (size & 1);
            continue;
        }

        avail = s->size - (off + 8);
        if (size != RIFF_SIZE_UNKNOWN && (int64_t)size > avail) {
            err_message(msg, msg_len, "%s: the WAV header declares %u bytes "
                        "of audio but only %lld are present (truncated "
                        "file)", name, (unsigned)size, (long long)avail);
            return ERR_INVAL;
        }
        return 0;
    }
    err_message(msg, msg_len, "%s: more than %d RIFF chunks before the "
                "audio data", name, MAX_RIFF_CHUNKS);
    return ERR_INVAL;
}


/* The container the file name's extension promises, if any. */
static enum container
extension_container(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (dot == NULL)
        return CONTAINER_NONE;
    if (strcasecmp(dot, ".wav") == 0 || strcasecmp(dot, ".wave") == 0)
        return CONTAINER_WAV;
    if (strcasecmp(dot, ".flac") == 0)
        return CONTAINER_FLAC;
    return CONTAINER_NONE;
}


static const char *
container_label(enum container c)
{
    switch (c) {
    case CONTAINER_WAV:
        return "WAV";
    case CONTAINER_FLAC:
        return "FLAC";
    default:
        return "WAV or FLAC";
    }
}


/* The label of a supported encoding, or NULL for an unsupported one. */
static const char *
format_label(int format)
{
    int major = format & SF_FORMAT_TYPEMASK;
    int sub = format & SF_FORMAT_SUBMASK;

    if (major == SF_FORMAT_FLAC) {
        if (sub == SF_FORMAT_PCM_S8 || sub == SF_FORMAT_PCM_16 ||
            sub == SF_FORMAT_PCM_24)
            return "flac";
        return NULL;
    }
    if (major != SF_FORMAT_WAV && major != SF_FORMAT_WAVEX)
        return NULL;

    switch (sub) {
    case SF_FORMAT_PCM_U8:  return "wav pcm8";
    case SF_FORMAT_PCM_16:  return "wav pcm16";
    case SF_FORMAT_PCM_24:  return "wav pcm24";
    case SF_FORMAT_PCM_32:  return "wav pcm32";
    case SF_FORMAT_FLOAT:   return "wav float";
    case SF_FORMAT_DOUBLE:  return "wav double";
    case SF_FORMAT_ULAW:    return "wav mu-law";
    case SF_FORMAT_ALAW:    return "wav a-law";
    default:                return NULL;
    }
}


static const char *
subtype_name(int format)
{
    SF_FORMAT_INFO fi;

    memset(&fi, 0, sizeof fi);
    fi.format = format & SF_FORMAT_SUBMASK;
    if (sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof fi) != 0 ||
        fi.name == NULL)
        return "unknown";
    return fi.name;
}


static int
rate_supported(int rate_hz)
{
    size_t n = sizeof supported_rates_hz / sizeof supported_rates_hz[0];

    for (size_t i = 0; i < n; i++) {
        if (supported_rates_hz[i] == rate_hz)
            return 1;
    }
    return 0;
}


/* Checks what libsndfile found in the header against what the engine
 * accepts. */
static int
check_stream(const SF_INFO *si, const char *name, int channel, char *msg,
             size_t msg_len)
{
    if (format_label(si->format) == NULL) {
        err_message(msg, msg_len, "%s: unsupported encoding %s (supported: "
                    "WAV PCM 8/16/24/32-bit, float, mu-law, A-law; FLAC)",
                    name, subtype_name(si->format));
        return ERR_INVAL;
    }
    if (!rate_supported(si->samplerate)) {
        err_message(msg, msg_len, "%s: unsupported sample rate %d Hz "
                    "(supported: 8000, 11025, 12000, 16000, 22050, 24000, "
                    "32000, 44100, 48000)", name, si->samplerate);
        return ERR_INVAL;
    }
    if (si->channels < 1 || si->channels > VOICE_AUDIO_MAX_CHANNELS) {
        err_message(msg, msg_len, "%s: %d channels, at most %d are "
                    "supported", name, si->channels,
                    VOICE_AUDIO_MAX_CHANNELS);
        return ERR_INVAL;
    }
    if (channel != 0 && channel != 1) {
        err_message(msg, msg_len, "%s: channel %d requested; only channel "
                    "0 or 1 can be selected", name, channel);
        return ERR_INVAL;
    }
    if (channel >= si->channels) {
        err_message(msg, msg_len, "%s: channel %d requested but the file "
                    "has %d channel%s", name, channel, si->channels,
                    si->channels == 1 ? "" : "s");
        return ERR_INVAL;
    }
    if (si->frames <= 0) {
        err_message(msg, msg_len, "%s: contains no audio", name);
        return ERR_INVAL;
    }
    /* A FLAC stream may leave its length open; the limit is then enforced
     * while decoding. */
    if (si->frames != SF_COUNT_MAX &&
        si->frames > (sf_count_t)VOICE_AUDIO_MAX_DURATION_S *
                     si->samplerate) {
        err_message(msg, msg_len, "%s: lasts %.0f s, over the %d s limit",
                    name, (double)si->frames / si->samplerate,
                    VOICE_AUDIO_MAX_DURATION_S);
        return ERR_TOOBIG;
    }
    return 0;
}


/* Refuses content that is not WAV or FLAC, or that its name mislabels. */
static int
check_container(struct source *s, const char *name, char *msg,
                size_t msg_len)
{
    enum container found = sniff(s);
    enum container named = extension_container(name);

    if (s->err != 0) {
        err_message(msg, msg_len, "%s: cannot read: %s", name,
                    strerror(s->err));
        return ERR_IO;
    }
    if (found == CONTAINER_NONE) {
        err_message(msg, msg_len, "%s: not a %s file", name,
                    container_label(named));
        return ERR_INVAL;
    }
    if (named != CONTAINER_NONE && named != found) {
        err_message(msg, msg_len, "%s: mislabelled: the name says %s but "
                    "the content is %s", name, container_label(named),
                    container_label(found));
        return ERR_INVAL;
    }
    if (found == CONTAINER_WAV)
        return check_riff(s, name, msg, msg_len);
    return 0;
}


static void
copy_name(char *dst, const char *name)
{
    const char *slash = strrchr(name, '/');

    if (slash != NULL && slash[1] != '\0')
        name = slash + 1;
    snprintf(dst, NAME_MAX_LEN, "%s", name);
}


static void
fill_info(struct voice_audio_info *info, const SF_INFO *si)
{
    if (info == NULL)
        return;
    info->source_rate_hz = si->samplerate;
    info->channels = si->channels;
    info->format = format_label(si->format);
    if (si->frames == SF_COUNT_MAX) {
        info->frames = -1;
        info->duration_s = -1.0;
        return;
    }
    info->frames = si->frames;
    info->duration_s = (double)si->frames / si->samplerate;
}


/* Creates the resampler from 'rate_hz' to 8 kHz (see the top of the file
 * for the choice of quality). */
static int
start_resampler(struct voice_audio *a, int rate_hz, char *msg,
                size_t msg_len)
{
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
    soxr_error_t e = NULL;

    a->resampler = soxr_create(rate_hz, VOICE_AUDIO_RATE_HZ, 1, &e, &io,
                               &quality, &runtime);
    if (a->resampler != NULL && e == NULL)
        return 0;

    /* soxr only fails here on memory or on a setting it refuses, which
     * would be a mistake in this file. */
    if (e != NULL && strcmp(e, SOXR_NOMEM_TEXT) == 0) {
        err_message(msg, msg_len, "%s: out of memory", a->name);
        return ERR_NOMEM;
    }
    err_message(msg, msg_len, "%s: cannot set up the resampler from %d Hz: "
                "%s", a->name, rate_hz, soxr_strerror(e));
    return ERR_INTERNAL;
}


/* Opens 'a->src' with libsndfile and prepares the buffers; on failure
 * leaves what it made in 'a' for voice_audio_close(). */
static int
stream_start(struct voice_audio *a, int channel, SF_INFO *si, char *msg,
             size_t msg_len)
{
    int rc;

    rc = check_container(&a->src, a->name, msg, msg_len);
    if (rc != 0)
        return rc;

    a->src.pos = 0;
    memset(si, 0, sizeof *si);
    a->sf = sf_open_virtual(&source_vio, SFM_READ, si, &a->src);
    if (a->sf == NULL) {
        if (a->src.err != 0) {
            err_message(msg, msg_len, "%s: cannot read: %s", a->name,
                        strerror(a->src.err));
            return ERR_IO;
        }
        /* libsndfile keeps the reason of a failed open in a process-wide
         * variable, so under concurrent opens it may be another's. */
        err_message(msg, msg_len, "%s: damaged %s header (%s)", a->name,
                    container_label(sniff(&a->src)),
                    sf_error_number(sf_error(NULL)));
        return ERR_INVAL;
    }

    rc = check_stream(si, a->name, channel, msg, msg_len);
    if (rc != 0)
        return rc;

    a->channels = si->channels;
    a->channel = channel;
    a->frames_declared = si->frames == SF_COUNT_MAX ? -1 : si->frames;
    a->frames_max = (int64_t)VOICE_AUDIO_MAX_DURATION_S * si->samplerate;
    a->block = malloc(sizeof *a->block * VOICE_AUDIO_BLOCK_FRAMES *
                      (size_t)si->channels);
    a->mono = malloc(sizeof *a->mono * VOICE_AUDIO_BLOCK_FRAMES);
    a->pcm = malloc(sizeof *a->pcm * PCM_CAP);
    if (a->block == NULL || a->mono == NULL || a->pcm == NULL) {
        err_message(msg, msg_len, "%s: out of memory", a->name);
        return ERR_NOMEM;
    }

    if (si->samplerate == VOICE_AUDIO_RATE_HZ)
        return 0;
    return start_resampler(a, si->samplerate, msg, msg_len);
}


static int
open_source(struct voice_audio *a, int channel, struct voice_audio **out,
            struct voice_audio_info *info, char *msg, size_t msg_len)
{
    SF_INFO si;
    int rc;

    if (a->src.size == 0) {
        err_message(msg, msg_len, "%s: the file is empty", a->name);
        rc = ERR_INVAL;
        goto fail;
    }
    if (a->src.size > VOICE_AUDIO_MAX_BYTES) {
        err_message(msg, msg_len, "%s: %lld bytes, over the %d-byte limit",
                    a->name, (long long)a->src.size, VOICE_AUDIO_MAX_BYTES);
        rc = ERR_TOOBIG;
        goto fail;
    }

    rc = stream_start(a, channel, &si, msg, msg_len);
    if (rc != 0)
        goto fail;

    fill_info(info, &si);
    *out = a;
    return 0;

fail:
    voice_audio_close(a);
    return rc;
}


int
voice_audio_open(const char *path, int channel, struct voice_audio **out,
                 struct voice_audio_info *info, char *msg, size_t msg_len)
{
    struct voice_audio *a;
    struct stat st;

    a = calloc(1, sizeof *a);
    if (a == NULL) {
        err_message(msg, msg_len, "out of memory");
        return ERR_NOMEM;
    }
    a->src.fd = -1;
    copy_name(a->name, path);

    a->src.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (a->src.fd < 0) {
        err_message(msg, msg_len, "%s: cannot open: %s", a->name,
                    strerror(errno));
        goto io_fail;
    }
    if (fstat(a->src.fd, &st) != 0) {
        err_message(msg, msg_len, "%s: cannot stat: %s", a->name,
                    strerror(errno));
        goto io_fail;
    }
    if (!S_ISREG(st.st_mode)) {
        err_message(msg, msg_len, "%s: not a regular file", a->name);
        goto io_fail;
    }
    a->src.size = st.st_size;
    return open_source(a, channel, out, info, msg, msg_len);

io_fail:
    voice_audio_close(a);
    return ERR_IO;
}


int
voice_audio_open_memory(const void *data, size_t len, const char *name,
                        int channel, struct voice_audio **out,
                        struct voice_audio_info *info, char *msg,
                        size_t msg_len)
{
    struct voice_audio *a;

    a = calloc(1, sizeof *a);
    if (a == NULL) {
        err_message(msg, msg_len, "out of memory");
        return ERR_NOMEM;
    }
    a->src.fd = -1;
    a->src.mem = data;
    /* Anything over the limit is refused, so clamping cannot mislead. */
    a->src.size = len > (size_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)len;
    copy_name(a->name, name != NULL ? name : "audio");
    return open_source(a, channel, out, info, msg, msg_len);
}


static float
clip(float x)
{
    if (isnan(x))
        return 0.0f;
    if (x > 1.0f)
        return 1.0f;
    if (x < -1.0f)
        return -1.0f;
    return x;
}


static int
fail(struct voice_audio *a, int rc)
{
    a->failed = rc;
    return rc;
}


/* Refuses a recording of which too much sat at full scale: its voice is
 * distorted beyond what a voiceprint should be made from. */
static int
check_clipping(struct voice_audio *a)
{
    double share = a->frames_read > 0
                       ? (double)a->n_rail / (double)a->frames_read : 0;

    if (share <= VOICE_AUDIO_MAX_CLIPPED_SHARE)
        return 0;
    snprintf(a->error, sizeof a->error, "%s: the recording is clipped "
             "(%.1f%% of samples stuck at full scale); record it at a "
             "lower level", a->name, share * 100);
    return fail(a, ERR_INVAL);
}


/* Decodes the next source block and stores its selected channel in
 * 'a->mono'; returns the number of frames in '*n'. Sets 'a->eof' once
 * every declared frame has been decoded, or, for a stream of open length,
 * when the decoder stops. */
static int
fill_mono(struct voice_audio *a, size_t *n)
{
    sf_count_t want = VOICE_AUDIO_BLOCK_FRAMES;
    sf_count_t got;
    int open_length = a->frames_declared < 0;

    if (!open_length && a->frames_declared - a->frames_read < want)
        want = a->frames_declared - a->frames_read;
    got = sf_readf_float(a->sf, a->block, want);

    if (a->src.err != 0) {
        snprintf(a->error, sizeof a->error, "%s: cannot read: %s", a->name,
                 strerror(a->src.err));
        return fail(a, ERR_IO);
    }
    if (sf_error(a->sf) != SF_ERR_NO_ERROR) {
        snprintf(a->error, sizeof a->error, "%s: the audio data is "
                 "truncated or corrupt after %lld of %lld frames (%s)",
                 a->name, (long long)a->frames_read,
                 (long long)a->frames_declared, sf_strerror(a->sf));
        return fail(a, ERR_INVAL);
    }
    if (got <= 0 && open_length) {
        a->eof = 1;
        *n = 0;
        return check_clipping(a);
    }
    if (got <= 0) {
        snprintf(a->error, sizeof a->error, "%s: the audio data ends after "
                 "%lld of %lld frames (truncated file)", a->name,
                 (long long)a->frames_read, (long long)a->frames_declared);
        return fail(a, ERR_INVAL);
    }
    if (a->frames_read + got > a->frames_max) {
        snprintf(a->error, sizeof a->error, "%s: decodes to more than the "
                 "%d s limit", a->name, VOICE_AUDIO_MAX_DURATION_S);
        return fail(a, ERR_TOOBIG);
    }

    for (sf_count_t i = 0; i < got; i++) {
        float v = clip(a->block[i * a->channels + a->channel]);

        /* A clipped signal sits on the rail for several samples; speech
         * at a high but safe level passes full scale only in single
         * samples. */
        if (fabsf(v) >= VOICE_AUDIO_RAIL_LEVEL && v == a->last_sample)
            a->n_rail++;
        a->last_sample = v;
        a->mono[i] = v;
    }
    a->frames_read += got;
    if (!open_length && a->frames_read >= a->frames_declared)
        a->eof = 1;
    *n = (size_t)got;
    return a->eof ? check_clipping(a) : 0;
}


/* Resamples what the resampler will take of the pending mono samples into
 * the empty queue and stores how many 8 kHz samples came out in
 * '*n_out'; with none pending (the source has ended) it flushes instead,
 * and 0 then means the resampler is drained. */
static int
resample(struct voice_audio *a, size_t *n_out)
{
    const float *in = NULL;
    size_t n_in = 0;
    size_t used = 0;
    size_t made = 0;
    soxr_error_t e;

    if (a->mono_pos < a->mono_len) {
        in = a->mono + a->mono_pos;
        n_in = a->mono_len - a->mono_pos;
    }

    /* With a place for the input count, soxr takes only as much input as
     * the output room needs, so its own buffer stays small. */
    e = soxr_process(a->resampler, in, n_in, in != NULL ? &used : NULL,
                     a->pcm, PCM_CAP, &made);
    if (e != NULL) {
        snprintf(a->error, sizeof a->error, "%s: resampling failed: %s",
                 a->name, e);
        return fail(a, ERR_INTERNAL);
    }
    if (in != NULL && used == 0 && made == 0) {
        snprintf(a->error, sizeof a->error, "%s: resampling failed: the "
                 "resampler took no input", a->name);
        return fail(a, ERR_INTERNAL);
    }

    a->mono_pos += used;
    *n_out = made;
    return 0;
}


/* Refills the empty 8 kHz queue: decodes the next source block when the
 * last one has been used up, then copies it (8 kHz sources) or runs the
 * resampler once. Sets 'a->done' once nothing more will come. */
static int
produce(struct voice_audio *a)
{
    size_t n;
    int flushing;
    int rc;

    if (a->mono_pos == a->mono_len && !a->eof) {
        rc = fill_mono(a, &n);
        if (rc != 0)
            return rc;
        a->mono_len = n;
        a->mono_pos = 0;
    }

    if (a->resampler == NULL) {
        n = a->mono_len - a->mono_pos;
        memcpy(a->pcm, a->mono + a->mono_pos, n * sizeof *a->pcm);
        a->mono_pos = a->mono_len;
        a->done = a->eof;
    } else {
        /* Only a flush that gives nothing means the end: the call that
         * takes the last input may give nothing too. */
        flushing = a->mono_pos == a->mono_len;
        rc = resample(a, &n);
        if (rc != 0)
            return rc;
        a->done = flushing && n == 0;
        /* The filter overshoots a little on full-scale input. */
        for (size_t i = 0; i < n; i++)
            a->pcm[i] = clip(a->pcm[i]);
    }

    a->pcm_len = n;
    a->pcm_pos = 0;
    return 0;
}


int
voice_audio_read(struct voice_audio *a, float *out, size_t cap,
                 size_t *n_out)
{
    size_t produced = 0;
    size_t n;
    int rc;

    if (a->failed != 0)
        return a->failed;

    while (produced < cap) {
        if (a->pcm_pos == a->pcm_len) {
            if (a->done)
                break;
            rc = produce(a);
            if (rc != 0)
                return rc;
            continue;
        }
        n = a->pcm_len - a->pcm_pos;
        if (n > cap - produced)
            n = cap - produced;
        memcpy(out + produced, a->pcm + a->pcm_pos, n * sizeof *out);
        a->pcm_pos += n;
        produced += n;
    }
    *n_out = produced;
    return 0;
}



const char *
voice_audio_error(const struct voice_audio *a)
{
    return a->error;
}


void
voice_audio_close(struct voice_audio *a)
{
    if (a == NULL)
        return;
    if (a->resampler != NULL)
        soxr_delete(a->resampler);
    if (a->sf != NULL)
        sf_close(a->sf);
    if (a->src.fd >= 0)
        close(a->src.fd);
    free(a->block);
    free(a->mono);
    free(a->pcm);
    free(a);
}


int
voice_audio_load(const char *path, int channel, float **samples, size_t *n,
                 struct voice_audio_info *info, char *msg, size_t msg_len)
{
    struct voice_audio *a = NULL;
    struct voice_audio_info inf;
    float *buf = NULL;
    float *grown;
    size_t len = 0;
    size_t cap;
    size_t got;
    int rc;

    rc = voice_audio_open(path, channel, &a, &inf, msg, msg_len);
    if (rc != 0)
        return rc;

    /* The resampler's output length is the duration times 8 kHz give or
     * take a few samples; the slack avoids a reallocation. */
    cap = inf.duration_s < 0.0 ? 60 * VOICE_AUDIO_RATE_HZ :
          (size_t)(inf.duration_s * VOICE_AUDIO_RATE_HZ) + 1024;
    buf = malloc(cap * sizeof *buf);
    if (buf == NULL)
        goto nomem;

    for (;;) {
        if (len == cap) {
            grown = realloc(buf, 2 * cap * sizeof *buf);
            if (grown == NULL)
                goto nomem;
            buf = grown;
            cap *= 2;
        }
        rc = voice_audio_read(a, buf + len, cap - len, &got);
        if (rc != 0) {
            err_message(msg, msg_len, "%s", voice_audio_error(a));
            goto out;
        }
        if (got == 0)
            break;
        len += got;
    }

    *samples = buf;
    *n = len;
    buf = NULL;
    if (info != NULL)
        *info = inf;
    goto out;

nomem:
    err_message(msg, msg_len, "%s: out of memory", a->name);
    rc = ERR_NOMEM;
out:
    free(buf);
    voice_audio_close(a);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Voice ID service model as C tables: every shape, member and operation
 * of model/voiceid-2021-09-27.json with its constraints.
 *
 * The tables live in model_gen.c, which tools/gen_model.py writes from the
 * reduced model; nothing here is edited by hand except this header and the
 * lookups in model.c. Everything is static const data: shapes point at each
 * other directly, so walking a request never allocates and any thread may
 * read the tables at any time.
 *
 * Invariants the generator guarantees:
 *   - model_shapes, model_operations and every shape's members are sorted
 *     by strcmp of their names (the lookups bisect);
 *   - every shape pointer is non-NULL except an operation's absent output
 *     and the fields that do not apply to a shape's type;
 *   - pattern_index is an index into model_patterns whenever pattern is
 *     set, and model_patterns[pattern_index] is the same text;
 *   - enum_values keep the model's order (messages list them that way).
 *
 * The model's patterns are Java regular expressions; validate.c compiles
 * them for PCRE2. min and max mean length in code points for strings,
 * element counts for lists and maps, and value bounds for numbers.
 */
#ifndef TIMBRE_API_MODEL_H
#define TIMBRE_API_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum model_type {
    MODEL_STRUCTURE,
    MODEL_LIST,
    MODEL_MAP,
    MODEL_STRING,
    MODEL_INTEGER,      /* 32-bit signed, as in the Smithy data model */
    MODEL_LONG,         /* 64-bit signed */
    MODEL_BOOLEAN,
    MODEL_TIMESTAMP,    /* epoch seconds on the wire, fractions allowed */
    MODEL_FLOAT,
    MODEL_DOUBLE,
    MODEL_BLOB,         /* base64 text on the wire */
};

struct model_shape;

struct model_member {
    const char *name;
    const struct model_shape *shape;
    bool required;
    bool idempotency_token;
};

struct model_shape {
    const char *name;
    enum model_type type;
    bool has_min;
    bool has_max;
    int64_t min;
    int64_t max;
    const char *pattern;            /* model text, NULL if none */
    size_t pattern_index;           /* into model_patterns, if pattern */
    const char *const *enum_values; /* NULL unless an enum string */
    size_t n_enum;
    const struct model_member *members; /* structure; NULL if none */
    size_t n_members;
    const struct model_shape *member;   /* list element */
    const struct model_shape *key;      /* map key */
    const struct model_shape *value;    /* map value */
    bool exception;                 /* an error shape */
    bool fault;                     /* the server's fault: HTTP 500 */
    bool sensitive;                 /* never echo or log its values */
};

struct model_operation {
    const char *name;                   /* "CreateDomain" */
    const struct model_shape *input;
    const struct model_shape *output;   /* NULL if the operation has none */
    const struct model_shape *const *errors;
    size_t n_errors;
    bool idempotent;
};

/* The metadata of the model: "VoiceID" (X-Amz-Target prefix),
 * "2021-09-27", "voiceid" (SigV4 signing name) and "Voice ID". */
extern const char model_target_prefix[];
extern const char model_api_version[];
extern const char model_signing_name[];
extern const char model_service_id[];

extern const struct model_operation model_operations[];
extern const size_t model_n_operations;

extern const struct model_shape *const model_shapes[];
extern const size_t model_n_shapes;

/* Each distinct pattern of the model once, as the model writes it. */
extern const char *const model_patterns[];
extern const size_t model_n_patterns;

/* Returns the operation called exactly 'name' ("CreateDomain", without the
 * "VoiceID." prefix), or NULL if there is none or 'name' is NULL. The result
 * is static. */
const struct model_operation *model_operation_find(const char *name);

/* Returns the shape called exactly 'name', or NULL. The result is static. */
const struct model_shape *model_shape_find(const char *name);

/* Returns the member of structure 's' called exactly 'name', or NULL if 's'
 * has no such member (or is not a structure). The result is static. */
const struct model_member *model_member_find(const struct model_shape *s,
                                             const char *name);

#endif

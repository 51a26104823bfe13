/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks a JSON request against the input shape of its operation, with
 * every constraint of the service model, and words the violations the way
 * AWS services word a ValidationException.
 *
 * What is checked, per shape type of model.h:
 *   structure  a JSON object; required members present and not null;
 *              optional members given as null count as absent; names
 *              outside the shape are rejected
 *   list       a JSON array within min/max elements; no null elements
 *   map        a JSON object within min/max entries; keys checked against
 *              the key shape; no null values
 *   string     a JSON string; length in code points within min/max; the
 *              pattern; enum membership
 *   integer    a JSON integer (no fraction or exponent) within min/max and
 *              within 32 bits; long: the same within 64 bits
 *   boolean    true or false
 *   timestamp  a JSON number of epoch seconds, fractions allowed
 *   float/double  a JSON number; blob: a JSON string
 *
 * The message lists up to VALIDATE_MAX_REPORTED violations but counts them
 * all, in a fixed order (members in the model's order, then unknown names
 * in the order the body has them):
 *
 *   2 validation errors detected: Value 'abc' at 'DomainId' failed to
 *   satisfy constraint: Member must satisfy regular expression pattern:
 *   ^[a-zA-Z0-9]{22}$; Value null at 'Name' failed to satisfy constraint:
 *   Member must not be null
 *
 * (one line in reality). Paths join member names and zero-based list
 * indices with dots: 'Tags.3.Key'; map values add the key: 'Attrs.k'.
 * Values of sensitive shapes (and everything inside them), lists, objects
 * and invalid text are never echoed: "Value at 'Name' failed ...". Echoed
 * strings are cut to 64 code points plus "..." and control characters
 * become '?', so the message is always valid UTF-8 and one line.
 *
 * Patterns are the model's Java regular expressions compiled once for
 * PCRE2 (UTF, Unicode properties, '$' only at the very end), with the
 * POSIX-style Java classes PCRE2 lacks (\p{ASCII}, \p{Alpha}, ...)
 * rewritten as ranges and \uXXXX as \x{XXXX}. The compiled patterns are
 * shared read-only; every call matches with its own match data, so any
 * number of threads may validate at once.
 */
#ifndef TIMBRE_API_VALIDATE_H
#define TIMBRE_API_VALIDATE_H

#include <jansson.h>

#include "api/model.h"

/* The number of violations a message spells out; the rest are counted. */
#define VALIDATE_MAX_REPORTED 10

/* Compiles every pattern of the model. Optional: validate_request() does it
 * on first use, but a server calls it at start-up so a broken pattern shows
 * before the first request and the first request is not slower. Safe to
 * call from several threads and more than once. Returns 0, ERR_NOMEM (a
 * later call retries), or ERR_INTERNAL if a pattern does not compile (for
 * good; the unit tests keep that from shipping). */
int validate_init(void);

/* Frees the compiled patterns. Only for leak checkers at exit: no other
 * thread may be validating, and a later call to validate_init() or
 * validate_request() compiles them again. */
void validate_fini(void);

/* Checks 'body' (borrowed; NULL counts as the empty object {}) against
 * 'input', a structure shape of the generated tables (patterns are found
 * through their pattern_index, so hand-made shapes must not carry one).
 * Returns 0 if the body satisfies every constraint; ERR_INVAL with
 * '*message' set to a newly allocated text in the format above that the
 * caller frees; ERR_NOMEM; or ERR_INTERNAL if the patterns cannot be
 * compiled. '*message' is only written on ERR_INVAL. */
int validate_request(const struct model_shape *input, const json_t *body,
                     char **message);

/* Compiles one Java-style 'pattern' exactly as validate_request() would and
 * throws the result away; tests use it to prove every model pattern is
 * accepted. Returns 0; ERR_INVAL with '*message' set to a newly allocated
 * PCRE2 error text naming the offset (caller frees); or ERR_NOMEM. */
int validate_pattern_check(const char *pattern, char **message);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lookups over the generated model tables.
 *
 * The generator sorts every table by strcmp of the names, so each lookup is
 * a bisection over static data: no allocation, no state, safe from any
 * thread.
 */
#include <stdlib.h>
#include <string.h>

#include "api/model.h"


static int
cmp_operation(const void *key, const void *elem)
{
    const struct model_operation *op = elem;

    return strcmp(key, op->name);
}


static int
cmp_shape(const void *key, const void *elem)
{
    const struct model_shape *const *s = elem;

    return strcmp(key, (*s)->name);
}


static int
cmp_member(const void *key, const void *elem)
{
    const struct model_member *m = elem;

    return strcmp(key, m->name);
}


const struct model_operation *
model_operation_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    return bsearch(name, model_operations, model_n_operations,
                   sizeof model_operations[0], cmp_operation);
}


const struct model_shape *
model_shape_find(const char *name)
{
    const struct model_shape *const *found;

    if (name == NULL) {
        return NULL;
    }
    found = bsearch(name, model_shapes, model_n_shapes,
                    sizeof model_shapes[0], cmp_shape);
    return found != NULL ? *found : NULL;
}


const struct model_member *
model_member_find(const struct model_shape *s, const char *name)
{
    if (s == NULL || name == NULL || s->type != MODEL_STRUCTURE ||
        s->n_members == 0) {
        return NULL;
    }
    return bsearch(name, s->members, s->n_members, sizeof s->members[0],
                   cmp_member);
}

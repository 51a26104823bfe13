/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tag operations: TagResource, UntagResource and ListTagsForResource.
 *
 * Voice ID tags only domains, named by ARN. The ARN's account must be the
 * caller's: another account's domain is reported as not found, exactly
 * like a missing one, so ids of foreign resources leak nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "store/store.h"
#include "util/err.h"

/* A resource keeps at most this many tags, the size of one TagList. */
#define MAX_TAGS_PER_RESOURCE 200

#define ARN_DOMAIN_MARK ":domain/"


/*
 * Finds the domain id in "arn:aws:voiceid:REGION:ACCOUNT:domain/ID" (the
 * model's pattern has already been checked) and answers not found unless
 * ACCOUNT is the caller's. 'id' receives the 22-character id.
 */
static int
domain_of_arn(struct api_ctx *ctx, const char *arn,
              char id[STORE_ID_LEN + 1], struct api_error *err)
{
    const char *mark = strstr(arn, ARN_DOMAIN_MARK);
    const char *account;

    if (mark == NULL || mark - arn < STORE_ACCOUNT_LEN + 1)
        return api__fail(err, "ValidationException",
                         "ResourceArn is not a Voice ID domain ARN");

    account = mark - STORE_ACCOUNT_LEN;
    if (strncmp(account, ctx->account, STORE_ACCOUNT_LEN) != 0)
        return api__not_found(err, "DOMAIN", "resource %s does not exist",
                              arn);

    memcpy(id, mark + strlen(ARN_DOMAIN_MARK), STORE_ID_LEN);
    id[STORE_ID_LEN] = '\0';
    return 0;
}


static int
tag_store_failed(int rc, const char *arn, struct api_error *err)
{
    if (rc == ERR_NOTFOUND)
        return api__not_found(err, "DOMAIN", "resource %s does not exist",
                              arn);
    if (rc == ERR_QUOTA)
        return api__fail(err, "ValidationException",
                         "a resource can hold at most %d tags",
                         MAX_TAGS_PER_RESOURCE);
    return api__store_failed(err, rc);
}


static int
reply_empty(json_t **out, struct api_error *err)
{
    *out = json_object();
    return *out ? 0 : api__fail(err, "InternalServerException",
                                "out of memory");
}


int
tags_tag(struct api_ctx *ctx, json_t *in, json_t **out,
         struct api_error *err)
{
    const char *arn = api__str(in, "ResourceArn");
    struct store_tag *tags = NULL;
    char id[STORE_ID_LEN + 1];
    size_t n = 0;
    int rc;

    if (domain_of_arn(ctx, arn, id, err) != 0)
        return -1;
    if (domains__tags_from_json(json_object_get(in, "Tags"), &tags, &n,
                                err) != 0)
        return -1;

    rc = store_domain_tags_put(ctx->env->store, ctx->account, id, tags, n,
                               MAX_TAGS_PER_RESOURCE);
    store_tags_free(tags, n);
    if (rc != 0)
        return tag_store_failed(rc, arn, err);
    return reply_empty(out, err);
}


int
tags_untag(struct api_ctx *ctx, json_t *in, json_t **out,
           struct api_error *err)
{
    const char *arn = api__str(in, "ResourceArn");
    json_t *list = json_object_get(in, "TagKeys");
    size_t n = json_array_size(list);
    const char **keys = NULL;
    char id[STORE_ID_LEN + 1];
    int rc;

    if (domain_of_arn(ctx, arn, id, err) != 0)
        return -1;

    keys = calloc(n ? n : 1, sizeof(*keys));
    if (keys == NULL)
        return api__fail(err, "InternalServerException", "out of memory");
    for (size_t i = 0; i < n; i++)
        keys[i] = json_string_value(json_array_get(list, i));

    rc = store_domain_tags_remove(ctx->env->store, ctx->account, id, keys,
                                  n);
    free(keys);
    if (rc != 0)
        return tag_store_failed(rc, arn, err);
    return reply_empty(out, err);
}


int
tags_list(struct api_ctx *ctx, json_t *in, json_t **out,
          struct api_error *err)
{
    const char *arn = api__str(in, "ResourceArn");
    struct store_tag *tags = NULL;
    char id[STORE_ID_LEN + 1];
    json_t *list = NULL;
    size_t n = 0;
    int rc;

    if (domain_of_arn(ctx, arn, id, err) != 0)
        return -1;

    rc = store_domain_tags_list(ctx->env->store, ctx->account, id, &tags,
                                &n);
    if (rc != 0)
        return tag_store_failed(rc, arn, err);

    rc = -1;
    list = json_array();
    if (list == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        json_t *tag = json_pack("{s:s, s:s}", "Key", tags[i].key,
                                "Value", tags[i].value);

        if (json_array_append_new(list, tag) != 0)
            goto out;
    }
    *out = json_pack("{s:O}", "Tags", list);
    if (*out != NULL)
        rc = 0;

out:
    if (rc != 0)
        api__fail(err, "InternalServerException", "out of memory");
    json_decref(list);
    store_tags_free(tags, n);
    return rc;
}

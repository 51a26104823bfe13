/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the AWS JSON 1.0 envelope: how api_handle() parses,
 * routes, validates and answers, with a real SQLite store in a temporary
 * folder. The HTTP layer and signatures are not involved; each call comes
 * from an already-authenticated account.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "api/api.h"
#include "store/store.h"
#include "store/store_backend.h"
#include "util/err.h"
#include "util/log.h"

#define ACCOUNT "123456789012"
#define CREATE_BODY \
    "{\"Name\":\"callers\",\"Description\":\"main line\"," \
    "\"ServerSideEncryptionConfiguration\":{\"KmsKeyId\":\"key-1\"}}"

struct fixture {
    char dir[64];
    char db[128];
    struct api_env env;
};

/* A parsed reply: status, error name and body. */
struct answer {
    int status;
    const char *error_type;
    json_t *body;
};


static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    log_set_level(LOG_ERROR);
    strcpy(f->dir, "/tmp/test_api.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/timbre.db", f->dir);
    assert_int_equal(store_open(f->db, &f->env.store), 0);
    memset(f->env.page_token_key, 7, sizeof(f->env.page_token_key));
    f->env.page_token_ttl_s = 3600;
    f->env.max_domains = 5;
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    struct fixture *f = *state;
    char path[160];
    const char *suffixes[] = { "", "-wal", "-shm" };

    store_close(f->env.store);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s%s", f->db, suffixes[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}


static struct answer
call(struct fixture *f, const char *target, const char *body)
{
    struct api_call c = {
        .request_id = "00000000-0000-4000-8000-000000000000",
        .account = ACCOUNT,
        .region = "eu-west-2",
        .target = target,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    struct api_reply reply;
    struct answer a;
    json_error_t jerr;

    api_handle(&f->env, &c, &reply);
    a.status = reply.http_status;
    a.error_type = reply.error_type;
    a.body = json_loadb(reply.body, reply.body_len, 0, &jerr);
    assert_non_null(a.body);
    api_reply_clear(&reply);
    return a;
}


static const char *
message_of(struct answer *a)
{
    return json_string_value(json_object_get(a->body, "Message"));
}


static void
assert_error(struct answer *a, int status, const char *type)
{
    assert_int_equal(a->status, status);
    assert_non_null(a->error_type);
    assert_string_equal(a->error_type, type);
    assert_string_equal(
        json_string_value(json_object_get(a->body, "__type")), type);
    assert_non_null(message_of(a));
}


static char *
create_domain(struct fixture *f)
{
    struct answer a = call(f, "VoiceID.CreateDomain", CREATE_BODY);
    json_t *domain = json_object_get(a.body, "Domain");
    char *id;

    assert_int_equal(a.status, 200);
    id = strdup(json_string_value(json_object_get(domain, "DomainId")));
    json_decref(a.body);
    return id;
}


static void
test_missing_target_is_unknown_operation(void **state)
{
    struct answer a = call(*state, NULL, "{}");

    assert_error(&a, 400, "UnknownOperationException");
    assert_non_null(strstr(message_of(&a), "X-Amz-Target"));
    json_decref(a.body);
}


static void
test_unknown_target_is_named(void **state)
{
    struct answer a = call(*state, "VoiceID.StealVoices", "{}");

    assert_error(&a, 400, "UnknownOperationException");
    assert_non_null(strstr(message_of(&a), "VoiceID.StealVoices"));
    json_decref(a.body);

    a = call(*state, "DynamoDB_20120810.ListTables", "{}");
    assert_error(&a, 400, "UnknownOperationException");
    json_decref(a.body);
}


static void
test_truncated_json_is_serialization_error(void **state)
{
    struct answer a = call(*state, "VoiceID.ListDomains",
                           "{\"MaxResults\": 3");

    assert_error(&a, 400, "SerializationException");
    assert_non_null(strstr(message_of(&a), "line 1"));
    json_decref(a.body);
}


static void
test_body_must_be_an_object(void **state)
{
    struct answer a = call(*state, "VoiceID.ListDomains", "[1, 2]");

    assert_error(&a, 400, "SerializationException");
    assert_non_null(strstr(message_of(&a), "JSON object"));
    json_decref(a.body);
}


static void
test_duplicate_keys_are_refused(void **state)
{
    struct answer a = call(*state, "VoiceID.ListDomains",
                           "{\"MaxResults\": 1, \"MaxResults\": 2}");

    assert_error(&a, 400, "SerializationException");
    json_decref(a.body);
}


static void
test_empty_body_counts_as_empty_object(void **state)
{
    struct answer a = call(*state, "VoiceID.ListDomains", "");

    assert_int_equal(a.status, 200);
    assert_null(a.error_type);
    assert_int_equal(
        json_array_size(json_object_get(a.body, "DomainSummaries")), 0);
    assert_null(json_object_get(a.body, "NextToken"));
    json_decref(a.body);
}


static void
test_validation_error_names_member_path(void **state)
{
    struct answer a = call(*state, "VoiceID.CreateDomain",
                           "{\"Name\":\"n\","
                           "\"ServerSideEncryptionConfiguration\":"
                           "{\"KmsKeyId\":\"\"}}");

    assert_error(&a, 400, "ValidationException");
    assert_non_null(strstr(message_of(&a),
                           "'ServerSideEncryptionConfiguration.KmsKeyId'"));
    json_decref(a.body);
}


static void
test_wrong_type_is_validation_error(void **state)
{
    struct answer a = call(*state, "VoiceID.ListDomains",
                           "{\"MaxResults\": \"5\"}");

    assert_error(&a, 400, "ValidationException");
    assert_non_null(strstr(message_of(&a), "'MaxResults'"));
    json_decref(a.body);
}


static void
test_unbuilt_operation_is_501_after_validation(void **state)
{
    struct answer a = call(*state, "VoiceID.ListWatchlists",
                           "{\"DomainId\":\"abc\"}");

    /* Bad input is reported first, as for any operation. */
    assert_error(&a, 400, "ValidationException");
    json_decref(a.body);

    a = call(*state, "VoiceID.ListWatchlists",
             "{\"DomainId\":\"abcdefghijklmnopqrstuv\"}");
    assert_error(&a, 501, "NotImplementedException");
    assert_string_equal(message_of(&a), "ListWatchlists is not available in "
                        "this version of Timbre");
    json_decref(a.body);
}


static void
test_domain_output_shape(void **state)
{
    struct answer a = call(*state, "VoiceID.CreateDomain", CREATE_BODY);
    json_t *d = json_object_get(a.body, "Domain");
    const char *id = json_string_value(json_object_get(d, "DomainId"));
    char arn[128];

    assert_int_equal(a.status, 200);
    assert_int_equal(strlen(id), 22);
    snprintf(arn, sizeof(arn), "arn:aws:voiceid:eu-west-2:%s:domain/%s",
             ACCOUNT, id);
    assert_string_equal(json_string_value(json_object_get(d, "Arn")), arn);
    assert_string_equal(json_string_value(json_object_get(d, "Name")),
                        "callers");
    assert_string_equal(
        json_string_value(json_object_get(d, "DomainStatus")), "ACTIVE");
    assert_true(json_is_number(json_object_get(d, "CreatedAt")));
    assert_true(json_number_value(json_object_get(d, "CreatedAt"))
                > 1.7e9);
    assert_int_equal(strlen(json_string_value(json_object_get(
        json_object_get(d, "WatchlistDetails"), "DefaultWatchlistId"))), 22);
    assert_null(json_object_get(d, "ServerSideEncryptionUpdateDetails"));
    json_decref(a.body);
}


static void
test_not_found_carries_resource_type(void **state)
{
    struct answer a = call(*state, "VoiceID.DescribeDomain",
                           "{\"DomainId\":\"abcdefghijklmnopqrstuv\"}");

    assert_error(&a, 400, "ResourceNotFoundException");
    assert_string_equal(
        json_string_value(json_object_get(a.body, "ResourceType")),
        "DOMAIN");
    json_decref(a.body);
}


static void
test_deleted_domain_is_gone_at_once(void **state)
{
    char *id = create_domain(*state);
    char body[128];
    struct answer a;

    snprintf(body, sizeof(body), "{\"DomainId\":\"%s\"}", id);
    a = call(*state, "VoiceID.DeleteDomain", body);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_object_size(a.body), 0);
    json_decref(a.body);

    a = call(*state, "VoiceID.DescribeDomain", body);
    assert_error(&a, 400, "ResourceNotFoundException");
    json_decref(a.body);
    free(id);
}


static void
test_list_pages_with_tokens(void **state)
{
    char *ids[3];
    char body[9000];
    const char *token;
    struct answer a;
    struct answer b;

    for (int i = 0; i < 3; i++)
        ids[i] = create_domain(*state);

    a = call(*state, "VoiceID.ListDomains", "{\"MaxResults\": 2}");
    assert_int_equal(a.status, 200);
    assert_int_equal(
        json_array_size(json_object_get(a.body, "DomainSummaries")), 2);
    token = json_string_value(json_object_get(a.body, "NextToken"));
    assert_non_null(token);

    snprintf(body, sizeof(body), "{\"MaxResults\": 2, \"NextToken\":"
             " \"%s\"}", token);
    b = call(*state, "VoiceID.ListDomains", body);
    assert_int_equal(b.status, 200);
    assert_int_equal(
        json_array_size(json_object_get(b.body, "DomainSummaries")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(
        json_object_get(b.body, "DomainSummaries"), 0), "DomainId")), ids[2]);
    assert_null(json_object_get(b.body, "NextToken"));
    json_decref(b.body);

    /* One changed character makes the token worthless. */
    body[strlen("{\"MaxResults\": 2, \"NextToken\": \"") + 5] ^= 1;
    b = call(*state, "VoiceID.ListDomains", body);
    assert_error(&b, 400, "ValidationException");
    assert_non_null(strstr(message_of(&b), "NextToken"));
    json_decref(b.body);

    json_decref(a.body);
    for (int i = 0; i < 3; i++)
        free(ids[i]);
}


static void
test_client_token_replays_and_conflicts(void **state)
{
    const char *first = "{\"ClientToken\":\"retry-1\",\"Name\":\"a\","
        "\"ServerSideEncryptionConfiguration\":{\"KmsKeyId\":\"k\"}}";
    const char *changed = "{\"ClientToken\":\"retry-1\",\"Name\":\"b\","
        "\"ServerSideEncryptionConfiguration\":{\"KmsKeyId\":\"k\"}}";
    struct answer a = call(*state, "VoiceID.CreateDomain", first);
    struct answer b = call(*state, "VoiceID.CreateDomain", first);
    struct answer c = call(*state, "VoiceID.CreateDomain", changed);

    assert_int_equal(a.status, 200);
    assert_int_equal(b.status, 200);
    assert_true(json_equal(a.body, b.body));
    assert_error(&c, 400, "ConflictException");
    json_decref(a.body);
    json_decref(b.body);
    json_decref(c.body);
}


static void
test_domain_quota(void **state)
{
    struct fixture *f = *state;
    struct answer a;

    for (int i = 0; i < 5; i++)
        free(create_domain(f));
    a = call(f, "VoiceID.CreateDomain", CREATE_BODY);
    assert_error(&a, 400, "ServiceQuotaExceededException");
    json_decref(a.body);
}


static void
test_store_failure_is_internal_server_error(void **state)
{
    char *id = create_domain(*state);
    char body[128];
    struct answer a;

    snprintf(body, sizeof(body), "{\"DomainId\":\"%s\"}", id);
    store__fail_next(1, ERR_IO);
    a = call(*state, "VoiceID.DescribeDomain", body);
    store__fail_next(0, 0);
    assert_error(&a, 500, "InternalServerException");
    assert_null(strstr(message_of(&a), id));
    json_decref(a.body);

    /* The failure touched nothing: the domain is still there. */
    a = call(*state, "VoiceID.DescribeDomain", body);
    assert_int_equal(a.status, 200);
    json_decref(a.body);
    free(id);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_missing_target_is_unknown_operation),
        T(test_unknown_target_is_named),
        T(test_truncated_json_is_serialization_error),
        T(test_body_must_be_an_object),
        T(test_duplicate_keys_are_refused),
        T(test_empty_body_counts_as_empty_object),
        T(test_validation_error_names_member_path),
        T(test_wrong_type_is_validation_error),
        T(test_unbuilt_operation_is_501_after_validation),
        T(test_domain_output_shape),
        T(test_not_found_carries_resource_type),
        T(test_deleted_domain_is_gone_at_once),
        T(test_list_pages_with_tokens),
        T(test_client_token_replays_and_conflicts),
        T(test_domain_quota),
        T(test_store_failure_is_internal_server_error),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

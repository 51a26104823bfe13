/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the generated model tables (model_gen.c, model.c) and of the
 * generic validator (validate.c), always with the real shapes of the Voice
 * ID model. Messages are compared in full where the format matters, since
 * clients and the API tests read them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/model.h"
#include "api/validate.h"
#include "util/err.h"

#define DOMAIN_ID "abcdefghijklmnopqrstuv"

static const char *const operation_names[] = {
    "AssociateFraudster", "CreateDomain", "CreateWatchlist", "DeleteDomain",
    "DeleteFraudster", "DeleteSpeaker", "DeleteWatchlist", "DescribeDomain",
    "DescribeFraudster", "DescribeFraudsterRegistrationJob",
    "DescribeSpeaker", "DescribeSpeakerEnrollmentJob", "DescribeWatchlist",
    "DisassociateFraudster", "EvaluateSession", "ListDomains",
    "ListFraudsterRegistrationJobs", "ListFraudsters",
    "ListSpeakerEnrollmentJobs", "ListSpeakers", "ListTagsForResource",
    "ListWatchlists", "OptOutSpeaker", "StartFraudsterRegistrationJob",
    "StartSpeakerEnrollmentJob", "TagResource", "UntagResource",
    "UpdateDomain", "UpdateWatchlist",
};


/* Returns 'unit' repeated 'n' times; the caller frees. */
static char *
repeat(const char *unit, size_t n)
{
    size_t len = strlen(unit);
    char *s = malloc(len * n + 1);
    size_t i;

    assert_non_null(s);
    for (i = 0; i < n; i++) {
        memcpy(s + i * len, unit, len);
    }
    s[len * n] = '\0';
    return s;
}


static int
check_shape(const struct model_shape *shape, json_t *body, char **message)
{
    int rc;

    *message = NULL;
    rc = validate_request(shape, body, message);
    json_decref(body);
    if (rc != ERR_INVAL) {
        assert_null(*message);
    }
    return rc;
}


/* Validates 'body' (taken over) against the input of 'op'. */
static int
check_op(const char *op, json_t *body, char **message)
{
    const struct model_operation *o = model_operation_find(op);

    assert_non_null(o);
    assert_non_null(body);
    return check_shape(o->input, body, message);
}


static json_t *
parse(const char *text)
{
    json_error_t error;
    json_t *v = json_loads(text, 0, &error);

    if (v == NULL) {
        fail_msg("bad test JSON: %s: %s", text, error.text);
    }
    return v;
}


static void
expect_valid(const char *op, json_t *body)
{
    char *message = NULL;
    int rc = check_op(op, body, &message);

    if (rc != 0) {
        fail_msg("%s: rc %d: %s", op, rc, message ? message : "(none)");
    }
}


static void
expect_message(const char *op, json_t *body, const char *expected)
{
    char *message = NULL;

    assert_int_equal(check_op(op, body, &message), ERR_INVAL);
    assert_non_null(message);
    assert_string_equal(message, expected);
    free(message);
}


/* Returns the message of a body that must fail; the caller frees. */
static char *
failure_of(const char *op, json_t *body)
{
    char *message = NULL;

    assert_int_equal(check_op(op, body, &message), ERR_INVAL);
    assert_non_null(message);
    return message;
}


static json_t *
create_domain_body(void)
{
    return parse("{\"Name\": \"my-domain_1\","
                 " \"Description\": \"Test domain: \xc3\xbcn/=+-%@\","
                 " \"ServerSideEncryptionConfiguration\":"
                 "   {\"KmsKeyId\": \"alias/timbre\"},"
                 " \"Tags\": [{\"Key\": \"env\", \"Value\": \"\"}],"
                 " \"ClientToken\": \"tok-123_ABC\"}");
}


static void
test_model_finds_all_29_operations(void **state)
{
    const struct model_operation *op;
    size_t i;

    assert_int_equal(model_n_operations, 29);
    assert_int_equal(sizeof operation_names / sizeof operation_names[0], 29);
    for (i = 0; i < 29; i++) {
        op = model_operation_find(operation_names[i]);
        assert_non_null(op);
        assert_string_equal(op->name, operation_names[i]);
        assert_non_null(op->input);
        assert_int_equal(op->input->type, MODEL_STRUCTURE);
        assert_true(op->n_errors > 0);
    }

    op = model_operation_find("CreateDomain");
    assert_string_equal(op->input->name, "CreateDomainRequest");
    assert_string_equal(op->output->name, "CreateDomainResponse");
    assert_int_equal(op->n_errors, 7);
    assert_string_equal(op->errors[0]->name,
                        "ServiceQuotaExceededException");
    assert_true(op->idempotent);
    assert_null(model_operation_find("DeleteDomain")->output);
}


static void
test_model_unknown_operation_not_found(void **state)
{
    assert_null(model_operation_find("CreateDomains"));
    assert_null(model_operation_find("createDomain"));
    assert_null(model_operation_find("VoiceID.CreateDomain"));
    assert_null(model_operation_find(""));
    assert_null(model_operation_find(NULL));
}


static void
test_model_shapes_carry_constraints(void **state)
{
    const struct model_shape *s;
    const struct model_member *m;

    assert_string_equal(model_target_prefix, "VoiceID");
    assert_string_equal(model_signing_name, "voiceid");
    assert_string_equal(model_api_version, "2021-09-27");

    s = model_shape_find("DomainId");
    assert_non_null(s);
    assert_int_equal(s->type, MODEL_STRING);
    assert_true(s->has_min && s->has_max);
    assert_int_equal(s->min, 22);
    assert_int_equal(s->max, 22);
    assert_string_equal(s->pattern, "^[a-zA-Z0-9]{22}$");
    assert_string_equal(model_patterns[s->pattern_index], s->pattern);

    s = model_shape_find("SpeakerEnrollmentJobStatus");
    assert_int_equal(s->n_enum, 5);
    assert_string_equal(s->enum_values[0], "SUBMITTED");
    assert_string_equal(s->enum_values[4], "FAILED");

    s = model_shape_find("TagList");
    assert_int_equal(s->type, MODEL_LIST);
    assert_ptr_equal(s->member, model_shape_find("Tag"));
    assert_int_equal(s->max, 200);

    assert_true(model_shape_find("InternalServerException")->fault);
    assert_true(model_shape_find("ConflictException")->exception);
    assert_true(model_shape_find("DomainName")->sensitive);
    assert_null(model_shape_find("NoSuchShape"));

    s = model_shape_find("CreateDomainRequest");
    m = model_member_find(s, "ClientToken");
    assert_non_null(m);
    assert_true(m->idempotency_token);
    assert_false(m->required);
    m = model_member_find(s, "Name");
    assert_true(m->required);
    assert_ptr_equal(m->shape, model_shape_find("DomainName"));
    assert_null(model_member_find(s, "name"));
    assert_null(model_member_find(model_shape_find("DomainId"), "Name"));
}


static void
test_model_tables_are_sorted(void **state)
{
    const struct model_shape *s;
    size_t i;
    size_t j;

    for (i = 1; i < model_n_operations; i++) {
        assert_true(strcmp(model_operations[i - 1].name,
                           model_operations[i].name) < 0);
    }
    for (i = 0; i < model_n_shapes; i++) {
        s = model_shapes[i];
        if (i > 0) {
            assert_true(strcmp(model_shapes[i - 1]->name, s->name) < 0);
        }
        assert_ptr_equal(model_shape_find(s->name), s);
        for (j = 0; j < s->n_members; j++) {
            assert_ptr_equal(model_member_find(s, s->members[j].name),
                             &s->members[j]);
        }
    }
}


static void
test_every_model_pattern_compiles(void **state)
{
    const struct model_shape *s;
    char *message = NULL;
    size_t n_with_pattern = 0;
    size_t i;

    for (i = 0; i < model_n_shapes; i++) {
        s = model_shapes[i];
        if (s->pattern == NULL) {
            continue;
        }
        n_with_pattern++;
        if (validate_pattern_check(s->pattern, &message) != 0) {
            fail_msg("%s: %s", s->name, message);
        }
    }
    assert_int_equal(n_with_pattern, 25);
    assert_int_equal(validate_init(), 0);
    assert_int_equal(validate_init(), 0);
}


static void
test_pattern_check_reports_broken_pattern(void **state)
{
    char *message = NULL;

    assert_int_equal(validate_pattern_check("^[a-$", &message), ERR_INVAL);
    assert_non_null(message);
    assert_non_null(strstr(message, "offset"));
    free(message);

    message = NULL;
    assert_int_equal(validate_pattern_check("^\\p{NoSuchClass}$", &message),
                     ERR_INVAL);
    free(message);
}


static void
test_pattern_check_translates_java_classes(void **state)
{
    char *message = NULL;

    assert_int_equal(validate_pattern_check("^\\p{Alpha}[\\p{Digit}_]*$",
                                            &message), 0);
    assert_int_equal(validate_pattern_check("^[\\P{ASCII}]+\\P{Punct}$",
                                            &message), 0);
    assert_int_equal(validate_pattern_check("^\\u00e9[]a]\\Q[\\E$",
                                            &message), 0);
    assert_int_equal(validate_pattern_check("", &message), 0);
    assert_null(message);
}


static void
test_create_domain_valid_body_passes(void **state)
{
    expect_valid("CreateDomain", create_domain_body());
    expect_valid("CreateDomain",
                 parse("{\"Name\": \"d\","
                       " \"ServerSideEncryptionConfiguration\":"
                       " {\"KmsKeyId\": \"k\"}}"));
}


static void
test_missing_required_members_are_reported(void **state)
{
    expect_message("CreateDomain", parse("{}"),
                   "2 validation errors detected: Value null at 'Name' "
                   "failed to satisfy constraint: Member must not be null; "
                   "Value null at 'ServerSideEncryptionConfiguration' "
                   "failed to satisfy constraint: Member must not be null");
}


static void
test_null_required_member_is_reported(void **state)
{
    expect_message("DescribeDomain", parse("{\"DomainId\": null}"),
                   "1 validation error detected: Value null at 'DomainId' "
                   "failed to satisfy constraint: Member must not be null");
}


static void
test_null_optional_member_counts_as_absent(void **state)
{
    json_t *body = create_domain_body();

    json_object_set_new(body, "Description", json_null());
    json_object_set_new(body, "Tags", json_null());
    json_object_set_new(body, "ClientToken", json_null());
    expect_valid("CreateDomain", body);
}


static void
test_absent_or_empty_body_checks_required_members(void **state)
{
    char *message = NULL;
    const struct model_operation *op = model_operation_find("ListDomains");

    assert_int_equal(validate_request(op->input, NULL, &message), 0);
    assert_null(message);

    op = model_operation_find("DescribeDomain");
    assert_int_equal(validate_request(op->input, NULL, &message),
                     ERR_INVAL);
    assert_string_equal(message, "1 validation error detected: Value null "
                        "at 'DomainId' failed to satisfy constraint: "
                        "Member must not be null");
    free(message);
}


static void
test_body_that_is_not_an_object_is_rejected(void **state)
{
    expect_message("ListDomains", parse("[1, 2]"),
                   "1 validation error detected: Request body must be a "
                   "JSON object");
    expect_message("ListDomains", json_string("x"),
                   "1 validation error detected: Request body must be a "
                   "JSON object");
}


static void
test_string_for_integer_is_rejected(void **state)
{
    expect_message("ListDomains", parse("{\"MaxResults\": \"5\"}"),
                   "1 validation error detected: Value '5' at 'MaxResults' "
                   "failed to satisfy constraint: Member must be an "
                   "integer");
}


static void
test_fraction_for_integer_is_rejected(void **state)
{
    expect_message("ListDomains", parse("{\"MaxResults\": 1.5}"),
                   "1 validation error detected: Value '1.5' at "
                   "'MaxResults' failed to satisfy constraint: Member must "
                   "be an integer");
    expect_message("ListDomains", parse("{\"MaxResults\": 5.0}"),
                   "1 validation error detected: Value '5' at "
                   "'MaxResults' failed to satisfy constraint: Member must "
                   "be an integer");
    expect_message("ListDomains", parse("{\"MaxResults\": true}"),
                   "1 validation error detected: Value 'true' at "
                   "'MaxResults' failed to satisfy constraint: Member must "
                   "be an integer");
}


static void
test_object_for_list_is_rejected(void **state)
{
    json_t *body = create_domain_body();

    json_object_set_new(body, "Tags", json_object());
    expect_message("CreateDomain", body,
                   "1 validation error detected: Value at 'Tags' failed to "
                   "satisfy constraint: Member must be a list");
}


static void
test_wrong_string_and_structure_types_are_rejected(void **state)
{
    json_t *body = create_domain_body();

    json_object_set_new(body, "ServerSideEncryptionConfiguration",
                        json_string("alias/x"));
    json_object_set_new(body, "ClientToken", json_integer(7));
    expect_message("CreateDomain", body,
                   "2 validation errors detected: Value '7' at "
                   "'ClientToken' failed to satisfy constraint: Member must "
                   "be a string; Value 'alias/x' at "
                   "'ServerSideEncryptionConfiguration' failed to satisfy "
                   "constraint: Member must be a structure");
}


static void
test_boolean_and_timestamp_types_are_checked(void **state)
{
    char *message = NULL;
    const struct model_shape *watchlist = model_shape_find("Watchlist");

    assert_int_equal(check_shape(watchlist,
                                 parse("{\"DefaultWatchlist\": false,"
                                       " \"CreatedAt\": 1700000000.25}"),
                                 &message), 0);

    assert_int_equal(check_shape(watchlist,
                                 parse("{\"DefaultWatchlist\": \"yes\","
                                       " \"CreatedAt\": \"2023-01-01\"}"),
                                 &message), ERR_INVAL);
    assert_string_equal(message, "2 validation errors detected: Value "
                        "'2023-01-01' at 'CreatedAt' failed to satisfy "
                        "constraint: Member must be a timestamp in epoch "
                        "seconds; Value 'yes' at 'DefaultWatchlist' failed "
                        "to satisfy constraint: Member must be a boolean");
    free(message);
}


static void
test_integer_outside_32_bits_is_rejected(void **state)
{
    char *message = NULL;

    assert_int_equal(check_shape(model_shape_find("FailureDetails"),
                                 parse("{\"StatusCode\": 3000000000}"),
                                 &message), ERR_INVAL);
    assert_string_equal(message, "1 validation error detected: Value "
                        "'3000000000' at 'StatusCode' failed to satisfy "
                        "constraint: Member must have value less than or "
                        "equal to 2147483647");
    free(message);
}


static void
test_name_length_is_checked_in_code_points(void **state)
{
    json_t *body;
    char *name;

    name = repeat("a", 256);
    body = create_domain_body();
    json_object_set_new(body, "Name", json_string(name));
    expect_valid("CreateDomain", body);
    free(name);

    name = repeat("a", 257);
    body = create_domain_body();
    json_object_set_new(body, "Name", json_string(name));
    expect_message("CreateDomain", body,
                   "1 validation error detected: Value at 'Name' failed to "
                   "satisfy constraint: Member must have length less than "
                   "or equal to 256");
    free(name);

    expect_message("CreateDomain", parse("{\"Name\": \"\", "
                   "\"ServerSideEncryptionConfiguration\": "
                   "{\"KmsKeyId\": \"k\"}}"),
                   "2 validation errors detected: Value at 'Name' failed to "
                   "satisfy constraint: Member must have length greater "
                   "than or equal to 1; Value at 'Name' failed to satisfy "
                   "constraint: Member must satisfy regular expression "
                   "pattern: ^[a-zA-Z0-9][a-zA-Z0-9_-]*$");
}


static void
test_multibyte_lengths_are_counted_in_code_points(void **state)
{
    json_t *body;
    char *text;

    /* 256 two-byte letters: 512 bytes, yet exactly the maximum. */
    text = repeat("\xc3\xa9", 256);
    body = create_domain_body();
    json_object_set_new(body, "Tags",
                        json_pack("[{s:s, s:s}]", "Key", "k", "Value", text));
    expect_valid("CreateDomain", body);
    free(text);

    text = repeat("\xc3\xa9", 257);
    body = create_domain_body();
    json_object_set_new(body, "Tags",
                        json_pack("[{s:s, s:s}]", "Key", "k", "Value", text));
    expect_message("CreateDomain", body,
                   "1 validation error detected: Value at 'Tags.0.Value' "
                   "failed to satisfy constraint: Member must have length "
                   "less than or equal to 256");
    free(text);

    /* Four-byte characters (U+1D4B3, a letter) count once each too. */
    text = repeat("\xf0\x9d\x92\xb3", 1024);
    body = create_domain_body();
    json_object_set_new(body, "Description", json_string(text));
    expect_valid("CreateDomain", body);
    free(text);

    text = repeat("\xf0\x9d\x92\xb3", 1025);
    body = create_domain_body();
    json_object_set_new(body, "Description", json_string(text));
    expect_message("CreateDomain", body,
                   "1 validation error detected: Value at 'Description' "
                   "failed to satisfy constraint: Member must have length "
                   "less than or equal to 1024");
    free(text);
}


static void
test_domain_id_pattern_violation_is_reported(void **state)
{
    expect_message("DescribeDomain", parse("{\"DomainId\": \"abc\"}"),
                   "2 validation errors detected: Value 'abc' at "
                   "'DomainId' failed to satisfy constraint: Member must "
                   "have length greater than or equal to 22; Value 'abc' at "
                   "'DomainId' failed to satisfy constraint: Member must "
                   "satisfy regular expression pattern: ^[a-zA-Z0-9]{22}$");
    expect_message("DescribeDomain",
                   parse("{\"DomainId\": \"abcdefghijklmnopqrstu-\"}"),
                   "1 validation error detected: Value "
                   "'abcdefghijklmnopqrstu-' at 'DomainId' failed to "
                   "satisfy constraint: Member must satisfy regular "
                   "expression pattern: ^[a-zA-Z0-9]{22}$");
}


static void
test_trailing_newline_does_not_satisfy_pattern(void **state)
{
    /* Java's '$' in matches() does not accept a final newline either. */
    expect_message("DescribeDomain",
                   parse("{\"DomainId\": \"abcdefghijklmnopqrstu\\n\"}"),
                   "1 validation error detected: Value "
                   "'abcdefghijklmnopqrstu?' at 'DomainId' failed to "
                   "satisfy constraint: Member must satisfy regular "
                   "expression pattern: ^[a-zA-Z0-9]{22}$");
}


static void
test_enum_violation_lists_allowed_values(void **state)
{
    expect_valid("ListSpeakerEnrollmentJobs",
                 parse("{\"DomainId\": \"" DOMAIN_ID "\","
                       " \"JobStatus\": \"COMPLETED_WITH_ERRORS\"}"));
    expect_message("ListSpeakerEnrollmentJobs",
                   parse("{\"DomainId\": \"" DOMAIN_ID "\","
                         " \"JobStatus\": \"completed\"}"),
                   "1 validation error detected: Value 'completed' at "
                   "'JobStatus' failed to satisfy constraint: Member must "
                   "satisfy enum value set: [SUBMITTED, IN_PROGRESS, "
                   "COMPLETED, COMPLETED_WITH_ERRORS, FAILED]");
}


static void
test_max_results_range_is_enforced(void **state)
{
    const char *head = "{\"DomainId\": \"" DOMAIN_ID "\", \"MaxResults\": ";
    char text[128];

    snprintf(text, sizeof text, "%s1}", head);
    expect_valid("ListSpeakerEnrollmentJobs", parse(text));
    snprintf(text, sizeof text, "%s100}", head);
    expect_valid("ListSpeakerEnrollmentJobs", parse(text));

    snprintf(text, sizeof text, "%s0}", head);
    expect_message("ListSpeakerEnrollmentJobs", parse(text),
                   "1 validation error detected: Value '0' at 'MaxResults' "
                   "failed to satisfy constraint: Member must have value "
                   "greater than or equal to 1");
    snprintf(text, sizeof text, "%s101}", head);
    expect_message("ListSpeakerEnrollmentJobs", parse(text),
                   "1 validation error detected: Value '101' at "
                   "'MaxResults' failed to satisfy constraint: Member must "
                   "have value less than or equal to 100");

    expect_valid("ListDomains", parse("{\"MaxResults\": 10}"));
    expect_message("ListDomains", parse("{\"MaxResults\": 11}"),
                   "1 validation error detected: Value '11' at "
                   "'MaxResults' failed to satisfy constraint: Member must "
                   "have value less than or equal to 10");
}


static json_t *
tags_body(size_t n_tags)
{
    json_t *body = create_domain_body();
    json_t *tags = json_array();
    size_t i;

    for (i = 0; i < n_tags; i++) {
        json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", "k",
                                              "Value", "v"));
    }
    json_object_set_new(body, "Tags", tags);
    return body;
}


static void
test_tag_list_size_is_enforced(void **state)
{
    expect_valid("CreateDomain", tags_body(200));
    expect_message("CreateDomain", tags_body(201),
                   "1 validation error detected: Value at 'Tags' failed to "
                   "satisfy constraint: Member must have length less than "
                   "or equal to 200");
}


static void
test_nested_paths_name_members_and_indices(void **state)
{
    json_t *body = create_domain_body();

    json_object_set_new(body, "ServerSideEncryptionConfiguration",
                        json_object());
    json_object_set_new(body, "Tags",
                        parse("[{\"Key\": \"\", \"Value\": \"v\"},"
                              " {\"Key\": \"k\"}]"));
    expect_message("CreateDomain", body,
                   "3 validation errors detected: Value null at "
                   "'ServerSideEncryptionConfiguration.KmsKeyId' failed to "
                   "satisfy constraint: Member must not be null; Value at "
                   "'Tags.0.Key' failed to satisfy constraint: Member must "
                   "have length greater than or equal to 1; Value null at "
                   "'Tags.1.Value' failed to satisfy constraint: Member "
                   "must not be null");
}


static void
test_null_list_element_is_rejected(void **state)
{
    expect_message("UntagResource",
                   parse("{\"ResourceArn\": \"arn:aws:voiceid:us-east-1:"
                         "123456789012:domain/" DOMAIN_ID "\","
                         " \"TagKeys\": [\"a\", null]}"),
                   "1 validation error detected: Value null at 'TagKeys.1' "
                   "failed to satisfy constraint: Member must not be null");
}


static void
test_unknown_members_are_rejected(void **state)
{
    json_t *body = create_domain_body();

    json_object_set_new(body, "Bogus", json_integer(1));
    json_object_set_new(body, "Tags",
                        parse("[{\"Key\": \"k\", \"Value\": \"v\","
                              " \"Colour\": \"red\"}]"));
    expect_message("CreateDomain", body,
                   "2 validation errors detected: 'Tags.0.Colour' is not a "
                   "member of Tag; 'Bogus' is not a member of "
                   "CreateDomainRequest");

    /* Names are case-sensitive: "name" is not "Name". */
    expect_message("DescribeDomain",
                   parse("{\"DomainId\": \"" DOMAIN_ID "\", \"domainId\": "
                         "\"x\"}"),
                   "1 validation error detected: 'domainId' is not a member "
                   "of DescribeDomainRequest");
}


static void
test_key_with_nul_is_not_a_member(void **state)
{
#if JANSSON_VERSION_HEX >= 0x020e00
    /* json_loads() refuses such keys; code that builds objects may not. */
    json_t *body = parse("{\"DomainId\": \"" DOMAIN_ID "\"}");

    json_object_setn_new(body, "DomainId\0x", 10, json_integer(1));
    expect_message("DescribeDomain", body,
                   "1 validation error detected: 'DomainId?x' is not a "
                   "member of DescribeDomainRequest");
#else
    skip();
#endif
}


static void
test_next_token_must_be_ascii(void **state)
{
    char *token;
    json_t *body;

    expect_valid("ListDomains", parse("{\"NextToken\": \"abc+/=~ \"}"));
    expect_message("ListDomains",
                   parse("{\"NextToken\": \"abc\xc3\xa9\"}"),
                   "1 validation error detected: Value 'abc\xc3\xa9' at "
                   "'NextToken' failed to satisfy constraint: Member must "
                   "satisfy regular expression pattern: "
                   "^\\p{ASCII}{0,8192}$");

    token = repeat("A", 8192);
    expect_valid("ListDomains", json_pack("{s:s}", "NextToken", token));
    free(token);

    token = repeat("A", 8193);
    body = json_pack("{s:s}", "NextToken", token);
    free(token);
    token = failure_of("ListDomains", body);
    assert_non_null(strstr(token, "2 validation errors detected: "));
    assert_non_null(strstr(token, "length less than or equal to 8192"));
    assert_non_null(strstr(token, "regular expression pattern"));
    free(token);
}


static void
test_all_errors_are_counted_and_ten_spelled_out(void **state)
{
    json_t *body = json_object();
    json_t *tags = json_array();
    const char *start = "13 validation errors detected: Value null at "
                        "'ResourceArn' failed";
    char *message;
    const char *p;
    size_t n_items = 1;
    size_t i;

    for (i = 0; i < 12; i++) {
        json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", "",
                                              "Value", "v"));
    }
    json_object_set_new(body, "Tags", tags);

    /* ResourceArn missing, then twelve empty tag keys. */
    message = failure_of("TagResource", body);
    assert_true(strncmp(message, start, strlen(start)) == 0);
    for (p = message; (p = strstr(p, "; ")) != NULL; p += 2) {
        n_items++;
    }
    assert_int_equal(n_items, 11);
    assert_non_null(strstr(message, "'Tags.8.Key'"));
    assert_null(strstr(message, "'Tags.9.Key'"));
    p = strstr(message, "; and 3 more");
    assert_non_null(p);
    assert_string_equal(p, "; and 3 more");
    free(message);
}


static void
test_sensitive_values_are_not_echoed(void **state)
{
    json_t *body = create_domain_body();
    char *message;

    json_object_set_new(body, "Name", json_string("secret name!"));
    expect_message("CreateDomain", body,
                   "1 validation error detected: Value at 'Name' failed to "
                   "satisfy constraint: Member must satisfy regular "
                   "expression pattern: ^[a-zA-Z0-9][a-zA-Z0-9_-]*$");

    /* A wrong type under a sensitive shape stays hidden as well. */
    message = failure_of("DescribeSpeaker",
                         parse("{\"DomainId\": \"" DOMAIN_ID "\","
                               " \"SpeakerId\": 12345678}"));
    assert_string_equal(message, "1 validation error detected: Value at "
                        "'SpeakerId' failed to satisfy constraint: Member "
                        "must be a string");
    free(message);
}


static void
test_long_values_are_cut_when_echoed(void **state)
{
    char *id = repeat("x", 100);
    char *message;
    char expected[256];

    message = failure_of("DescribeDomain",
                         json_pack("{s:s}", "DomainId", id));
    id[64] = '\0';
    snprintf(expected, sizeof expected, "2 validation errors detected: "
             "Value '%s...' at 'DomainId' failed to satisfy constraint: "
             "Member must have length less than or equal to 22; ", id);
    assert_true(strncmp(message, expected, strlen(expected)) == 0);
    free(message);
    free(id);
}


static void
test_invalid_utf8_is_rejected_without_echo(void **state)
{
    json_t *body = json_object();

    json_object_set_new(body, "DomainId",
                        json_stringn_nocheck("abc\xff", 4));
    expect_message("DescribeDomain", body,
                   "1 validation error detected: Value at 'DomainId' "
                   "failed to satisfy constraint: Member must be valid "
                   "UTF-8");
}


static void
test_tag_keys_accept_unicode_letters(void **state)
{
    json_t *body = create_domain_body();

    json_object_set_new(body, "Tags",
                        parse("[{\"Key\": \"Gr\xc3\xb6\xc3\x9f" "e\","
                              "  \"Value\": \"Stra\xc3\x9f" "e 5\"},"
                              " {\"Key\": \"\xe6\x97\xa5\xe6\x9c\xac\","
                              "  \"Value\": \"\xd9\xa3\"}]"));
    expect_valid("CreateDomain", body);

    body = create_domain_body();
    json_object_set_new(body, "Tags",
                        parse("[{\"Key\": \"a;b\", \"Value\": \"v\"}]"));
    expect_message("CreateDomain", body,
                   "1 validation error detected: Value at 'Tags.0.Key' "
                   "failed to satisfy constraint: Member must satisfy "
                   "regular expression pattern: "
                   "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$");
}


/* A shape that contains itself, which the Voice ID model has not, to show
 * the depth guard works. */
static const struct model_shape node_shape;
static const struct model_member node_members[] = {
    { .name = "Next", .shape = &node_shape },
};
static const struct model_shape node_shape = {
    .name = "Node",
    .type = MODEL_STRUCTURE,
    .members = node_members,
    .n_members = 1,
};


static void
test_recursion_depth_is_bounded(void **state)
{
    json_t *body = json_object();
    json_t *inner = body;
    json_t *next;
    char *message = NULL;
    int i;

    for (i = 0; i < 40; i++) {
        next = json_object();
        json_object_set_new(inner, "Next", next);
        inner = next;
    }
    assert_int_equal(check_shape(&node_shape, body, &message), ERR_INVAL);
    assert_non_null(strstr(message, "1 validation error detected: Value at "
                           "'Next.Next."));
    assert_non_null(strstr(message, "Member must not be nested more than "
                           "32 levels deep"));
    free(message);
}


static void *
validate_many(void *arg)
{
    const struct model_operation *op = model_operation_find("CreateDomain");
    char *message;
    json_t *good = create_domain_body();
    json_t *bad = json_pack("{s:s}", "Name", "bad name");
    long failures = 0;
    int i;

    for (i = 0; i < 2000; i++) {
        message = NULL;
        if (validate_request(op->input, good, &message) != 0) {
            failures++;
        }
        if (validate_request(op->input, bad, &message) != ERR_INVAL ||
            strncmp(message, "2 validation errors", 19) != 0) {
            failures++;
        }
        free(message);
    }
    json_decref(good);
    json_decref(bad);
    return (void *)failures;
}


static void
test_concurrent_validation_is_consistent(void **state)
{
    pthread_t threads[8];
    void *failures;
    size_t i;

    /* Start cold so the threads race on the lazy compilation too. */
    validate_fini();
    for (i = 0; i < 8; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, validate_many,
                                        NULL), 0);
    }
    for (i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(threads[i], &failures), 0);
        assert_int_equal((long)failures, 0);
    }
}


static int
teardown_group(void **state)
{
    validate_fini();
    return 0;
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_finds_all_29_operations),
        cmocka_unit_test(test_model_unknown_operation_not_found),
        cmocka_unit_test(test_model_shapes_carry_constraints),
        cmocka_unit_test(test_model_tables_are_sorted),
        cmocka_unit_test(test_every_model_pattern_compiles),
        cmocka_unit_test(test_pattern_check_reports_broken_pattern),
        cmocka_unit_test(test_pattern_check_translates_java_classes),
        cmocka_unit_test(test_create_domain_valid_body_passes),
        cmocka_unit_test(test_missing_required_members_are_reported),
        cmocka_unit_test(test_null_required_member_is_reported),
        cmocka_unit_test(test_null_optional_member_counts_as_absent),
        cmocka_unit_test(test_absent_or_empty_body_checks_required_members),
        cmocka_unit_test(test_body_that_is_not_an_object_is_rejected),
        cmocka_unit_test(test_string_for_integer_is_rejected),
        cmocka_unit_test(test_fraction_for_integer_is_rejected),
        cmocka_unit_test(test_object_for_list_is_rejected),
        cmocka_unit_test(test_wrong_string_and_structure_types_are_rejected),
        cmocka_unit_test(test_boolean_and_timestamp_types_are_checked),
        cmocka_unit_test(test_integer_outside_32_bits_is_rejected),
        cmocka_unit_test(test_name_length_is_checked_in_code_points),
        cmocka_unit_test(test_multibyte_lengths_are_counted_in_code_points),
        cmocka_unit_test(test_domain_id_pattern_violation_is_reported),
        cmocka_unit_test(test_trailing_newline_does_not_satisfy_pattern),
        cmocka_unit_test(test_enum_violation_lists_allowed_values),
        cmocka_unit_test(test_max_results_range_is_enforced),
        cmocka_unit_test(test_tag_list_size_is_enforced),
        cmocka_unit_test(test_nested_paths_name_members_and_indices),
        cmocka_unit_test(test_null_list_element_is_rejected),
        cmocka_unit_test(test_unknown_members_are_rejected),
        cmocka_unit_test(test_key_with_nul_is_not_a_member),
        cmocka_unit_test(test_next_token_must_be_ascii),
        cmocka_unit_test(test_all_errors_are_counted_and_ten_spelled_out),
        cmocka_unit_test(test_sensitive_values_are_not_echoed),
        cmocka_unit_test(test_long_values_are_cut_when_echoed),
        cmocka_unit_test(test_invalid_utf8_is_rejected_without_echo),
        cmocka_unit_test(test_tag_keys_accept_unicode_letters),
        cmocka_unit_test(test_recursion_depth_is_bounded),
        cmocka_unit_test(test_concurrent_validation_is_consistent),
    };

    return cmocka_run_group_tests(tests, NULL, teardown_group);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the response JSON writer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/err.h"
#include "util/json_text.h"


/* Dumps 'v' (taking ownership) and checks the exact text. */
static void
assert_dumps_to(json_t *v, const char *want)
{
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(json_text_dump(v, &text, &len), 0);
    assert_string_equal(text, want);
    assert_int_equal(len, strlen(want));
    free(text);
    json_decref(v);
}


static void
test_objects_keep_insertion_order(void **state)
{
    json_t *o = json_object();

    json_object_set_new(o, "Zeta", json_integer(1));
    json_object_set_new(o, "Alpha", json_true());
    json_object_set_new(o, "Mid", json_null());
    assert_dumps_to(o, "{\"Zeta\":1,\"Alpha\":true,\"Mid\":null}");
}


static void
test_strings_escape_quotes_backslashes_and_controls(void **state)
{
    assert_dumps_to(json_string("a\"b\\c\n\t\x01 d"),
                    "\"a\\\"b\\\\c\\n\\t\\u0001 d\"");
}


static void
test_utf8_passes_through_unchanged(void **state)
{
    assert_dumps_to(json_string("Größe ✓"), "\"Größe ✓\"");
}


static void
test_millisecond_timestamps_print_exactly(void **state)
{
    assert_dumps_to(json_real(1764787200.123), "1764787200.123");
    assert_dumps_to(json_real(1764787200.5), "1764787200.5");
    assert_dumps_to(json_real(1764787200.0), "1764787200.0");
    assert_dumps_to(json_real(-1.25), "-1.25");
    assert_dumps_to(json_real(-0.5), "-0.5");
    assert_dumps_to(json_real(0.0), "0.0");
    assert_dumps_to(json_real(12.01), "12.01");
    assert_dumps_to(json_integer(0), "0");
    assert_dumps_to(json_integer(-9223372036854775807LL - 1),
                    "-9223372036854775808");
    assert_dumps_to(json_integer(9223372036854775807LL),
                    "9223372036854775807");
}


static void
assert_written(struct json_text *w, const char *want)
{
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(json_text_finish(w, &text, &len), 0);
    assert_string_equal(text, want);
    assert_int_equal(len, strlen(want));
    free(text);
}


/* The piecewise writer puts commas where they belong, at every level. */
static void
test_writer_places_commas_and_nests(void **state)
{
    struct json_text w = JSON_TEXT_INIT;
    json_t *tags = json_pack("[{s:s}]", "Key", "a\"b");

    json_text_open(&w, '{');
    json_text_key(&w, "Items");
    json_text_open(&w, '[');
    for (int i = 0; i < 3; i++) {
        json_text_open(&w, '{');
        json_text_key(&w, "N");
        json_text_int(&w, i - 1);
        json_text_key(&w, "At");
        json_text_time(&w, 1764787200.1234);
        json_text_key(&w, "Empty");
        json_text_open(&w, '[');
        json_text_close(&w, ']');
        json_text_close(&w, '}');
    }
    json_text_close(&w, ']');
    json_text_key(&w, "Tags");
    json_text_value(&w, tags);
    json_text_key(&w, "Next");
    json_text_string(&w, "t\n");
    json_text_close(&w, '}');

    assert_written(&w, "{\"Items\":["
                   "{\"N\":-1,\"At\":1764787200.123,\"Empty\":[]},"
                   "{\"N\":0,\"At\":1764787200.123,\"Empty\":[]},"
                   "{\"N\":1,\"At\":1764787200.123,\"Empty\":[]}],"
                   "\"Tags\":[{\"Key\":\"a\\\"b\"}],"
                   "\"Next\":\"t\\n\"}");
    json_decref(tags);
}


/* Rewinding drops what came after the place, commas included. */
static void
test_writer_rewinds_to_a_place(void **state)
{
    struct json_text w = JSON_TEXT_INIT;
    struct json_text_place empty;
    struct json_text_place one;

    json_text_open(&w, '[');
    json_text_int(&w, 1);
    one = json_text_here(&w);
    json_text_int(&w, 2);
    json_text_open(&w, '{');
    json_text_rewind(&w, one);
    json_text_int(&w, 4);
    json_text_close(&w, ']');
    assert_written(&w, "[1,4]");

    json_text_open(&w, '[');
    empty = json_text_here(&w);
    json_text_int(&w, 1);
    json_text_rewind(&w, empty);
    json_text_int(&w, 5);
    json_text_close(&w, ']');
    assert_written(&w, "[5]");
}


/* Brackets left open, or closed too often, are errors, and the text is
 * freed; the writer is ready for reuse. */
static void
test_writer_refuses_unbalanced_text(void **state)
{
    struct json_text w = JSON_TEXT_INIT;
    char *text = NULL;
    size_t len = 0;

    json_text_open(&w, '{');
    assert_int_equal(json_text_finish(&w, &text, &len), ERR_INVAL);
    assert_null(text);

    json_text_close(&w, '}');
    assert_int_equal(json_text_finish(&w, &text, &len), ERR_INVAL);

    for (int i = 0; i <= JSON_TEXT_MAX_DEPTH; i++)
        json_text_open(&w, '[');
    assert_int_equal(json_text_finish(&w, &text, &len), ERR_INVAL);

    json_text_int(&w, 7);
    assert_written(&w, "7");
}


static void
test_other_reals_round_trip(void **state)
{
    json_t *parsed;
    char *text = NULL;
    size_t len;
    json_t *v = json_real(0.1234567);

    assert_int_equal(json_text_dump(v, &text, &len), 0);
    parsed = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(parsed);
    assert_true(json_real_value(parsed) == 0.1234567);
    json_decref(parsed);
    json_decref(v);
    free(text);
}


static void
test_nested_arrays_and_empty_containers(void **state)
{
    json_t *v = json_pack("{s:[i,{},[]],s:{}}", "List", -7, "Empty");

    assert_dumps_to(v, "{\"List\":[-7,{},[]],\"Empty\":{}}");
}


static void
test_output_parses_back_to_an_equal_tree(void **state)
{
    json_t *v = json_pack("{s:s,s:[{s:s,s:f}],s:b}", "Name", "x\"y",
                          "Tags", "Key", "k\u00e9", "At", 12.5, "On", 1);
    json_t *parsed;
    char *text = NULL;
    size_t len;

    assert_int_equal(json_text_dump(v, &text, &len), 0);
    parsed = json_loads(text, 0, NULL);
    assert_non_null(parsed);
    assert_true(json_equal(parsed, v));
    json_decref(parsed);
    json_decref(v);
    free(text);
}


static void
test_deep_nesting_is_refused_and_output_untouched(void **state)
{
    json_t *v = json_object();
    char *text = (char *)"untouched";
    size_t len = 42;

    for (int i = 0; i < 70; i++) {
        json_t *inner = json_object();

        json_object_set_new(inner, "x", v);
        v = inner;
    }
    assert_int_equal(json_text_dump(v, &text, &len), ERR_INVAL);
    assert_string_equal(text, "untouched");
    assert_int_equal(len, 42);
    json_decref(v);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objects_keep_insertion_order),
        cmocka_unit_test(test_strings_escape_quotes_backslashes_and_controls),
        cmocka_unit_test(test_utf8_passes_through_unchanged),
        cmocka_unit_test(test_millisecond_timestamps_print_exactly),
        cmocka_unit_test(test_other_reals_round_trip),
        cmocka_unit_test(test_writer_places_commas_and_nests),
        cmocka_unit_test(test_writer_refuses_unbalanced_text),
        cmocka_unit_test(test_writer_rewinds_to_a_place),
        cmocka_unit_test(test_nested_arrays_and_empty_containers),
        cmocka_unit_test(test_output_parses_back_to_an_equal_tree),
        cmocka_unit_test(test_deep_nesting_is_refused_and_output_untouched),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

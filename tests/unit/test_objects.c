/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the object store: URI rules and the local backend. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "objects/objects.h"
#include "util/err.h"

#define BASE_DIR "/tmp/helper-objects"

/* Per-test fixture: a data folder with an objects store and bucket "bkt",
 * and a folder outside the store that links try to reach. */
struct fixture {
    char data_dir[128];
    char root[160];         /* <data_dir>/objects */
    char outside[128];
    struct objects *o;
    char msg[512];
};


static int
remove_entry(const char *path, const struct stat *st, int flag,
             struct FTW *ftw)
{
    return remove(path);
}


static void
remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}


static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[256];

    assert_non_null(f);
    mkdir(BASE_DIR, 0700);
    strcpy(f->data_dir, BASE_DIR "/data-XXXXXX");
    assert_non_null(mkdtemp(f->data_dir));
    strcpy(f->outside, BASE_DIR "/outside-XXXXXX");
    assert_non_null(mkdtemp(f->outside));
    snprintf(f->root, sizeof(f->root), "%s/objects", f->data_dir);

    assert_int_equal(objects_open(f->data_dir, &f->o, f->msg,
                                  sizeof(f->msg)), 0);
    snprintf(path, sizeof(path), "%s/bkt", f->root);
    assert_int_equal(mkdir(path, 0700), 0);
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    struct fixture *f = *state;

    objects_close(f->o);
    remove_tree(f->data_dir);
    remove_tree(f->outside);
    free(f);
    return 0;
}


/* Writes 'text' to the file at <dir>/<name>. */
static void
write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}


/* Number of entries of folder 'path' other than "." and "..". */
static int
count_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}


static void
assert_get_text(struct fixture *f, const char *uri, const char *want)
{
    unsigned char *data = NULL;
    size_t len = 0;

    assert_int_equal(objects_get(f->o, uri, 1 << 20, &data, &len, f->msg,
                                 sizeof(f->msg)), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(data, want, len);
    assert_int_equal(data[len], '\0');
    free(data);
}


static void
test_uri_parse_accepts_valid_uris(void **state)
{
    struct objects_uri u;
    char msg[256];
    char long_uri[16 + OBJECTS_KEY_MAX];
    const char *uri;

    uri = "s3://my-bucket.v2/calls/2024/a.b.wav";
    assert_int_equal(objects_uri_parse(uri, strlen(uri), &u, msg,
                                       sizeof(msg)), 0);
    assert_string_equal(u.bucket, "my-bucket.v2");
    assert_string_equal(u.key, "calls/2024/a.b.wav");

    uri = "s3://abc";
    assert_int_equal(objects_uri_parse(uri, strlen(uri), &u, msg,
                                       sizeof(msg)), 0);
    assert_string_equal(u.bucket, "abc");
    assert_string_equal(u.key, "");

    uri = "s3://abc/";
    assert_int_equal(objects_uri_parse(uri, strlen(uri), &u, msg,
                                       sizeof(msg)), 0);
    assert_string_equal(u.key, "");

    uri = "s3://abc/.hidden/x y+z";
    assert_int_equal(objects_uri_parse(uri, strlen(uri), &u, msg,
                                       sizeof(msg)), 0);
    assert_string_equal(u.key, ".hidden/x y+z");

    /* Exactly 1024 bytes of key is the most allowed. */
    strcpy(long_uri, "s3://abc/");
    memset(long_uri + 9, 'k', OBJECTS_KEY_MAX);
    long_uri[9 + OBJECTS_KEY_MAX] = '\0';
    assert_int_equal(objects_uri_parse(long_uri, strlen(long_uri), &u, msg,
                                       sizeof(msg)), 0);
    assert_int_equal(strlen(u.key), OBJECTS_KEY_MAX);

    /* A 63-character bucket is the longest allowed. */
    strcpy(long_uri, "s3://");
    memset(long_uri + 5, 'b', 63);
    strcpy(long_uri + 5 + 63, "/k");
    assert_int_equal(objects_uri_parse(long_uri, strlen(long_uri), &u, msg,
                                       sizeof(msg)), 0);
    assert_int_equal(strlen(u.bucket), 63);
}


static void
test_uri_parse_refuses_each_rule_with_its_reason(void **state)
{
    static const struct {
        const char *uri;
        const char *reason;
    } cases[] = {
        {"http://abc/k", "does not start with s3://"},
        {"S3://abc/k", "does not start with s3://"},
        {"s3:/abc/k", "does not start with s3://"},
        {"s3://ab/k", "3 to 63 characters"},
        {"s3:///k", "3 to 63 characters"},
        {"s3://ABC/k", "only a-z, 0-9"},
        {"s3://a_b/k", "only a-z, 0-9"},
        {"s3://-abc/k", "start and end with a letter or digit"},
        {"s3://abc./k", "start and end with a letter or digit"},
        {"s3://abc//etc/passwd", "key starts with '/'"},
        {"s3://abc/a//b", "empty segment"},
        {"s3://abc/a/", "empty segment"},
        {"s3://abc/./a", "'.' segment"},
        {"s3://abc/a/.", "'.' segment"},
        {"s3://abc/../x", "contains '..'"},
        {"s3://abc/a/..", "contains '..'"},
        {"s3://abc/a..b", "contains '..'"},
        {"s3://abc/a\\b", "backslash"},
        {"s3://abc/a\tb", "control character"},
        {"s3://abc/a\nb", "control character"},
        {"s3://abc/a\x7f", "control character"},
    };
    struct objects_uri u;
    char msg[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&u, 0x5a, sizeof(u));
        msg[0] = '\0';
        assert_int_equal(objects_uri_parse(cases[i].uri,
                                           strlen(cases[i].uri), &u, msg,
                                           sizeof(msg)), ERR_INVAL);
        if (strstr(msg, cases[i].reason) == NULL)
            fail_msg("'%s': message '%s' lacks '%s'", cases[i].uri, msg,
                     cases[i].reason);
        /* The URI is named, and the output stays untouched. */
        assert_int_equal(strncmp(msg, cases[i].uri, 5), 0);
        assert_int_equal(u.bucket[0], 0x5a);
    }
}


static void
test_uri_parse_refuses_long_keys_and_nul_bytes(void **state)
{
    struct objects_uri u;
    char msg[256];
    char uri[16 + OBJECTS_KEY_MAX + 1];
    static const char with_nul[] = "s3://abc/a\0b";

    strcpy(uri, "s3://abc/");
    memset(uri + 9, 'k', OBJECTS_KEY_MAX + 1);
    uri[9 + OBJECTS_KEY_MAX + 1] = '\0';
    assert_int_equal(objects_uri_parse(uri, strlen(uri), &u, msg,
                                       sizeof(msg)), ERR_INVAL);
    assert_non_null(strstr(msg, "longer than 1024 bytes"));
    /* Long URIs are quoted shortened. */
    assert_non_null(strstr(msg, "s3://abc/kkk"));
    assert_non_null(strstr(msg, "..."));

    strcpy(uri, "s3://");
    memset(uri + 5, 'b', 64);
    strcpy(uri + 5 + 64, "/k");
    assert_int_equal(objects_uri_parse(uri, strlen(uri), &u, msg,
                                       sizeof(msg)), ERR_INVAL);
    assert_non_null(strstr(msg, "3 to 63 characters"));

    assert_int_equal(objects_uri_parse(with_nul, sizeof(with_nul) - 1, &u,
                                       msg, sizeof(msg)), ERR_INVAL);
    assert_non_null(strstr(msg, "NUL byte"));
    assert_null(strchr(msg, '\n'));
}


static void
test_uri_message_replaces_control_characters(void **state)
{
    struct objects_uri u;
    char msg[256];
    const char *uri = "s3://abc/x\ny\tz";

    assert_int_equal(objects_uri_parse(uri, strlen(uri), &u, msg,
                                       sizeof(msg)), ERR_INVAL);
    assert_null(strchr(msg, '\n'));
    assert_null(strchr(msg, '\t'));
    assert_non_null(strstr(msg, "s3://abc/x?y?z"));
}


static void
test_open_creates_objects_folder_and_checks_arguments(void **state)
{
    struct fixture *f = *state;
    struct stat st;
    struct objects *o = NULL;
    char missing[256];

    assert_int_equal(stat(f->root, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);

    assert_int_equal(objects_open(NULL, &o, NULL, 0), ERR_INVAL);
    snprintf(missing, sizeof(missing), "%s/no/such", f->data_dir);
    assert_int_equal(objects_open(missing, &o, f->msg, sizeof(f->msg)),
                     ERR_IO);
    assert_null(o);
    assert_non_null(strstr(f->msg, "cannot create"));
    objects_close(NULL);
}


static void
test_put_then_get_round_trips(void **state)
{
    struct fixture *f = *state;
    char buf[64];
    char path[512];
    char want[512];
    size_t size = 0;
    int fd = -1;

    assert_int_equal(objects_put(f->o, "s3://bkt/hello.txt", "hello world",
                                 11, f->msg, sizeof(f->msg)), 0);
    assert_get_text(f, "s3://bkt/hello.txt", "hello world");

    assert_int_equal(objects_stat(f->o, "s3://bkt/hello.txt", &size, f->msg,
                                  sizeof(f->msg)), 0);
    assert_int_equal(size, 11);

    assert_int_equal(objects_open_read(f->o, "s3://bkt/hello.txt", &fd,
                                       &size, f->msg, sizeof(f->msg)), 0);
    assert_true(fd >= 0);
    assert_int_equal(size, 11);
    assert_int_equal(read(fd, buf, sizeof(buf)), 11);
    assert_memory_equal(buf, "hello world", 11);
    close(fd);

    assert_int_equal(objects_local_path(f->o, "s3://bkt/hello.txt", path,
                                        sizeof(path), f->msg,
                                        sizeof(f->msg)), 0);
    snprintf(want, sizeof(want), "%s/bkt/hello.txt", f->root);
    assert_string_equal(path, want);

    /* An empty object is an object too. */
    assert_int_equal(objects_put(f->o, "s3://bkt/empty", NULL, 0, f->msg,
                                 sizeof(f->msg)), 0);
    assert_get_text(f, "s3://bkt/empty", "");
}


static void
test_put_replaces_whole_object_and_leaves_no_temp_files(void **state)
{
    struct fixture *f = *state;
    char dir[256];
    char big[5000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(objects_put(f->o, "s3://bkt/obj", big, strlen(big),
                                 f->msg, sizeof(f->msg)), 0);
    assert_int_equal(objects_put(f->o, "s3://bkt/obj", "short", 5, f->msg,
                                 sizeof(f->msg)), 0);
    assert_get_text(f, "s3://bkt/obj", "short");

    snprintf(dir, sizeof(dir), "%s/bkt", f->root);
    assert_int_equal(count_entries(dir), 1);
}


static void
test_put_creates_key_folders_but_not_buckets(void **state)
{
    struct fixture *f = *state;
    struct stat st;
    char path[512];

    assert_int_equal(objects_put(f->o, "s3://bkt/out/job1/result.json",
                                 "{}", 2, f->msg, sizeof(f->msg)), 0);
    snprintf(path, sizeof(path), "%s/bkt/out/job1", f->root);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_get_text(f, "s3://bkt/out/job1/result.json", "{}");

    assert_int_equal(objects_put(f->o, "s3://nobucket/a/b", "x", 1, f->msg,
                                 sizeof(f->msg)), ERR_NOTFOUND);
    assert_non_null(strstr(f->msg, "s3://nobucket/a/b: no such bucket "
                           "'nobucket'"));
    snprintf(path, sizeof(path), "%s/nobucket", f->root);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(errno, ENOENT);
}


static void
test_get_reports_missing_bucket_and_key(void **state)
{
    struct fixture *f = *state;
    unsigned char *data = (unsigned char *)"untouched";
    size_t len = 77;
    size_t size = 0;

    assert_int_equal(objects_get(f->o, "s3://nobucket/k", 100, &data, &len,
                                 f->msg, sizeof(f->msg)), ERR_NOTFOUND);
    assert_non_null(strstr(f->msg, "no such bucket 'nobucket'"));
    assert_string_equal((char *)data, "untouched");
    assert_int_equal(len, 77);

    assert_int_equal(objects_get(f->o, "s3://bkt/missing/k", 100, &data,
                                 &len, f->msg, sizeof(f->msg)),
                     ERR_NOTFOUND);
    assert_non_null(strstr(f->msg, "s3://bkt/missing/k: no such key"));
    assert_int_equal(objects_stat(f->o, "s3://bkt/k", &size, f->msg,
                                  sizeof(f->msg)), ERR_NOTFOUND);
    assert_non_null(strstr(f->msg, "s3://bkt/k: no such key"));

    /* A bucket alone is not an object. */
    assert_int_equal(objects_get(f->o, "s3://bkt", 100, &data, &len,
                                 f->msg, sizeof(f->msg)), ERR_INVAL);
    assert_non_null(strstr(f->msg, "names a bucket, not an object"));
}


static void
test_folders_and_objects_do_not_stand_in_for_each_other(void **state)
{
    struct fixture *f = *state;
    unsigned char *data = NULL;
    size_t len = 0;

    assert_int_equal(objects_put(f->o, "s3://bkt/d/inner", "1", 1, f->msg,
                                 sizeof(f->msg)), 0);
    assert_int_equal(objects_get(f->o, "s3://bkt/d", 100, &data, &len,
                                 f->msg, sizeof(f->msg)), ERR_NOTFOUND);
    assert_non_null(strstr(f->msg, "it is a folder"));
    assert_int_equal(objects_put(f->o, "s3://bkt/d", "2", 1, f->msg,
                                 sizeof(f->msg)), ERR_EXISTS);

    assert_int_equal(objects_get(f->o, "s3://bkt/d/inner/x", 100, &data,
                                 &len, f->msg, sizeof(f->msg)),
                     ERR_NOTFOUND);
    assert_int_equal(objects_put(f->o, "s3://bkt/d/inner/x", "3", 1,
                                 f->msg, sizeof(f->msg)), ERR_EXISTS);
    assert_non_null(strstr(f->msg, "'inner' is an object, not a folder"));
    assert_get_text(f, "s3://bkt/d/inner", "1");
}


static void
test_get_refuses_objects_over_the_limit(void **state)
{
    struct fixture *f = *state;
    unsigned char *data = NULL;
    size_t len = 0;
    char payload[100];

    memset(payload, 'p', sizeof(payload));
    assert_int_equal(objects_put(f->o, "s3://bkt/p", payload,
                                 sizeof(payload), f->msg, sizeof(f->msg)),
                     0);
    assert_int_equal(objects_get(f->o, "s3://bkt/p", 99, &data, &len,
                                 f->msg, sizeof(f->msg)), ERR_TOOBIG);
    assert_null(data);
    assert_non_null(strstr(f->msg, "100 bytes"));

    assert_int_equal(objects_get(f->o, "s3://bkt/p", 100, &data, &len,
                                 f->msg, sizeof(f->msg)), 0);
    assert_int_equal(len, 100);
    assert_memory_equal(data, payload, 100);
    free(data);
}


/* The check a job makes of its output location before it starts. */
static void
test_bucket_check_finds_missing_and_linked_buckets(void **state)
{
    struct fixture *f = *state;
    char link[512];

    assert_int_equal(objects_bucket_check(f->o, "s3://bkt/out/x", f->msg,
                                          sizeof(f->msg)), 0);
    assert_int_equal(objects_bucket_check(f->o, "s3://bkt", f->msg,
                                          sizeof(f->msg)), 0);
    assert_int_equal(objects_bucket_check(f->o, "s3://nobucket/out/x",
                                          f->msg, sizeof(f->msg)),
                     ERR_NOTFOUND);
    assert_non_null(strstr(f->msg, "no such bucket 'nobucket'"));

    snprintf(link, sizeof(link), "%s/lnkbucket", f->root);
    assert_int_equal(symlink(f->outside, link), 0);
    assert_int_equal(objects_bucket_check(f->o, "s3://lnkbucket/out/x",
                                          f->msg, sizeof(f->msg)),
                     ERR_DENIED);
    assert_int_equal(objects_bucket_check(f->o, "s3://../out/x", f->msg,
                                          sizeof(f->msg)), ERR_INVAL);
    assert_int_equal(objects_bucket_check(f->o, NULL, f->msg,
                                          sizeof(f->msg)), ERR_INVAL);
}


static void
test_symlink_in_the_middle_is_refused(void **state)
{
    struct fixture *f = *state;
    unsigned char *data = NULL;
    size_t len = 0;
    size_t size = 0;
    char path[512];
    char link[512];

    write_file(f->outside, "secret", "s3cr3t");
    snprintf(link, sizeof(link), "%s/bkt/link", f->root);
    assert_int_equal(symlink(f->outside, link), 0);

    assert_int_equal(objects_get(f->o, "s3://bkt/link/secret", 100, &data,
                                 &len, f->msg, sizeof(f->msg)), ERR_DENIED);
    assert_string_equal(f->msg, "s3://bkt/link/secret: path goes through "
                        "a symbolic link");
    assert_null(data);
    assert_int_equal(objects_stat(f->o, "s3://bkt/link/secret", &size,
                                  f->msg, sizeof(f->msg)), ERR_DENIED);
    assert_int_equal(objects_local_path(f->o, "s3://bkt/link/secret", path,
                                        sizeof(path), f->msg,
                                        sizeof(f->msg)), ERR_DENIED);

    assert_int_equal(objects_put(f->o, "s3://bkt/link/new", "x", 1, f->msg,
                                 sizeof(f->msg)), ERR_DENIED);
    assert_int_equal(objects_put(f->o, "s3://bkt/link/sub/new", "x", 1,
                                 f->msg, sizeof(f->msg)), ERR_DENIED);
    assert_int_equal(count_entries(f->outside), 1);

    /* A bucket that is a link is refused the same way. */
    snprintf(link, sizeof(link), "%s/lnkbucket", f->root);
    assert_int_equal(symlink(f->outside, link), 0);
    assert_int_equal(objects_get(f->o, "s3://lnkbucket/secret", 100, &data,
                                 &len, f->msg, sizeof(f->msg)), ERR_DENIED);
    assert_int_equal(objects_put(f->o, "s3://lnkbucket/new", "x", 1,
                                 f->msg, sizeof(f->msg)), ERR_DENIED);
    assert_int_equal(count_entries(f->outside), 1);
}


static void
test_symlink_as_last_component_is_refused(void **state)
{
    struct fixture *f = *state;
    unsigned char *data = NULL;
    size_t len = 0;
    size_t size = 0;
    int fd = -1;
    char secret[512];
    char link[512];

    write_file(f->outside, "secret", "s3cr3t");
    snprintf(secret, sizeof(secret), "%s/secret", f->outside);
    snprintf(link, sizeof(link), "%s/bkt/final", f->root);
    assert_int_equal(symlink(secret, link), 0);

    assert_int_equal(objects_get(f->o, "s3://bkt/final", 100, &data, &len,
                                 f->msg, sizeof(f->msg)), ERR_DENIED);
    assert_non_null(strstr(f->msg, "path goes through a symbolic link"));
    assert_int_equal(objects_open_read(f->o, "s3://bkt/final", &fd, &size,
                                       f->msg, sizeof(f->msg)), ERR_DENIED);
    assert_int_equal(fd, -1);
    assert_int_equal(objects_put(f->o, "s3://bkt/final", "pwned", 5,
                                 f->msg, sizeof(f->msg)), ERR_DENIED);

    /* The file the link points at is unchanged. */
    assert_int_equal(stat(secret, &(struct stat){0}), 0);
    {
        FILE *fp = fopen(secret, "r");
        char buf[16] = {0};

        assert_non_null(fp);
        assert_int_equal(fread(buf, 1, sizeof(buf) - 1, fp), 6);
        fclose(fp);
        assert_string_equal(buf, "s3cr3t");
    }
}


static void
test_dot_dot_and_absolute_keys_are_refused_by_every_call(void **state)
{
    struct fixture *f = *state;
    unsigned char *data = NULL;
    size_t len = 0;
    size_t size = 0;
    char path[512];

    write_file(f->data_dir, "escaped", "no");
    assert_int_equal(objects_get(f->o, "s3://bkt/../../escaped", 100, &data,
                                 &len, f->msg, sizeof(f->msg)), ERR_INVAL);
    assert_non_null(strstr(f->msg, "contains '..'"));
    assert_int_equal(objects_put(f->o, "s3://bkt/../../pwned", "x", 1,
                                 f->msg, sizeof(f->msg)), ERR_INVAL);
    assert_int_equal(objects_put(f->o, "s3://bkt//tmp/pwned", "x", 1,
                                 f->msg, sizeof(f->msg)), ERR_INVAL);
    assert_non_null(strstr(f->msg, "key starts with '/'"));
    assert_int_equal(objects_stat(f->o, "s3://bkt/./x", &size, f->msg,
                                  sizeof(f->msg)), ERR_INVAL);
    assert_int_equal(objects_local_path(f->o, "s3://bkt/a/../x", path,
                                        sizeof(path), f->msg,
                                        sizeof(f->msg)), ERR_INVAL);
    assert_int_equal(objects_get(f->o, NULL, 100, &data, &len, f->msg,
                                 sizeof(f->msg)), ERR_INVAL);
    assert_int_equal(count_entries(f->data_dir), 2);
}


static void
test_special_files_are_not_objects(void **state)
{
    struct fixture *f = *state;
    unsigned char *data = NULL;
    size_t len = 0;
    char path[512];

    /* Opening a FIFO must neither block nor be read as an object. */
    snprintf(path, sizeof(path), "%s/bkt/fifo", f->root);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(objects_get(f->o, "s3://bkt/fifo", 100, &data, &len,
                                 f->msg, sizeof(f->msg)), ERR_NOTFOUND);
    assert_non_null(strstr(f->msg, "special file"));
}


static void
test_local_path_refuses_a_small_buffer(void **state)
{
    struct fixture *f = *state;
    char path[8] = "same";

    assert_int_equal(objects_put(f->o, "s3://bkt/k", "x", 1, f->msg,
                                 sizeof(f->msg)), 0);
    assert_int_equal(objects_local_path(f->o, "s3://bkt/k", path,
                                        sizeof(path), f->msg,
                                        sizeof(f->msg)), ERR_TOOBIG);
    assert_string_equal(path, "same");
}


#define RACE_WRITERS 4
#define RACE_ROUNDS 50
#define RACE_SIZE (64 * 1024)

struct race {
    struct objects *o;
    unsigned char fill;
    int failures;           /* puts that failed, or torn reads seen */
};


/* Puts RACE_ROUNDS objects of RACE_SIZE bytes all equal to 'fill'. */
static void *
race_writer(void *arg)
{
    struct race *r = arg;
    unsigned char *buf = malloc(RACE_SIZE);

    memset(buf, r->fill, RACE_SIZE);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        if (objects_put(r->o, "s3://bkt/race/obj", buf, RACE_SIZE, NULL,
                        0) != 0)
            r->failures++;
    }
    free(buf);
    return NULL;
}


/* Reads the object while writers run: every read is one whole version. */
static void *
race_reader(void *arg)
{
    struct race *r = arg;

    for (int i = 0; i < RACE_ROUNDS * 2; i++) {
        unsigned char *data = NULL;
        size_t len = 0;
        int rc = objects_get(r->o, "s3://bkt/race/obj", RACE_SIZE, &data,
                             &len, NULL, 0);

        if (rc == ERR_NOTFOUND)
            continue;
        if (rc != 0 || len != RACE_SIZE) {
            r->failures++;
        } else {
            for (size_t j = 1; j < len; j++) {
                if (data[j] != data[0]) {
                    r->failures++;
                    break;
                }
            }
        }
        free(data);
    }
    return NULL;
}


static void
test_concurrent_puts_leave_one_whole_version(void **state)
{
    struct fixture *f = *state;
    pthread_t th[RACE_WRITERS + 1];
    struct race r[RACE_WRITERS + 1];
    unsigned char *data = NULL;
    size_t len = 0;
    char dir[256];

    for (int i = 0; i <= RACE_WRITERS; i++) {
        r[i].o = f->o;
        r[i].fill = (unsigned char)('A' + i);
        r[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, i < RACE_WRITERS ?
                                        race_writer : race_reader, &r[i]),
                         0);
    }
    for (int i = 0; i <= RACE_WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].failures, 0);
    }

    assert_int_equal(objects_get(f->o, "s3://bkt/race/obj", RACE_SIZE,
                                 &data, &len, f->msg, sizeof(f->msg)), 0);
    assert_int_equal(len, RACE_SIZE);
    assert_true(data[0] >= 'A' && data[0] < 'A' + RACE_WRITERS);
    for (size_t j = 1; j < len; j++)
        assert_int_equal(data[j], data[0]);
    free(data);

    snprintf(dir, sizeof(dir), "%s/bkt/race", f->root);
    assert_int_equal(count_entries(dir), 1);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_parse_accepts_valid_uris),
        cmocka_unit_test(test_uri_parse_refuses_each_rule_with_its_reason),
        cmocka_unit_test(test_uri_parse_refuses_long_keys_and_nul_bytes),
        cmocka_unit_test(test_uri_message_replaces_control_characters),
        cmocka_unit_test_setup_teardown(
            test_open_creates_objects_folder_and_checks_arguments, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_bucket_check_finds_missing_and_linked_buckets, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_put_then_get_round_trips,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_put_replaces_whole_object_and_leaves_no_temp_files, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_put_creates_key_folders_but_not_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_get_reports_missing_bucket_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_folders_and_objects_do_not_stand_in_for_each_other, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_get_refuses_objects_over_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_symlink_in_the_middle_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_symlink_as_last_component_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_dot_dot_and_absolute_keys_are_refused_by_every_call, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_special_files_are_not_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_local_path_refuses_a_small_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_concurrent_puts_leave_one_whole_version, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

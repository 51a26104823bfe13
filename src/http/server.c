/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd glue: request state, body limits, SigV4, rate limits and
 * the reply headers.
 *
 * libmicrohttpd calls the access handler several times per request:
 *
 *   first call     → route (healthz, 404, 405) and check Content-Length
 *   upload chunks  → append to the body until the limit, then refuse
 *   last call      → authenticate, rate-limit, hand over to the api layer
 *
 * A refusal queued before the body has been read makes libmicrohttpd close
 * the connection after the reply, so an upload whose Content-Length is too
 * big is never read. A chunked upload can only be refused once it ends.
 * The per-request state lives in 'struct request' and is freed by the
 * completion callback whatever happened.
 */
#include "http/server.h"

#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>

#include "api/api.h"
#include "http/credentials.h"
#include "http/ratelimit.h"
#include "http/sigv4.h"
#include "util/err.h"
#include "util/ids.h"
#include "util/log.h"

#define JSON_CONTENT_TYPE "application/x-amz-json-1.0"
#define MAX_HEADERS 128
#define MAX_QUERY_BYTES 4096
#define MAX_DRAIN_BYTES (64u << 20)
#define SIGV4_SERVICE "voiceid"
#define SIGV4_MAX_SKEW_S (15 * 60)

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_server_options opts;
    int port;
};

struct request {
    char id[IDS_REQUEST_LEN + 1];
    char tag[IDS_REQUEST_LEN + 8];      /* "req=<id>" for logs */
    char *body;
    size_t body_len;
    size_t body_cap;
    bool refused;                        /* a reply is already queued */
    bool too_big;                        /* the body passed the limit */
    bool health;                         /* GET /healthz */
    size_t drained;                      /* bytes discarded since then */
    struct timespec started;
};

struct header_list {
    struct sigv4_header items[MAX_HEADERS];
    size_t n;
    bool overflow;
};


static double
elapsed_ms(const struct timespec *since)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) * 1e3
           + (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}


/* Queues 'body' (taking ownership of it) with the Voice ID headers. */
static enum MHD_Result
send_reply(struct MHD_Connection *conn, struct request *rq, int status,
           char *body, size_t body_len, const char *error_type)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(body_len, body,
                                           MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", JSON_CONTENT_TYPE);
    MHD_add_response_header(resp, "x-amzn-RequestId", rq->id);
    if (error_type)
        MHD_add_response_header(resp, "x-amzn-ErrorType", error_type);

    ret = MHD_queue_response(conn, (unsigned int)status, resp);
    MHD_destroy_response(resp);
    return ret;
}


static enum MHD_Result
send_api_reply(struct MHD_Connection *conn, struct request *rq,
               struct api_reply *reply)
{
    enum MHD_Result ret;

    ret = send_reply(conn, rq, reply->http_status, reply->body,
                     reply->body_len, reply->error_type);
    reply->body = NULL;     /* now owned by the response */
    return ret;
}


static enum MHD_Result
send_error(struct MHD_Connection *conn, struct request *rq, int status,
           const char *type, const char *message)
{
    struct api_reply reply;

    api_reply_error(&reply, status, type, message);
    rq->refused = true;
    log_msg(status >= 500 ? LOG_ERROR : LOG_INFO, "http", rq->tag,
            "refused with %d %s: %s", status, type, message);
    return send_api_reply(conn, rq, &reply);
}


static enum MHD_Result
send_health(struct MHD_Connection *conn, struct request *rq)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(sizeof(ok) - 1, (void *)ok,
                                           MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "x-amzn-RequestId", rq->id);
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}


static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
               const char *value)
{
    struct header_list *list = cls;

    if (list->n == MAX_HEADERS) {
        list->overflow = true;
        return MHD_NO;
    }
    list->items[list->n].name = key;
    list->items[list->n].value = value ? value : "";
    list->n++;
    return MHD_YES;
}


struct query_builder {
    char text[MAX_QUERY_BYTES];
    size_t len;
    bool overflow;
};


/* Rebuilds the raw query string; arguments stay escaped because the
 * server's unescape callback leaves them as received. */
static enum MHD_Result
collect_argument(void *cls, enum MHD_ValueKind kind, const char *key,
                 const char *value)
{
    struct query_builder *q = cls;
    int n;

    n = snprintf(q->text + q->len, sizeof(q->text) - q->len, "%s%s%s%s",
                 q->len ? "&" : "", key, value ? "=" : "",
                 value ? value : "");
    if (n < 0 || (size_t)n >= sizeof(q->text) - q->len) {
        q->overflow = true;
        return MHD_NO;
    }
    q->len += (size_t)n;
    return MHD_YES;
}


/* Verifies the signature; on success fills 'who'. Otherwise queues the
 * refusal and returns false. */
static bool
authenticate(struct http_server *srv, struct MHD_Connection *conn,
             struct request *rq, const char *url, const char *method,
             struct sigv4_identity *who, enum MHD_Result *ret)
{
    struct header_list headers;
    struct query_builder query;
    struct sigv4_request sreq;
    enum sigv4_status st;
    char msg[512];

    /* Only the counters: zeroing the arrays would cost more than the
     * request's own parsing. */
    headers.n = 0;
    headers.overflow = false;
    query.len = 0;
    query.text[0] = '\0';
    query.overflow = false;

    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header,
                              &headers);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_argument,
                              &query);
    if (headers.overflow || query.overflow) {
        *ret = send_error(conn, rq, 400, "IncompleteSignatureException",
                          "too many headers or query parameters to verify "
                          "the signature");
        return false;
    }

    sreq = (struct sigv4_request){
        .method = method,
        .path = url,
        .query = query.text,
        .headers = headers.items,
        .n_headers = headers.n,
        .body = rq->body ? rq->body : "",
        .body_len = rq->body_len,
    };
    st = sigv4_verify(&sreq, srv->opts.creds, SIGV4_SERVICE, time(NULL),
                      SIGV4_MAX_SKEW_S, who, msg, sizeof(msg));
    if (st == SIGV4_OK)
        return true;

    log_msg(LOG_WARN, "http", rq->tag, "signature refused: %s", msg);
    *ret = send_error(conn, rq, sigv4_status_http(st),
                      sigv4_status_error_name(st), msg);
    return false;
}


static bool
content_type_ok(struct MHD_Connection *conn)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 "Content-Type");
    size_t n = strlen(JSON_CONTENT_TYPE);

    if (ct == NULL || strncasecmp(ct, JSON_CONTENT_TYPE, n) != 0)
        return false;
    /* Allow parameters such as "; charset=utf-8", nothing else. */
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}


static enum MHD_Result
handle_call(struct http_server *srv, struct MHD_Connection *conn,
            struct request *rq, const char *url, const char *method)
{
    struct sigv4_identity who;
    struct api_call call;
    struct api_reply reply;
    enum MHD_Result ret = MHD_NO;
    char msg[256];
    bool failed;

    if (!authenticate(srv, conn, rq, url, method, &who, &ret))
        return ret;

    if (srv->opts.ratelimit
        && !ratelimit_allow(srv->opts.ratelimit, who.account,
                            (double)time(NULL))) {
        return send_error(conn, rq, 400, "ThrottlingException",
                          "request rate for this account exceeds the "
                          "configured limit; slow down and retry");
    }

    if (!content_type_ok(conn)) {
        snprintf(msg, sizeof(msg), "Content-Type must be %s",
                 JSON_CONTENT_TYPE);
        return send_error(conn, rq, 415, "UnsupportedMediaTypeException",
                          msg);
    }

    call = (struct api_call){
        .request_id = rq->id,
        .account = who.account,
        .region = who.region,
        .target = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                              "X-Amz-Target"),
        .body = rq->body ? rq->body : "",
        .body_len = rq->body_len,
    };
    api_handle(srv->opts.env, &call, &reply);

    /* 501 marks a feature not built yet, not a failure of the server. */
    failed = reply.http_status >= 500 && reply.http_status != 501;
    log_msg(failed ? LOG_ERROR : LOG_DEBUG, "http",
            rq->tag, "%s account=%s status=%d%s%s in %.2f ms",
            call.target ? call.target : "-", who.account,
            reply.http_status, reply.error_type ? " error=" : "",
            reply.error_type ? reply.error_type : "",
            elapsed_ms(&rq->started));
    return send_api_reply(conn, rq, &reply);
}


/* Appends an upload chunk; false when the body would pass the limit. */
static bool
append_body(struct request *rq, const char *data, size_t len, size_t limit)
{
    size_t cap;
    char *grown;

    if (rq->body_len + len > limit)
        return false;
    if (rq->body_len + len > rq->body_cap) {
        cap = rq->body_cap ? rq->body_cap : 4096;
        while (cap < rq->body_len + len)
            cap *= 2;
        if (cap > limit)
            cap = limit;
        grown = realloc(rq->body, cap);
        if (grown == NULL)
            return false;
        rq->body = grown;
        rq->body_cap = cap;
    }
    memcpy(rq->body + rq->body_len, data, len);
    rq->body_len += len;
    return true;
}


static enum MHD_Result
refuse_too_big(struct MHD_Connection *conn, struct request *rq,
               int64_t limit)
{
    char msg[128];

    snprintf(msg, sizeof(msg), "request body exceeds the limit of %lld "
             "bytes", (long long)limit);
    return send_error(conn, rq, 413, "RequestEntityTooLargeException", msg);
}


/* The first call of a request: route it before any body is read. */
static enum MHD_Result
start_request(struct http_server *srv, struct MHD_Connection *conn,
              const char *url, const char *method, void **con_cls)
{
    struct request *rq = calloc(1, sizeof(*rq));
    const char *length;
    char *end;
    unsigned long long declared;

    if (rq == NULL || ids_request_id(rq->id) != 0) {
        free(rq);
        return MHD_NO;
    }
    snprintf(rq->tag, sizeof(rq->tag), "req=%.8s", rq->id);
    clock_gettime(CLOCK_MONOTONIC, &rq->started);
    *con_cls = rq;

    /* Answered at the request's end, so the connection stays open: a
     * reply queued before then makes libmicrohttpd close it. */
    if (strcmp(url, "/healthz") == 0 && (strcmp(method, "GET") == 0
                                         || strcmp(method, "HEAD") == 0)) {
        rq->health = true;
        return MHD_YES;
    }
    if (strcmp(url, "/") != 0)
        return send_error(conn, rq, 404, "NotFoundException",
                          "no such path; Voice ID calls are POST /");
    if (strcmp(method, "POST") != 0)
        return send_error(conn, rq, 405, "MethodNotAllowedException",
                          "Voice ID calls use POST /");

    length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         "Content-Length");
    if (length) {
        declared = strtoull(length, &end, 10);
        if (declared > (unsigned long long)srv->opts.max_body_bytes)
            return refuse_too_big(conn, rq, srv->opts.max_body_bytes);

        /* One allocation of the announced size; a lying client still
         * meets the limit in append_body. */
        if (declared > 0) {
            rq->body = malloc((size_t)declared);
            if (rq->body == NULL)
                return MHD_NO;
            rq->body_cap = (size_t)declared;
        }
    }
    return MHD_YES;
}


static enum MHD_Result
on_access(void *cls, struct MHD_Connection *conn, const char *url,
          const char *method, const char *version, const char *upload_data,
          size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct request *rq = *con_cls;

    if (rq == NULL)
        return start_request(srv, conn, url, method, con_cls);

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;

        *upload_data_size = 0;
        if (rq->refused)
            return MHD_YES;
        if (rq->too_big || !append_body(rq, upload_data, n,
                                        (size_t)srv->opts.max_body_bytes)) {
            /* libmicrohttpd cannot reply in the middle of an upload, so
             * the rest is drained and refused at its end; a stream that
             * goes on and on is cut off instead. */
            rq->too_big = true;
            rq->drained += n;
            return rq->drained > MAX_DRAIN_BYTES ? MHD_NO : MHD_YES;
        }
        return MHD_YES;
    }

    if (rq->too_big)
        return refuse_too_big(conn, rq, srv->opts.max_body_bytes);
    if (rq->refused)
        return MHD_YES;
    if (rq->health) {
        rq->refused = true;
        return send_health(conn, rq);
    }
    rq->refused = true;
    return handle_call(srv, conn, rq, url, method);
}


static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct request *rq = *con_cls;

    if (rq == NULL)
        return;
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}


/* Leaves URLs and query arguments as received, so SigV4 sees raw text. */
static size_t
keep_escaped(void *cls, struct MHD_Connection *conn, char *text)
{
    return strlen(text);
}


static void
on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    char text[512];
    size_t n;

    vsnprintf(text, sizeof(text), fmt, ap);
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    log_msg(LOG_WARN, "http", NULL, "libmicrohttpd: %s", text);
}


static int
resolve(const char *host, int port, struct sockaddr_storage *addr,
        socklen_t *addr_len, char *msg, size_t msg_len)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE };
    struct addrinfo *found = NULL;
    char service[16];
    int rc;

    snprintf(service, sizeof(service), "%d", port);
    rc = getaddrinfo(host, service, &hints, &found);
    if (rc != 0) {
        snprintf(msg, msg_len, "cannot resolve listen address '%s': %s",
                 host, gai_strerror(rc));
        return ERR_IO;
    }
    memcpy(addr, found->ai_addr, found->ai_addrlen);
    *addr_len = found->ai_addrlen;
    freeaddrinfo(found);
    return 0;
}


int
http_server_start(const struct http_server_options *opts,
                  struct http_server **out, char *msg, size_t msg_len)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct http_server *srv;
    const union MHD_DaemonInfo *info;
    /* Turbo: read, write and accept before asking epoll, which saves a
     * round of the event loop on keep-alive connections that are ready. */
    unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO
                         | MHD_USE_ERROR_LOG;
    int rc;

    rc = resolve(opts->host, opts->port, &addr, &addr_len, msg, msg_len);
    if (rc != 0)
        return rc;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;

    srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return ERR_NOMEM;
    srv->opts = *opts;

    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)opts->port, NULL, NULL, on_access, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)opts->threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)opts->idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, 4096u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, srv,
        MHD_OPTION_END);
    if (srv->daemon == NULL) {
        snprintf(msg, msg_len, "cannot listen on %s:%d (address in use or "
                 "not available)", opts->host, opts->port);
        free(srv);
        return ERR_IO;
    }

    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : opts->port;
    *out = srv;
    return 0;
}


int
http_server_port(const struct http_server *srv)
{
    return srv->port;
}


void
http_server_stop(struct http_server *srv)
{
    if (srv == NULL)
        return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}

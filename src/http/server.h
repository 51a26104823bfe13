/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP front: libmicrohttpd with an epoll thread pool, keep-alive and
 * idle timeouts. It answers GET /healthz itself; POST / is read up to the
 * body limit, authenticated with SigV4, rate-limited per account and handed
 * to the api layer, whose reply it sends with the x-amzn-* headers.
 */
#ifndef TIMBRE_HTTP_SERVER_H
#define TIMBRE_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct api_env;
struct credentials;
struct ratelimit;
struct http_server;

struct http_server_options {
    const char *host;                   /* numeric address or name */
    int port;                           /* 0 picks a free port */
    int threads;
    int64_t max_body_bytes;
    int64_t idle_timeout_s;
    const struct credentials *creds;    /* borrowed */
    struct ratelimit *ratelimit;        /* borrowed; NULL for none */
    const struct api_env *env;          /* borrowed */
};

/*
 * Starts serving in background threads. The borrowed pointers must outlive
 * the server. Returns 0 and a handle; ERR_IO with 'msg' saying why the
 * address could not be bound; ERR_NOMEM.
 */
int http_server_start(const struct http_server_options *opts,
                      struct http_server **out, char *msg, size_t msg_len);

/* The port actually bound (useful when opts->port was 0). */
int http_server_port(const struct http_server *srv);

/* Stops accepting, finishes in-flight requests and frees; NULL is fine. */
void http_server_stop(struct http_server *srv);

#endif

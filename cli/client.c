/*
 * client.c - DEALER transport of the CLI: pack, send, receive with timeouts, match request ids.
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "sf_curve.h"
#include "sf_proto.h"
#include "sf_status.h"
#include "sf_time.h"

struct sc_client {
    void *ctx;            /* ZeroMQ context */
    void *sock;           /* DEALER connected to the coordinator */
    void *mon;            /* PAIR receiving sock's handshake failures (sf_curve_monitor_open) */
    int curve;            /* 1 when the connection uses CURVE */
    int vague;            /* handshake failures without detail in a row (sf_curve_monitor_check) */
    char endpoint[512];   /* where it points */
    int timeout_ms;       /* default wait for a reply */
    uint64_t next_id;     /* last request id used */
    uint64_t dropped;     /* frames skipped: undecodable, wrong version, unexpected */
};

sc_client *sc_client_new(const char *endpoint, int timeout_ms, const char *curve_server_key,
                         const char *curve_key, char *err, size_t errlen) {
    sc_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
    c->timeout_ms = timeout_ms;
    c->next_id = sf_wall_ms() << 8; /* distinct across runs, for the coordinator's logs */
    c->ctx = zmq_ctx_new();
    if (!c->ctx)
        goto fail;
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!c->sock)
        goto fail;
    int linger = 0, hwm = 1000;
    int64_t maxmsg = sf_transport_limit(SF_DEFAULT_MAX_FRAME);
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (sf_curve_client_setup(c->sock, curve_server_key, curve_key, NULL, err, errlen) != SF_OK) {
        sc_client_destroy(&c);
        return NULL;
    }
    c->curve = curve_server_key && *curve_server_key;
    c->mon = sf_curve_monitor_open(c->ctx, c->sock); /* NULL: failures show as timeouts only */
    if (zmq_connect(c->sock, endpoint) != 0) {
        snprintf(err, errlen, "bad coordinator endpoint \"%s\": %s", endpoint, zmq_strerror(errno));
        sc_client_destroy(&c);
        return NULL;
    }
    return c;
fail:
    snprintf(err, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
    sc_client_destroy(&c);
    return NULL;
}

void sc_client_destroy(sc_client **cp) {
    if (!cp || !*cp)
        return;
    sc_client *c = *cp;
    if (c->sock)
        zmq_close(c->sock);
    if (c->mon)
        zmq_close(c->mon);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    free(c);
    *cp = NULL;
}

const char *sc_client_endpoint(const sc_client *c) { return c->endpoint; }
int sc_client_timeout(const sc_client *c) { return c->timeout_ms; }
uint64_t sc_client_dropped(const sc_client *c) { return c->dropped; }
uint64_t sc_next_id(sc_client *c) { return ++c->next_id; }

int sc_send(sc_client *c, Strike__Envelope *env, char *err, size_t errlen) {
    env->version = SF_PROTOCOL_VERSION;
    size_t n = strike__envelope__get_packed_size(env);
    if (n > SF_DEFAULT_MAX_FRAME) {
        snprintf(err, errlen, "request of %zu bytes is over the frame limit", n);
        return SF_ERR_FRAME_TOO_LARGE;
    }
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, n) != 0) {
        snprintf(err, errlen, "out of memory for a %zu byte frame", n);
        return SF_ERR_NO_MEMORY;
    }
    strike__envelope__pack(env, zmq_msg_data(&m));
    /* Sending blocks only while the pipe is full; bound that by the timeout too. */
    zmq_pollitem_t pi = {c->sock, 0, ZMQ_POLLOUT, 0};
    if (zmq_poll(&pi, 1, c->timeout_ms) <= 0 || zmq_msg_send(&m, c->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        snprintf(err, errlen, "cannot send to the coordinator at %s within %d ms (is strike-coordinator running?)",
                 c->endpoint, c->timeout_ms);
        return SF_ERR_TIMEOUT;
    }
    return SF_OK;
}

Strike__Envelope *sc_recv(sc_client *c, int timeout_ms, int *status, char *err, size_t errlen) {
    if (timeout_ms < 0)
        timeout_ms = c->timeout_ms;
    uint64_t deadline = sf_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = sf_now_ms();
        long left = now >= deadline ? 0 : (long)(deadline - now);
        zmq_pollitem_t pi[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->mon, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(pi, c->mon ? 2 : 1, left);
        if (rc < 0 && errno == EINTR) {
            *status = SF_ERR_SHUTDOWN;
            snprintf(err, errlen, "interrupted");
            return NULL;
        }
        char why[400];
        if (c->mon && (rc == 0 || (pi[1].revents & ZMQ_POLLIN)) &&
            sf_curve_monitor_check(c->mon, c->curve, &c->vague, why, sizeof why) != SF_OK) {
            *status = SF_ERR_AUTH;
            snprintf(err, errlen, "cannot talk to the coordinator at %s: %s", c->endpoint, why);
            return NULL;
        }
        if (rc > 0 && !(pi[0].revents & ZMQ_POLLIN))
            continue; /* a monitor event that was no failure */
        if (rc <= 0) {
            *status = SF_ERR_TIMEOUT;
            snprintf(err, errlen, "no answer from the coordinator at %s within %d ms (is strike-coordinator running? "
                                  "set --coordinator or STRIKE_COORDINATOR)", c->endpoint, timeout_ms);
            return NULL;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        int more = zmq_msg_more(&m);
        Strike__Envelope *env = NULL;
        if (!more && zmq_msg_size(&m) <= SF_DEFAULT_MAX_FRAME) /* size checked before unpacking */
            env = strike__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        while (more) { /* multi-frame messages are not ours: drain and drop */
            zmq_msg_init(&m);
            zmq_msg_recv(&m, c->sock, 0);
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (!env || env->version != SF_PROTOCOL_VERSION || env->body_case == STRIKE__ENVELOPE__BODY__NOT_SET) {
            c->dropped++;
            if (env)
                strike__envelope__free_unpacked(env, NULL);
            continue;
        }
        *status = SF_OK;
        return env;
    }
}

Strike__Envelope *sc_call(sc_client *c, Strike__Envelope *req, int *status, char *err, size_t errlen) {
    if (req->request_id == 0)
        req->request_id = sc_next_id(c);
    int st = sc_send(c, req, err, errlen);
    if (st != SF_OK) {
        *status = st;
        return NULL;
    }
    uint64_t deadline = sf_now_ms() + (uint64_t)c->timeout_ms;
    for (;;) {
        uint64_t now = sf_now_ms();
        int left = now >= deadline ? 0 : (int)(deadline - now);
        Strike__Envelope *env = sc_recv(c, left, status, err, errlen);
        if (!env)
            return NULL;
        if (env->request_id != req->request_id) {
            c->dropped++;
            strike__envelope__free_unpacked(env, NULL);
            continue;
        }
        if (env->body_case == STRIKE__ENVELOPE__BODY_ERROR) {
            *status = env->error->status ? (int)env->error->status : SF_ERR_INTERNAL;
            snprintf(err, errlen, "coordinator: %s (%s)", env->error->message,
                     sf_strerror((sf_status)*status));
            strike__envelope__free_unpacked(env, NULL);
            return NULL;
        }
        *status = SF_OK;
        return env;
    }
}

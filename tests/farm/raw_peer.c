/*
 * raw_peer.c - test helper: a raw ZeroMQ DEALER that sends the coordinator frames no real peer
 * would: random bytes, a truncated envelope, a wrong protocol version, an empty frame, an envelope
 * with no body, a multi-frame message, an oversized frame (BIG_BYTES argument), and a Shard or
 * Results from nobody; last, optionally, a frame of HUGE_BYTES (over the transport limit: ZeroMQ
 * drops it with the connection). Usage: raw_peer ENDPOINT BIG_BYTES [HUGE_BYTES]. Prints how many
 * frames it sent. The coordinator must count and drop them all and keep serving.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "sf_proto.h"
#include "strike.pb-c.h"

static int sent;

static void send_bytes(void *s, const void *p, size_t n, int flags) {
    if (zmq_send(s, p, n, flags) >= 0 && !(flags & ZMQ_SNDMORE))
        sent++;
}

static void send_env(void *s, Strike__Envelope *e, uint32_t version, size_t cut) {
    e->version = version;
    size_t n = strike__envelope__get_packed_size(e);
    uint8_t *b = malloc(n ? n : 1);
    n = strike__envelope__pack(e, b);
    send_bytes(s, b, cut && cut < n ? cut : n, 0);
    free(b);
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: raw_peer ENDPOINT BIG_BYTES [HUGE_BYTES]\n");
        return 2;
    }
    size_t big = strtoull(argv[2], NULL, 10);
    size_t huge = argc == 4 ? strtoull(argv[3], NULL, 10) : 0;
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 3000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, argv[1]) != 0) {
        fprintf(stderr, "raw_peer: connect %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        return 1;
    }
    srand(12345);
    /* Random garbage of several sizes. */
    for (int k = 0; k < 20; k++) {
        size_t n = (size_t)(rand() % 300) + 1;
        uint8_t *b = malloc(n);
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)rand();
        send_bytes(s, b, n, 0);
        free(b);
    }
    /* Empty frame. */
    send_bytes(s, "", 0, 0);
    /* A valid Create truncated at every few bytes, then one with a wrong version, then no body. */
    Strike__Envelope e = STRIKE__ENVELOPE__INIT;
    Strike__Create c = STRIKE__CREATE__INIT;
    Strike__Template t = STRIKE__TEMPLATE__INIT;
    t.model = "x";
    t.steps = 4;
    t.width = t.height = 64;
    c.client_token = "raw-peer-token-0123456789";
    c.template_ = &t;
    e.body_case = STRIKE__ENVELOPE__BODY_CREATE;
    e.create = &c;
    e.request_id = 1;
    for (size_t cut = 1; cut < 30; cut += 3)
        send_env(s, &e, SF_PROTOCOL_VERSION, cut);
    send_env(s, &e, SF_PROTOCOL_VERSION + 41, 0);
    Strike__Envelope none = STRIKE__ENVELOPE__INIT;
    send_env(s, &none, SF_PROTOCOL_VERSION, 0);
    /* Multi-frame message. */
    send_bytes(s, "a", 1, ZMQ_SNDMORE);
    send_bytes(s, "b", 1, 0);
    /* Oversized frame. */
    if (big > 0) {
        uint8_t *b = calloc(1, big);
        send_bytes(s, b, big, 0);
        free(b);
    }
    /* Results for a lease nobody holds, from a peer that never registered. */
    Strike__Envelope r = STRIKE__ENVELOPE__INIT;
    Strike__Results res = STRIKE__RESULTS__INIT;
    uint32_t off[1] = {0};
    res.lease_id = 999999;
    res.attempt = 1;
    res.submission_id = "s999999";
    res.n_offset = 1;
    res.offset = off;
    res.final = 1;
    r.body_case = STRIKE__ENVELOPE__BODY_RESULTS;
    r.results = &res;
    send_env(s, &r, SF_PROTOCOL_VERSION, 0);
    /* Over the transport limit: the connection goes with it, so it comes last. */
    if (huge > 0) {
        uint8_t *b = calloc(1, huge);
        send_bytes(s, b, huge, 0);
        free(b);
    }
    printf("raw_peer: sent %d frames to %s\n", sent, argv[1]);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

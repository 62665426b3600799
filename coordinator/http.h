/* http.h - a tiny HTTP/1.1 server serviced from the coordinator's zmq_poll loop (no thread, no
 * library): non-blocking accept, reads and writes; one request per connection (the response
 * always says `Connection: close`); GET only. Every resource is bounded:
 *   HTTP_MAX_CONNS connections (more are accepted and closed at once, counted),
 *   HTTP_MAX_REQUEST bytes of request head (more: 431 and close),
 *   HTTP_MAX_RESPONSE bytes of response (a bigger page is a 500),
 *   HTTP_TIMEOUT_MS to receive the request head, and without write progress (then closed).
 * The server knows nothing about the coordinator: a handler callback fills each response. */
#ifndef STRIKE_HTTP_H
#define STRIKE_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define HTTP_MAX_CONNS 32
#define HTTP_MAX_REQUEST 8192
#define HTTP_MAX_RESPONSE (4u << 20)
#define HTTP_TIMEOUT_MS 10000
#define HTTP_LINGER_BYTES 65536 /* unread request bytes discarded after the response, at most */
#define HTTP_LINGER_MS 2000     /* ... for at most this long */
/* poll items the server may add to one zmq_poll: the listening socket and every connection */
#define HTTP_POLL_ITEMS (HTTP_MAX_CONNS + 1)

/* A bounded, growable text buffer. Appends past `max` set `overflow` and are dropped. */
typedef struct hbuf {
  char *p;
  size_t len, cap, max;
  int overflow;
} hbuf;
void hbuf_put(hbuf *b, const char *s, size_t n);
void hbuf_puts(hbuf *b, const char *s);
void hbuf_printf(hbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hbuf_free(hbuf *b);

/* What a handler gets: method and path (query string cut off), NUL-terminated. */
typedef struct http_request {
  const char *method;
  const char *path;
} http_request;

/* What a handler fills: status (default 200), content type (a static string) and the body. */
typedef struct http_response {
  int status;
  const char *content_type;
  hbuf body;
} http_response;

typedef void (*http_handler)(void *ud, const http_request *rq, http_response *rs);

/* Counters of the server (shown in /metrics). */
typedef struct http_stats {
  uint64_t requests;            /* responses queued, any status */
  uint64_t refused;             /* connections closed at accept: HTTP_MAX_CONNS were open */
  uint64_t bad;                 /* 400, 405, 431 responses */
  uint64_t timeouts;            /* connections closed by HTTP_TIMEOUT_MS */
} http_stats;

typedef struct http_server http_server;

/* Listen on "HOST:PORT" (IPv4/IPv6 literal or name; "[::1]:9464"; port 0 = any free port).
 * NULL on failure with a message in err naming the address and what was wrong. */
http_server *http_open(const char *addr, http_handler h, void *ud, char *err, size_t errlen);
void http_close(http_server **s);
/* The address actually bound ("127.0.0.1:9464"). */
const char *http_bound(const http_server *s);
const http_stats *http_get_stats(const http_server *s);
size_t http_open_conns(const http_server *s);
/* Append the server's poll items (at most HTTP_POLL_ITEMS) to items; returns how many. */
size_t http_poll_items(http_server *s, zmq_pollitem_t *items);
/* After zmq_poll: accept, read, answer and write for the items http_poll_items added (n of
 * them, with their revents), then close timed-out connections. Never blocks. now_ms is a
 * monotonic clock. */
void http_service(http_server *s, const zmq_pollitem_t *items, size_t n, uint64_t now_ms);

#endif

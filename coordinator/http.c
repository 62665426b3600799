/* http.c - the coordinator's tiny HTTP/1.1 server (see http.h for the contract and bounds).
 *
 * A connection lives in three phases: READ (collect the request head into a fixed 8 KiB buffer),
 * WRITE (the whole response was rendered at once into a bounded buffer; send what the socket
 * takes, keep the rest), LINGER (the response is out and our side is shut down: read and discard
 * what the client still sends, so that closing does not reset the connection before the client
 * read the response). Every socket is non-blocking; nothing here waits. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sf_log.h"

#define ACCEPTS_PER_SERVICE 64 /* connections accepted per loop iteration, at most */

enum { PH_READ = 0, PH_WRITE = 1, PH_LINGER = 2 };

typedef struct http_conn {
  int fd;
  int phase;
  uint64_t deadline_ms;         /* monotonic: closed when passed */
  char in[HTTP_MAX_REQUEST + 1];
  size_t in_len;
  char *out;                    /* the response (head + body), owned */
  size_t out_len, out_off;
  size_t discarded;             /* LINGER: bytes read and dropped */
} http_conn;

struct http_server {
  int lfd;
  http_handler handler;
  void *ud;
  http_conn *conns[HTTP_MAX_CONNS];
  size_t nconns;
  /* which connection each poll item (after the listener) stands for, from the last
   * http_poll_items; a connection closed in between is NULL here */
  http_conn *polled[HTTP_MAX_CONNS];
  size_t npolled;
  uint64_t now_ms;
  uint64_t accept_pause_until;  /* monotonic: listener not polled (out of descriptors) */
  http_stats stats;
  char bound[80];
};

/* ---- bounded text buffer ---- */

void hbuf_put(hbuf *b, const char *s, size_t n) {
  if (b->overflow) return;
  if (b->len + n + 1 > b->max) {
    b->overflow = 1;
    return;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    if (cap > b->max) cap = b->max;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->overflow = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void hbuf_puts(hbuf *b, const char *s) { hbuf_put(b, s, strlen(s)); }

void hbuf_printf(hbuf *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    hbuf_put(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1); /* long lines: format again into a buffer that fits */
  if (!big) {
    b->overflow = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  hbuf_put(b, big, (size_t)n);
  free(big);
}

void hbuf_free(hbuf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* ---- listening ---- */

/* Split "HOST:PORT" / "[V6]:PORT" into host and port. 0 on success. */
static int split_addr(const char *addr, char *host, size_t hcap, char *port, size_t pcap) {
  const char *colon;
  size_t hl;
  if (addr[0] == '[') {
    const char *close = strchr(addr, ']');
    if (!close || close[1] != ':') return -1;
    hl = (size_t)(close - addr - 1);
    addr++;
    colon = close + 1;
  } else {
    colon = strrchr(addr, ':');
    if (!colon) return -1;
    hl = (size_t)(colon - addr);
    if (memchr(addr, ':', hl)) return -1; /* bare IPv6 needs brackets */
  }
  const char *p = colon + 1;
  size_t pl = strlen(p);
  if (hl == 0 || hl >= hcap || pl == 0 || pl >= pcap || pl > 5) return -1;
  unsigned long v = 0;
  for (size_t i = 0; i < pl; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (unsigned long)(p[i] - '0');
  }
  if (v > 65535) return -1;
  memcpy(host, addr, hl);
  host[hl] = '\0';
  memcpy(port, p, pl + 1);
  return 0;
}

http_server *http_open(const char *addr, http_handler h, void *ud, char *err, size_t errlen) {
  char host[256], port[8];
  if (!addr || split_addr(addr, host, sizeof host, port, sizeof port)) {
    snprintf(err, errlen,
             "bad metrics-listen \"%s\": expected HOST:PORT (port 0..65535; IPv6 as [ADDR]:PORT)",
             addr ? addr : "");
    return NULL;
  }
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  int gr = getaddrinfo(host, port, &hints, &ai);
  if (gr != 0 || !ai) {
    snprintf(err, errlen, "bad metrics-listen \"%s\": cannot resolve \"%s\": %s", addr, host,
             gai_strerror(gr));
    return NULL;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
      bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
    snprintf(err, errlen, "cannot listen for metrics on %s: %s", addr, strerror(errno));
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return NULL;
  }
  freeaddrinfo(ai);
  http_server *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->lfd = fd;
  s->handler = h;
  s->ud = ud;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char nh[NI_MAXHOST] = "?", np[NI_MAXSERV] = "?";
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
    getnameinfo((struct sockaddr *)&ss, sl, nh, sizeof nh, np, sizeof np,
                NI_NUMERICHOST | NI_NUMERICSERV);
  snprintf(s->bound, sizeof s->bound, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", nh, np);
  return s;
}

static void conn_close(http_server *s, size_t i) {
  http_conn *c = s->conns[i];
  for (size_t k = 0; k < s->npolled; k++)
    if (s->polled[k] == c) s->polled[k] = NULL;
  close(c->fd);
  free(c->out);
  free(c);
  s->conns[i] = s->conns[--s->nconns];
}

void http_close(http_server **ps) {
  if (!ps || !*ps) return;
  http_server *s = *ps;
  while (s->nconns) conn_close(s, s->nconns - 1);
  close(s->lfd);
  free(s);
  *ps = NULL;
}

const char *http_bound(const http_server *s) { return s->bound; }
const http_stats *http_get_stats(const http_server *s) { return &s->stats; }
size_t http_open_conns(const http_server *s) { return s->nconns; }

size_t http_poll_items(http_server *s, zmq_pollitem_t *items) {
  size_t n = 0;
  /* out of file descriptors, a pending connection would wake every poll: leave it a while */
  short ev = s->now_ms < s->accept_pause_until ? 0 : ZMQ_POLLIN;
  items[n++] = (zmq_pollitem_t){NULL, s->lfd, ev, 0};
  s->npolled = 0;
  for (size_t i = 0; i < s->nconns; i++) {
    http_conn *c = s->conns[i];
    items[n++] = (zmq_pollitem_t){NULL, c->fd, c->phase == PH_WRITE ? ZMQ_POLLOUT : ZMQ_POLLIN, 0};
    s->polled[s->npolled++] = c;
  }
  return n;
}

/* ---- requests and responses ---- */

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  default: return "Error";
  }
}

/* Make the response the connection's output and switch it to WRITE. */
static void respond(http_server *s, http_conn *c, int status, const char *ctype, const char *body,
                    size_t blen) {
  char head[512];
  int hl = snprintf(head, sizeof head,
                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                    "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
                    status, reason(status), ctype, blen, status == 405 ? "Allow: GET\r\n" : "");
  free(c->out);
  c->out = malloc((size_t)hl + blen);
  c->out_off = 0;
  c->out_len = 0;
  if (c->out) {
    memcpy(c->out, head, (size_t)hl);
    if (blen) memcpy(c->out + hl, body, blen);
    c->out_len = (size_t)hl + blen;
  }
  c->phase = PH_WRITE;
  c->deadline_ms = s->now_ms + HTTP_TIMEOUT_MS;
  s->stats.requests++;
  if (status == 400 || status == 405 || status == 431) s->stats.bad++;
}

static void respond_text(http_server *s, http_conn *c, int status, const char *msg) {
  respond(s, c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* A complete request head is in c->in (NUL-terminated, ending at head_end): parse the request
 * line and answer. Header fields are not needed and not parsed. */
static void handle_request(http_server *s, http_conn *c, char *head_end) {
  *head_end = '\0';
  char *line_end = strpbrk(c->in, "\r\n");
  if (line_end) *line_end = '\0';
  char *method = c->in;
  char *sp1 = strchr(method, ' ');
  char *target = sp1 ? sp1 + 1 : NULL;
  char *sp2 = target ? strchr(target, ' ') : NULL;
  if (!sp1 || !sp2 || sp1 == method || sp2 == target || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
    respond_text(s, c, 400, "bad request line\n");
    return;
  }
  *sp1 = '\0';
  *sp2 = '\0';
  if (strcmp(method, "GET") != 0) {
    respond_text(s, c, 405, "only GET is served\n");
    return;
  }
  char *q = strpbrk(target, "?#");
  if (q) *q = '\0';
  http_request rq = {.method = method, .path = target};
  http_response rs = {.status = 200, .content_type = "text/plain; charset=utf-8"};
  rs.body.max = HTTP_MAX_RESPONSE;
  s->handler(s->ud, &rq, &rs);
  if (rs.body.overflow) respond_text(s, c, 500, "response too large or out of memory\n");
  else respond(s, c, rs.status, rs.content_type, rs.body.p ? rs.body.p : "", rs.body.len);
  hbuf_free(&rs.body);
}

/* Read what is there; answer once the head is complete (or too large). Returns -1 to close. */
static int conn_read(http_server *s, http_conn *c) {
  for (;;) {
    if (c->in_len >= HTTP_MAX_REQUEST) {
      respond_text(s, c, 431, "request head over 8192 bytes\n");
      return 0;
    }
    ssize_t r = recv(c->fd, c->in + c->in_len, HTTP_MAX_REQUEST - c->in_len, MSG_DONTWAIT);
    if (r == 0) return -1; /* client gone before a full request */
    if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    size_t scan = c->in_len >= 3 ? c->in_len - 3 : 0;
    c->in_len += (size_t)r;
    c->in[c->in_len] = '\0';
    char *end = strstr(c->in + scan, "\r\n\r\n");
    char *end2 = strstr(c->in + scan, "\n\n");
    if (end2 && (!end || end2 < end)) end = end2;
    if (end) {
      handle_request(s, c, end);
      return 0;
    }
  }
}

/* Send what the socket takes; after the last byte, shut our side and linger. -1 to close. */
static int conn_write(http_server *s, http_conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    c->out_off += (size_t)w;
    c->deadline_ms = s->now_ms + HTTP_TIMEOUT_MS; /* progress */
  }
  free(c->out);
  c->out = NULL;
  shutdown(c->fd, SHUT_WR);
  c->phase = PH_LINGER;
  c->deadline_ms = s->now_ms + HTTP_LINGER_MS;
  return 0;
}

/* Discard what the client still sends; close at its end, an error or the discard bound. */
static int conn_linger(http_conn *c) {
  char tmp[4096];
  for (;;) {
    ssize_t r = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (r == 0) return -1;
    if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    c->discarded += (size_t)r;
    if (c->discarded > HTTP_LINGER_BYTES) return -1;
  }
}

static void accept_new(http_server *s) {
  for (int k = 0; k < ACCEPTS_PER_SERVICE; k++) {
    int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        s->accept_pause_until = s->now_ms + 100;
      return; /* EAGAIN, or an error that the next accept may not have */
    }
    http_conn *c = s->nconns < HTTP_MAX_CONNS ? calloc(1, sizeof *c) : NULL;
    if (!c) {
      s->stats.refused++;
      close(fd);
      continue;
    }
    c->fd = fd;
    c->phase = PH_READ;
    c->deadline_ms = s->now_ms + HTTP_TIMEOUT_MS;
    s->conns[s->nconns++] = c;
  }
}

void http_service(http_server *s, const zmq_pollitem_t *items, size_t n, uint64_t now_ms) {
  s->now_ms = now_ms;
  /* connections first (their poll items match s->polled), then new ones */
  for (size_t k = 1; k < n && k - 1 < s->npolled; k++) {
    http_conn *c = s->polled[k - 1];
    if (!c || !items[k].revents) continue;
    int rc = 0;
    if (items[k].revents & ZMQ_POLLERR) rc = -1;
    else if (c->phase == PH_READ) rc = conn_read(s, c);
    if (rc == 0 && c->phase == PH_WRITE) rc = conn_write(s, c); /* try at once */
    else if (rc == 0 && c->phase == PH_LINGER) rc = conn_linger(c);
    if (rc < 0) {
      for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i] == c) {
          conn_close(s, i);
          break;
        }
    }
  }
  s->npolled = 0;
  if (n > 0 && (items[0].revents & ZMQ_POLLIN)) accept_new(s);
  for (size_t i = 0; i < s->nconns;) {
    if (now_ms >= s->conns[i]->deadline_ms) {
      if (s->conns[i]->phase != PH_LINGER) s->stats.timeouts++;
      conn_close(s, i);
      continue;
    }
    i++;
  }
}

/* test_http_server.c - coordinator/http.c on its own, with real TCP sockets on 127.0.0.1: bad
 * listen addresses are refused with a message; a 3 MB response to a client that does not read
 * stays queued while another client is served (the server never blocks on a send) and then
 * arrives intact; a request head split over several sends and one ending in "\n\n" are
 * answered; an 8 KiB+ head is 431, POST 405, a malformed request line 400; an over-large page
 * is 500; connections beyond HTTP_MAX_CONNS are closed at accept and counted. The test pumps the
 * server with zmq_poll exactly as the coordinator's loop does. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "sf_time.h"
#include "test_util.h"

#define BIG (3u << 20)
#define PUMP_LIMIT 200000 /* iterations; only guards against a hang, never a timing assertion */

static void handler(void *ud, const http_request *rq, http_response *rs) {
  (void)ud;
  if (!strcmp(rq->path, "/small")) {
    hbuf_puts(&rs->body, "hello\n");
  } else if (!strcmp(rq->path, "/big")) {
    for (size_t i = 0; i < BIG / 16; i++) hbuf_printf(&rs->body, "%015zu\n", i);
  } else if (!strcmp(rq->path, "/huge")) {
    char line[1024];
    memset(line, 'x', sizeof line);
    for (size_t i = 0; i < (5u << 20) / sizeof line; i++) hbuf_put(&rs->body, line, sizeof line);
  } else {
    rs->status = 404;
    hbuf_puts(&rs->body, "no\n");
  }
}

static void pump(http_server *s, int timeout_ms) {
  zmq_pollitem_t it[HTTP_POLL_ITEMS];
  size_t n = http_poll_items(s, it);
  int rc = zmq_poll(it, (int)n, timeout_ms);
  http_service(s, it, rc > 0 ? n : 0, sf_now_ms());
}

static int client(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Read the whole response (until the server closes) while pumping the server. */
static char *read_all(http_server *s, int fd, size_t *len) {
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap + 1);
  for (int i = 0; i < PUMP_LIMIT; i++) {
    pump(s, 1);
    for (;;) {
      if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
      ssize_t r = recv(fd, buf + n, cap - n, MSG_DONTWAIT);
      if (r > 0) {
        n += (size_t)r;
        continue;
      }
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        buf[n] = '\0';
        *len = n;
        return buf;
      }
      break;
    }
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

static int status_of(const char *resp) {
  return strncmp(resp, "HTTP/1.1 ", 9) == 0 ? atoi(resp + 9) : 0;
}

/* Send raw bytes on a new connection, return the status (0: closed without one). */
static int exchange(http_server *s, int port, const char *raw, size_t rawlen) {
  int fd = client(port, 0);
  if (fd < 0) return -1;
  send(fd, raw, rawlen, MSG_NOSIGNAL);
  size_t len;
  char *r = read_all(s, fd, &len);
  int st = status_of(r);
  free(r);
  close(fd);
  return st;
}

int main(void) {
  char err[256];
  const char *bad[] = {"nonsense", "127.0.0.1:", ":80", "127.0.0.1:65536", "::1:80", "[::1]80"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    http_server *b = http_open(bad[i], handler, NULL, err, sizeof err);
    CHECK_MSG(b == NULL, "address %s was accepted", bad[i]);
    CHECK_MSG(strstr(err, "bad metrics-listen") != NULL, "address %s: message \"%s\"", bad[i], err);
    http_close(&b);
  }

  http_server *s = http_open("127.0.0.1:0", handler, NULL, err, sizeof err);
  CHECK_MSG(s != NULL, "listen: %s", err);
  if (!s) return test_report("farm_http_server");
  const char *colon = strrchr(http_bound(s), ':');
  int port = colon ? atoi(colon + 1) : 0;
  CHECK(port > 0);

  /* a big response to a client that does not read yet, another client served meanwhile */
  int a = client(port, 4096);
  CHECK(a >= 0);
  const char *rq_big = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
  send(a, rq_big, strlen(rq_big), MSG_NOSIGNAL);
  for (int i = 0; i < 20; i++) pump(s, 1);
  CHECK(http_open_conns(s) == 1); /* still writing: the response did not fit the socket */
  const char *rq_small = "GET /small?q=1 HTTP/1.1\r\n\r\n";
  int st = exchange(s, port, rq_small, strlen(rq_small));
  CHECK_MSG(st == 200, "small request while a big one is pending: %d", st);
  size_t len;
  char *r = read_all(s, a, &len);
  close(a);
  CHECK_MSG(status_of(r) == 200, "big: status %d", status_of(r));
  char *body = strstr(r, "\r\n\r\n");
  CHECK(body != NULL);
  if (body) {
    body += 4;
    size_t blen = len - (size_t)(body - r);
    CHECK_MSG(blen == BIG, "big body %zu bytes, expected %u", blen, BIG);
    int intact = 1;
    for (size_t i = 0; i + 16 <= blen && intact; i += 16 * 4099) {
      char want[24];
      snprintf(want, sizeof want, "%015zu\n", i / 16);
      intact = memcmp(body + i, want, 16) == 0;
    }
    CHECK_MSG(intact, "big body corrupted");
  }
  free(r);

  /* a head in pieces, and "\n\n" as its end */
  int fd = client(port, 0);
  send(fd, "GET /sm", 7, MSG_NOSIGNAL);
  for (int i = 0; i < 5; i++) pump(s, 1);
  send(fd, "all HTTP/1.1\r\nHost: x\r\n", 23, MSG_NOSIGNAL);
  for (int i = 0; i < 5; i++) pump(s, 1);
  send(fd, "\r\n", 2, MSG_NOSIGNAL);
  r = read_all(s, fd, &len);
  close(fd);
  CHECK_MSG(status_of(r) == 200 && strstr(r, "\r\n\r\nhello\n"), "split head: %.40s", r);
  CHECK(strstr(r, "Connection: close\r\n") != NULL);
  free(r);
  CHECK(exchange(s, port, "GET /small HTTP/1.0\n\n", 21) == 200);

  /* errors */
  CHECK(exchange(s, port, "POST /small HTTP/1.1\r\n\r\n", 24) == 405);
  CHECK(exchange(s, port, "GET /other HTTP/1.1\r\n\r\n", 23) == 404);
  CHECK(exchange(s, port, "garbage\r\n\r\n", 11) == 400);
  CHECK(exchange(s, port, "GET /small FTP/1.1\r\n\r\n", 22) == 400);
  CHECK(exchange(s, port, "GET /huge HTTP/1.1\r\n\r\n", 22) == 500);
  char *head = malloc(20000);
  memset(head, 'a', 20000);
  memcpy(head, "GET /small HTTP/1.1\r\nX-Pad: ", 28);
  CHECK_MSG((st = exchange(s, port, head, 20000)) == 431, "20 KB head: %d", st);
  free(head);
  CHECK(http_get_stats(s)->bad == 4); /* 405, 400, 400, 431 */

  /* connection limit */
  uint64_t refused0 = http_get_stats(s)->refused;
  int fds[HTTP_MAX_CONNS + 8];
  for (int i = 0; i < HTTP_MAX_CONNS + 8; i++) fds[i] = client(port, 0);
  for (int i = 0; i < 50; i++) pump(s, 1);
  CHECK_MSG(http_open_conns(s) == HTTP_MAX_CONNS, "%zu connections open", http_open_conns(s));
  CHECK_MSG(http_get_stats(s)->refused - refused0 == 8, "%llu refused",
            (unsigned long long)(http_get_stats(s)->refused - refused0));
  int closed = 0;
  for (int i = 0; i < HTTP_MAX_CONNS + 8; i++) {
    char c;
    if (recv(fds[i], &c, 1, MSG_DONTWAIT) == 0) closed++;
    close(fds[i]);
  }
  CHECK_MSG(closed == 8, "%d connections closed by the server", closed);
  for (int i = 0; i < 50 && http_open_conns(s); i++) pump(s, 1);
  CHECK(http_open_conns(s) == 0);
  http_close(&s);
  return test_report("farm_http_server");
}

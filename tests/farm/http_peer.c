/* http_peer.c - a small HTTP client and checker for the coordinator's metrics tests.
 *
 *   http_peer get HOST:PORT PATH          body to stdout; exit 0 on 200, 3 on another status,
 *                                         4 when the server closed without a response
 *   http_peer status HOST:PORT METHOD PATH [PAD]
 *                                         print the status code (or "closed"); PAD adds a header
 *                                         of PAD bytes (a request head over the server's bound)
 *   http_peer idle HOST:PORT N            open N connections (odd ones send half a request),
 *                                         print "opened=N", hold them until killed or until the
 *                                         server closed them all; then "closed_by_server=K"
 *   http_peer check-prom FILE             check the Prometheus text format 0.0.4: every line is
 *                                         `# HELP name text`, `# TYPE name type` or a sample
 *                                         `name{label="value",...} number`; each sample's family
 *                                         has a TYPE before it, a family has one TYPE, label
 *                                         names are valid, values escaped; prints samples=N
 *                                         families=M; exit 1 with the line number on an error
 * Only 127.0.0.1-style numeric hosts (the tests' addresses). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_to(const char *addr) {
  char host[64];
  const char *colon = strrchr(addr, ':');
  if (!colon || (size_t)(colon - addr) >= sizeof host) return -1;
  memcpy(host, addr, (size_t)(colon - addr));
  host[colon - addr] = '\0';
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)atoi(colon + 1));
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Send a request and read the whole response (until the server closes). Returns the status code,
 * 0 if the server closed without a status line, -1 if no connection. body, blen: the body. */
static int request(const char *addr, const char *method, const char *path, size_t pad, char **body,
                   size_t *blen) {
  int fd = connect_to(addr);
  if (fd < 0) return -1;
  size_t cap = 256 + strlen(method) + strlen(path) + pad;
  char *rq = malloc(cap);
  if (!rq) return -1;
  int n = snprintf(rq, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: strike-http-peer\r\n", method,
                   path, addr);
  size_t len = (size_t)n;
  if (pad) {
    memcpy(rq + len, "X-Pad: ", 7);
    len += 7;
    memset(rq + len, 'a', pad);
    len += pad;
    memcpy(rq + len, "\r\n", 2);
    len += 2;
  }
  memcpy(rq + len, "\r\n", 2);
  len += 2;
  int sent = send_all(fd, rq, len); /* a refused big request may fail half way: read anyway */
  (void)sent;
  free(rq);
  size_t rcap = 1 << 16, rlen = 0;
  char *r = malloc(rcap + 1);
  for (;;) {
    if (rlen == rcap) {
      rcap *= 2;
      r = realloc(r, rcap + 1);
    }
    ssize_t got = recv(fd, r + rlen, rcap - rlen, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    rlen += (size_t)got;
  }
  close(fd);
  r[rlen] = '\0';
  int status = 0;
  if (rlen > 12 && strncmp(r, "HTTP/1.1 ", 9) == 0) status = atoi(r + 9);
  char *sep = strstr(r, "\r\n\r\n");
  if (body) {
    size_t off = sep ? (size_t)(sep + 4 - r) : rlen;
    *blen = rlen - off;
    *body = malloc(*blen + 1);
    memcpy(*body, r + off, *blen);
    (*body)[*blen] = '\0';
  }
  free(r);
  return status;
}

static volatile sig_atomic_t g_stop;
static void on_term(int sig) {
  (void)sig;
  g_stop = 1;
}

static int idle(const char *addr, int n) {
  int *fds = calloc((size_t)n, sizeof *fds);
  int opened = 0;
  for (int i = 0; i < n; i++) {
    fds[i] = connect_to(addr);
    if (fds[i] < 0) continue;
    opened++;
    if (i & 1) send_all(fds[i], "GET /metrics HTTP/1.1\r\nHost: x\r\n", 32);
  }
  printf("opened=%d\n", opened);
  fflush(stdout);
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  int closed = 0;
  struct pollfd *p = calloc((size_t)n, sizeof *p);
  while (!g_stop && closed < opened) {
    for (int i = 0; i < n; i++) p[i] = (struct pollfd){fds[i], POLLIN, 0};
    if (poll(p, (nfds_t)n, 200) <= 0) continue;
    for (int i = 0; i < n; i++) {
      if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[512];
      ssize_t r = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);
      if (r <= 0) {
        close(fds[i]);
        fds[i] = -1;
        closed++;
      }
    }
  }
  printf("closed_by_server=%d\n", closed);
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
  free(p);
  free(fds);
  return 0;
}

/* ---- Prometheus text format check ---- */

static int name_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
static int name_char(int c) { return name_start(c) || (c >= '0' && c <= '9'); }

/* Parse a metric name at *p; copy into out. 0 on success. */
static int parse_name(const char **p, char *out, size_t cap, int labelname) {
  const char *s = *p;
  size_t n = 0;
  if (!name_start((unsigned char)*s) || (labelname && *s == ':')) return -1;
  while (name_char((unsigned char)s[n]) && !(labelname && s[n] == ':')) n++;
  if (n >= cap) return -1;
  memcpy(out, s, n);
  out[n] = '\0';
  *p = s + n;
  return 0;
}

static int parse_value(const char *s) {
  if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf") || !strcmp(s, "NaN")) return 0;
  char *end;
  errno = 0;
  strtod(s, &end);
  return end == s || *end != '\0' ? -1 : 0;
}

#define MAX_FAM 512
static int check_prom(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    return 1;
  }
  static char fam[MAX_FAM][128], famtype[MAX_FAM][16];
  int nfam = 0, samples = 0, lineno = 0;
  char line[8192];
  const char *err = NULL;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    if (len == 0 || line[len - 1] != '\n') {
      err = "line not terminated by \\n (or too long)";
      break;
    }
    line[--len] = '\0';
    char name[128];
    const char *p = line;
    if (line[0] == '#') {
      if (strncmp(line, "# HELP ", 7) && strncmp(line, "# TYPE ", 7)) continue; /* comment */
      p = line + 7;
      if (parse_name(&p, name, sizeof name, 0) || *p != ' ') {
        err = "bad metric name in HELP/TYPE";
        break;
      }
      if (line[2] == 'T') {
        const char *t = p + 1;
        if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") &&
            strcmp(t, "summary") && strcmp(t, "untyped")) {
          err = "unknown TYPE";
          break;
        }
        for (int i = 0; i < nfam; i++)
          if (!strcmp(fam[i], name)) err = "second TYPE for a family";
        if (err) break;
        if (nfam == MAX_FAM) {
          err = "too many families for the checker";
          break;
        }
        snprintf(fam[nfam], sizeof fam[nfam], "%s", name);
        snprintf(famtype[nfam], sizeof famtype[nfam], "%s", t);
        nfam++;
      }
      continue;
    }
    if (parse_name(&p, name, sizeof name, 0)) {
      err = "bad sample name";
      break;
    }
    if (*p == '{') {
      p++;
      while (*p != '}') {
        char lname[128];
        if (parse_name(&p, lname, sizeof lname, 1) || p[0] != '=' || p[1] != '"') {
          err = "bad label name or missing =\"";
          break;
        }
        p += 2;
        while (*p && *p != '"') {
          if (*p == '\\') {
            if (p[1] != '\\' && p[1] != '"' && p[1] != 'n') {
              err = "bad escape in label value";
              break;
            }
            p++;
          }
          p++;
        }
        if (err) break;
        if (*p != '"') {
          err = "unterminated label value";
          break;
        }
        p++;
        if (*p == ',') p++;
        else if (*p != '}') {
          err = "expected , or } after a label";
          break;
        }
      }
      if (err) break;
      p++;
    }
    if (*p != ' ') {
      err = "expected a space before the value";
      break;
    }
    p++;
    char val[64];
    const char *sp = strchr(p, ' '); /* optional timestamp */
    size_t vl = sp ? (size_t)(sp - p) : strlen(p);
    if (vl == 0 || vl >= sizeof val) {
      err = "missing or long value";
      break;
    }
    memcpy(val, p, vl);
    val[vl] = '\0';
    if (parse_value(val)) {
      err = "value is not a number";
      break;
    }
    /* the family: the name itself, or for histograms/summaries the name minus a suffix */
    int found = 0;
    for (int i = 0; i < nfam && !found; i++) {
      size_t fl = strlen(fam[i]);
      if (!strcmp(fam[i], name)) found = 1;
      else if (!strncmp(fam[i], name, fl) &&
               (!strcmp(famtype[i], "histogram") || !strcmp(famtype[i], "summary")) &&
               (!strcmp(name + fl, "_bucket") || !strcmp(name + fl, "_sum") || !strcmp(name + fl, "_count")))
        found = 1;
    }
    if (!found) {
      err = "sample without a TYPE line before it";
      break;
    }
    samples++;
  }
  fclose(f);
  if (err) {
    fprintf(stderr, "%s:%d: %s: %s\n", path, lineno, err, line);
    return 1;
  }
  if (samples == 0) {
    fprintf(stderr, "%s: no samples\n", path);
    return 1;
  }
  printf("samples=%d families=%d\n", samples, nfam);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "get")) {
    char *body = NULL;
    size_t blen = 0;
    int st = request(argv[2], "GET", argv[3], 0, &body, &blen);
    if (st < 0) {
      fprintf(stderr, "http_peer: cannot connect to %s\n", argv[2]);
      return 2;
    }
    if (st == 0) {
      free(body);
      fprintf(stderr, "http_peer: %s closed without a response\n", argv[2]);
      return 4;
    }
    fwrite(body, 1, blen, stdout);
    free(body);
    if (st != 200) {
      fprintf(stderr, "http_peer: status %d\n", st);
      return 3;
    }
    return 0;
  }
  if (argc >= 5 && !strcmp(argv[1], "status")) {
    int st = request(argv[2], argv[3], argv[4], argc > 5 ? (size_t)atol(argv[5]) : 0, NULL, NULL);
    if (st < 0) {
      fprintf(stderr, "http_peer: cannot connect to %s\n", argv[2]);
      return 2;
    }
    if (st == 0) printf("closed\n");
    else printf("%d\n", st);
    return 0;
  }
  if (argc >= 4 && !strcmp(argv[1], "idle")) return idle(argv[2], atoi(argv[3]));
  if (argc >= 3 && !strcmp(argv[1], "check-prom")) return check_prom(argv[2]);
  fprintf(stderr, "usage: http_peer get ADDR PATH | status ADDR METHOD PATH [PAD] | idle ADDR N | "
                  "check-prom FILE\n");
  return 2;
}

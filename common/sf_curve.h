/* sf_curve.h - CurveZMQ key files and socket set-up shared by coordinator, worker and CLI.
 *
 * Keys are Z85 text (40 characters for 32 bytes), as ZeroMQ prints them. Two file kinds, both
 * line-based, '#' starting a comment (whole line, or after whitespace following a key):
 *
 *   public key file (NAME.pub, `strike keygen`):   the public key alone on one line
 *       # strike CURVE public key
 *       rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
 *
 *   secret key file (NAME.key, mode 0600):         both keys, each behind its name
 *       # strike CURVE key pair: SECRET, keep it private
 *       public-key rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
 *       secret-key JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6
 *
 *   allow-list file: public keys, one per line (a .pub file is a valid one-key list; lists can be
 *       concatenated with cat). At most SF_CURVE_MAX_KEYS keys, lines of at most
 *       SF_CURVE_MAX_LINE bytes; a malformed line is an error naming the file and the line.
 *
 * Secret keys are read from files only (never from flags or the environment), never logged, and
 * wiped from memory (sf_curve_wipe) as soon as they were handed to ZeroMQ. */
#ifndef STRIKE_SF_CURVE_H
#define STRIKE_SF_CURVE_H
#include <stddef.h>
#include <stdint.h>

#include "sf_status.h"

#define SF_CURVE_Z85_LEN 40       /* characters of a Z85 key */
#define SF_CURVE_KEY_BYTES 32     /* bytes of a binary key */
#define SF_CURVE_MAX_LINE 1024    /* longest line of any key file */
#define SF_CURVE_MAX_KEYS 100000  /* most keys in one allow-list */
#define SF_CURVE_MAX_FILE (16u << 20) /* largest key or allow-list file read */

/* ZAP domains of the coordinator's two ROUTER sockets (ZMQ_ZAP_DOMAIN). */
#define SF_ZAP_DOMAIN_WORKERS "strike-workers"
#define SF_ZAP_DOMAIN_CLIENTS "strike-clients"

/* 1 if this libzmq was built with CURVE (libsodium), else 0. */
int sf_curve_available(void);

/* Overwrite n bytes with zeros in a way the compiler may not remove. */
void sf_curve_wipe(void *p, size_t n);

/* A fresh key pair as Z85 (41-byte buffers, NUL-terminated). SF_OK or SF_ERR_UNSUPPORTED (no
 * CURVE in this libzmq) with err set. */
sf_status sf_curve_keypair(char pub[41], char sec[41], char *err, size_t errlen);

/* Read a public key file: exactly one key. SF_OK, or SF_ERR_CONFIG with err naming the file and
 * line. */
sf_status sf_curve_read_public(const char *path, char pub[41], char *err, size_t errlen);

/* Read a secret key file: its public and secret key (checked to belong together). The file must
 * not be readable by group or others (like ssh). SF_OK, or SF_ERR_CONFIG with err naming the file
 * (and line); the caller wipes sec after use. */
sf_status sf_curve_read_pair(const char *path, char pub[41], char sec[41], char *err, size_t errlen);

/* An allow-list: sorted binary public keys. */
typedef struct sf_curve_allow {
  uint8_t (*keys)[SF_CURVE_KEY_BYTES];
  size_t n;
  char path[512];                 /* the file, for messages */
} sf_curve_allow;

/* Read an allow-list file into a new list (*out; free with sf_curve_allow_free). Duplicate keys
 * are fine. SF_OK, or SF_ERR_CONFIG / SF_ERR_NO_MEMORY with err naming the file and line. */
sf_status sf_curve_allow_load(const char *path, sf_curve_allow **out, char *err, size_t errlen);
void sf_curve_allow_free(sf_curve_allow **a);
/* 1 if key (32 bytes) is on the list. */
int sf_curve_allow_has(const sf_curve_allow *a, const uint8_t *key);

/* Client side (worker, CLI): make sock (not yet connected) a CURVE client of the server whose
 * public key is in server_key_file, with the key pair in key_file. If own_pub is not NULL it
 * receives this side's public key (for messages). Both files empty/NULL: nothing to do (SF_OK,
 * plaintext). Exactly one of them set, a bad file, or no CURVE in this libzmq: SF_ERR_CONFIG
 * with err set. */
sf_status sf_curve_client_setup(void *sock, const char *server_key_file, const char *key_file,
                                char own_pub[41], char *err, size_t errlen);

/* Server side (coordinator): make sock (not yet bound) a CURVE server with this secret key (Z85)
 * and ZAP domain. 0, or -1 (errno from ZeroMQ). */
int sf_curve_server_setup(void *sock, const char *sec_z85, const char *zap_domain);

/* Monitor of a client socket's handshake failures: events go to a PAIR socket connected to an
 * inproc endpoint named after the socket. Returns the PAIR socket (close with zmq_close before
 * the context), or NULL. */
void *sf_curve_monitor_open(void *ctx, void *sock);

/* Read the pending monitor events without waiting. Returns SF_OK if none was a handshake
 * failure, else SF_ERR_AUTH with err describing it ("refused this side's CURVE key", "security
 * mismatch: ..."). curve_on says whether this side uses CURVE: a plaintext side whose handshake
 * fails is told the coordinator requires CURVE (ZeroMQ reports that as a mechanism mismatch or,
 * when the peer closes first, without detail). A refusal (ZAP) and a mechanism mismatch count at
 * once; failures without detail (also seen when a coordinator stops mid-handshake) only after
 * SF_CURVE_VAGUE_FAILURES in a row, counted in *vague (zero it with the socket; a successful
 * handshake resets it). mon may be NULL (SF_OK). */
#define SF_CURVE_VAGUE_FAILURES 3
sf_status sf_curve_monitor_check(void *mon, int curve_on, int *vague, char *err, size_t errlen);

/* Read one socket-monitor event without waiting (its endpoint frame is read and dropped).
 * Returns 1 with *ev / *val set, or 0 when none is pending. */
int sf_monitor_event_recv(void *mon, uint16_t *ev, uint32_t *val);

#endif

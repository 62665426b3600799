/*
 * client.h - the CLI's connection to the coordinator's client endpoint: one ZeroMQ DEALER socket,
 * packed Envelopes, request ids, and timeouts everywhere (an unreachable coordinator is a timeout
 * error, never a hang).
 */
#ifndef STRIKE_CLI_CLIENT_H
#define STRIKE_CLI_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "strike.pb-c.h"

typedef struct sc_client sc_client;

/* Connect a DEALER to endpoint. timeout_ms bounds every wait for a reply. With curve_server_key
 * (the coordinator's public key file) and curve_key (this client's key pair file) set, the
 * connection uses CURVE (both or neither; NULL/"" = plaintext). A handshake that fails (key not
 * on the coordinator's allow-list, CURVE on one side only, wrong server key) makes the next
 * receive fail with SF_ERR_AUTH and a message saying which. NULL + err on failure. */
sc_client *sc_client_new(const char *endpoint, int timeout_ms, const char *curve_server_key,
                         const char *curve_key, char *err, size_t errlen);
void sc_client_destroy(sc_client **c);
const char *sc_client_endpoint(const sc_client *c);
int sc_client_timeout(const sc_client *c);

/* A fresh request id. */
uint64_t sc_next_id(sc_client *c);

/* Send env (version filled in). Returns 0, or an sf_status with err set. */
int sc_send(sc_client *c, Strike__Envelope *env, char *err, size_t errlen);

/*
 * Receive one valid Envelope within timeout_ms (-1: the client's timeout). Frames that do not
 * decode or carry another protocol version are skipped (and counted in sc_client_dropped).
 * Returns the envelope (free with strike__envelope__free_unpacked) or NULL with *status set
 * (SF_ERR_TIMEOUT when nothing came) and err filled.
 */
Strike__Envelope *sc_recv(sc_client *c, int timeout_ms, int *status, char *err, size_t errlen);

/*
 * Send a request and wait for the reply carrying the same request id (other frames are dropped).
 * An Error reply is turned into NULL with *status = its status and err = its message.
 */
Strike__Envelope *sc_call(sc_client *c, Strike__Envelope *req, int *status, char *err, size_t errlen);

uint64_t sc_client_dropped(const sc_client *c);

#endif

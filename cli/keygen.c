/*
 * keygen.c - `strike keygen [--out PREFIX] [--force]`: make a CURVE key pair for the coordinator,
 * a worker or a client. Writes PREFIX.key (the pair, SECRET: created with mode 0600) and PREFIX.pub
 * (the public key alone, for the coordinator's allow-lists and the peers' curve-server-key), in
 * the formats of common/sf_curve.h. Existing files are never overwritten without --force. Prints
 * the public key and the two paths; the secret key is never printed.
 */
#include "keygen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "sf_curve.h"

static void keygen_usage(FILE *f) {
    fprintf(f, "usage: strike keygen [--out PREFIX] [--force]\n\n"
               "Make a CURVE key pair: PREFIX.key (public and SECRET key, mode 0600) and PREFIX.pub\n"
               "(the public key). Default PREFIX: strike. Existing files are kept unless --force.\n"
               "Give PREFIX.key to the program that owns the pair (curve-secret-key / curve-key) and\n"
               "PREFIX.pub to its peers (the coordinator's allow-lists, or curve-server-key).\n"
               "See docs/cli.md and docs/protocol.md \"Security\".\n");
}

/* Write text to a new file (mode), replacing an existing one only if force. 0 or -1 (printed). */
static int write_file(const char *path, const char *text, mode_t mode, int force) {
    if (force && unlink(path) != 0 && errno != ENOENT) {
        fprintf(stderr, "strike keygen: cannot replace %s: %s\n", path, strerror(errno));
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "strike keygen: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = strlen(text), done = 0;
    while (done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "strike keygen: writing %s: %s\n", path, strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        done += (size_t)w;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0) {
        fprintf(stderr, "strike keygen: finishing %s: %s\n", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

int cli_keygen(int argc, char **argv) {
    const char *prefix = "strike";
    int force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            keygen_usage(stdout);
            return CLI_OK;
        } else if (strcmp(a, "--force") == 0) {
            force = 1;
        } else if (strcmp(a, "--out") == 0 && i + 1 < argc) {
            prefix = argv[++i];
        } else if (strncmp(a, "--out=", 6) == 0) {
            prefix = a + 6;
        } else {
            fprintf(stderr, "strike keygen: unexpected argument \"%s\"\n\n", a);
            keygen_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (!*prefix || strlen(prefix) > 4000) {
        fprintf(stderr, "strike keygen: --out needs a path prefix\n");
        return CLI_USAGE;
    }
    char keyp[4100], pubp[4100];
    snprintf(keyp, sizeof keyp, "%s.key", prefix);
    snprintf(pubp, sizeof pubp, "%s.pub", prefix);
    struct stat st;
    if (!force) {
        for (int k = 0; k < 2; k++) {
            const char *p = k ? pubp : keyp;
            if (lstat(p, &st) == 0) {
                fprintf(stderr, "strike keygen: %s exists; not overwriting it (use --force to replace "
                                "the key pair, or another --out)\n", p);
                return CLI_ERR;
            }
        }
    }
    char pub[41], sec[41], err[256], text[512];
    if (sf_curve_keypair(pub, sec, err, sizeof err) != SF_OK) {
        fprintf(stderr, "strike keygen: %s\n", err);
        return CLI_ERR;
    }
    snprintf(text, sizeof text,
             "# strike CURVE key pair: SECRET, keep it private (mode 0600); made by strike keygen\n"
             "# Give this file to its owner only (curve-secret-key / curve-key); share %s.pub.\n"
             "public-key %s\n"
             "secret-key %s\n",
             prefix, pub, sec);
    sf_curve_wipe(sec, sizeof sec);
    int rc = write_file(keyp, text, 0600, force);
    sf_curve_wipe(text, sizeof text);
    if (rc != 0)
        return CLI_ERR;
    snprintf(text, sizeof text,
             "# strike CURVE public key (made by strike keygen with %s.key)\n"
             "%s\n",
             prefix, pub);
    if (write_file(pubp, text, 0644, force) != 0) {
        unlink(keyp); /* no half pair */
        return CLI_ERR;
    }
    printf("public key %s\nwrote %s (secret, mode 0600) and %s\n", pub, keyp, pubp);
    return CLI_OK;
}

/*
 * keygen.h - `strike keygen`: make a CURVE key pair (keygen.c).
 */
#ifndef STRIKE_CLI_KEYGEN_H
#define STRIKE_CLI_KEYGEN_H

/* argv[0] = "keygen". Returns a CLI exit code (cli.h). */
int cli_keygen(int argc, char **argv);

#endif

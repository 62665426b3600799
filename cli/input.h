/*
 * input.h - streaming reader of `strike submit` input: plain text (one prompt per line) or JSONL
 * (one object per line: prompt, seed, steps, width, height). One line is held at a time, so memory
 * stays flat however many prompts the input has.
 *
 * Rules (docs/cli.md "Input formats"):
 *   - A line ends at '\n'; a trailing '\r' is dropped. The last line may lack '\n'.
 *   - Text: the whole line is the prompt. A blank line is an error ("empty prompt").
 *   - JSONL: each line is one JSON object. "prompt" (string) is required; "seed" (integer
 *     0..2^64-1, or a string of decimal digits for seeds above 2^63-1), "steps", "width", "height"
 *     (integers) are optional and override the template. Any other key is an error naming it.
 *   - A prompt must be valid UTF-8 (no NUL), not empty, at most SI_MAX_PROMPT bytes.
 *   - width/height: SI_MIN_SIDE..SI_MAX_SIDE and a multiple of 64; steps: 1..SF_MAX_STEPS.
 */
#ifndef STRIKE_CLI_INPUT_H
#define STRIKE_CLI_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sf_job.h"

#define SI_MAX_PROMPT SF_MAX_PROMPT_BYTES /* bytes of UTF-8 per prompt (4096) */
#define SI_MAX_LINE 65536  /* bytes per input line (JSONL escapes make lines longer than prompts) */

typedef enum { SI_FORMAT_AUTO = 0, SI_FORMAT_TEXT, SI_FORMAT_JSONL } si_format;

/* One job as read from the input; 0 / has_seed=0 means "use the template". */
typedef struct si_job {
    const char *prompt; /* borrowed: valid until the next si_reader_next() */
    size_t prompt_len;  /* bytes, without terminator */
    int has_seed;
    uint64_t seed;
    int steps, width, height;
} si_job;

typedef struct si_reader si_reader;

/* Reader over fp (not closed by the reader). AUTO picks JSONL when the first byte of the input is
 * '{', else text. Returns NULL on out of memory. */
si_reader *si_reader_new(FILE *fp, si_format fmt);
void si_reader_destroy(si_reader **r);

/* Next job. Returns 1 with *job filled, 0 at end of input, -1 for a bad line (err names the line
 * number and what is wrong; the reader stays usable, so a caller may skip the line and go on),
 * -2 for a read error. */
int si_reader_next(si_reader *r, si_job *job, char *err, size_t errlen);

/* Line number (1-based) of the line last returned. */
uint64_t si_reader_line(const si_reader *r);
/* Input bytes consumed so far. */
uint64_t si_reader_offset(const si_reader *r);
/* The format in use (after AUTO has decided; AUTO before the first read). */
si_format si_reader_format(const si_reader *r);

/* Checks shared by input lines and template flags. Return NULL when fine, else a static message. */
const char *si_check_side(long v);
const char *si_check_steps(long v);
/* Returns NULL when s[0..len) is a valid prompt, else a message (written into buf). */
const char *si_check_prompt(const char *s, size_t len, char *buf, size_t buflen);

#endif

/*
 * input.c - streaming text/JSONL reader and the job validation rules of `strike submit`.
 * See input.h for the format rules.
 */
#include "input.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The most steps a job may ask for (common/sf_job.h; the engine's SE_MAX_JOB_STEPS). */
#define SI_MAX_STEPS SF_MAX_STEPS

struct si_reader {
    FILE *fp;          /* input, not owned */
    si_format fmt;     /* TEXT or JSONL once decided */
    char *line;        /* getline buffer */
    size_t cap;        /* its capacity */
    char *prompt;      /* JSONL: the decoded prompt of the current line */
    size_t prompt_cap; /* its capacity */
    uint64_t lineno;   /* 1-based number of the last line read */
    uint64_t offset;   /* bytes consumed */
    int peeked;        /* AUTO: first byte already looked at */
};

si_reader *si_reader_new(FILE *fp, si_format fmt) {
    si_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fp = fp;
    r->fmt = fmt;
    return r;
}

void si_reader_destroy(si_reader **rp) {
    if (!rp || !*rp)
        return;
    free((*rp)->line);
    free((*rp)->prompt);
    free(*rp);
    *rp = NULL;
}

uint64_t si_reader_line(const si_reader *r) { return r->lineno; }
uint64_t si_reader_offset(const si_reader *r) { return r->offset; }
si_format si_reader_format(const si_reader *r) { return r->fmt; }

const char *si_check_side(long v) {
    if (v < (long)SF_MIN_SIDE || v > (long)SF_MAX_SIDE)
        return "out of range (64..4096)";
    if (v % (long)SF_SIDE_STEP != 0)
        return "not a multiple of 64";
    return NULL;
}

/* A job's explicit steps: 1..SI_MAX_STEPS. Which counts a model supports is the coordinator's
 * check (its models config), or the worker's; the client bounds only what no engine runs. 0 is
 * refused here: per job it could only mean "the template's steps", which leaving the key out
 * already says (--steps 0, the model's default, is checked in submit.c). */
const char *si_check_steps(long v) {
    if (v >= 1 && v <= SI_MAX_STEPS)
        return NULL;
    return "not in 1..1000 (leave \"steps\" out for the submit's --steps or the model's default)";
}

/* Length of the valid UTF-8 prefix of s[0..len) (stops at NUL, overlongs, surrogates, >U+10FFFF). */
static size_t utf8_valid_prefix(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c >= 0x01 && c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07;
        } else {
            return i; /* NUL, stray continuation, C0/C1, F5+ */
        }
        if (i + n > len)
            return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n;
    }
    return i;
}

const char *si_check_prompt(const char *s, size_t len, char *buf, size_t buflen) {
    if (len == 0)
        return "empty prompt";
    if (len > SI_MAX_PROMPT) {
        snprintf(buf, buflen, "prompt of %zu bytes is over the limit of %u bytes", len, SI_MAX_PROMPT);
        return buf;
    }
    size_t ok = utf8_valid_prefix((const unsigned char *)s, len);
    if (ok != len) {
        snprintf(buf, buflen, "invalid UTF-8 at byte %zu of the prompt", ok + 1);
        return buf;
    }
    /* All-whitespace prompts are empty too. */
    size_t i = 0;
    while (i < len && isspace((unsigned char)s[i]))
        i++;
    if (i == len)
        return "empty prompt (only whitespace)";
    return NULL;
}

/* Read one line into r->line (without '\n' / '\r'). Returns length, -1 at EOF, -2 on error,
 * -3 when the line is longer than SI_MAX_LINE (the line is consumed). */
static ssize_t read_line(si_reader *r) {
    errno = 0;
    ssize_t n = getline(&r->line, &r->cap, r->fp);
    if (n < 0)
        return ferror(r->fp) ? -2 : -1;
    r->offset += (uint64_t)n;
    r->lineno++;
    if (n > 0 && r->line[n - 1] == '\n')
        r->line[--n] = 0;
    if (n > 0 && r->line[n - 1] == '\r')
        r->line[--n] = 0;
    if (n > SI_MAX_LINE)
        return -3;
    return n;
}

/* Read an integer member; returns NULL or an error message in buf. */
static const char *get_int(json_t *v, const char *key, long *out, char *buf, size_t buflen) {
    if (!json_is_integer(v)) {
        snprintf(buf, buflen, "\"%s\" must be an integer", key);
        return buf;
    }
    json_int_t x = json_integer_value(v);
    if (x < -1000000000LL || x > 1000000000LL) {
        snprintf(buf, buflen, "\"%s\" value %" JSON_INTEGER_FORMAT " is out of range", key, x);
        return buf;
    }
    *out = (long)x;
    return NULL;
}

/* Parse one JSONL line into job. Returns NULL or a message in buf. */
static const char *parse_json(si_reader *r, const char *line, size_t len, si_job *job, char *buf, size_t buflen) {
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    const char *msg = NULL;
    if (!obj) {
        snprintf(buf, buflen, "bad JSON at column %d: %s", jerr.column, jerr.text);
        return buf;
    }
    if (!json_is_object(obj)) {
        msg = "a JSONL line must be an object";
        goto out;
    }
    const char *key;
    json_t *v;
    int have_prompt = 0;
    json_object_foreach(obj, key, v) {
        long x = 0;
        if (strcmp(key, "prompt") == 0) {
            if (!json_is_string(v)) {
                msg = "\"prompt\" must be a string";
                goto out;
            }
            size_t pl = json_string_length(v);
            if (pl + 1 > r->prompt_cap) {
                char *np = realloc(r->prompt, pl + 1);
                if (!np) {
                    msg = "out of memory";
                    goto out;
                }
                r->prompt = np;
                r->prompt_cap = pl + 1;
            }
            memcpy(r->prompt, json_string_value(v), pl);
            r->prompt[pl] = 0;
            job->prompt = r->prompt;
            job->prompt_len = pl;
            have_prompt = 1;
        } else if (strcmp(key, "seed") == 0) {
            if (json_is_integer(v) && json_integer_value(v) >= 0) {
                job->seed = (uint64_t)json_integer_value(v);
            } else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 20) {
                const char *s = json_string_value(v);
                char *end;
                for (const char *p = s; *p; p++)
                    if (!isdigit((unsigned char)*p)) {
                        msg = "\"seed\" string must hold decimal digits only";
                        goto out;
                    }
                errno = 0;
                unsigned long long u = strtoull(s, &end, 10);
                if (errno || *end) {
                    msg = "\"seed\" is out of range (0..18446744073709551615)";
                    goto out;
                }
                job->seed = u;
            } else {
                msg = "\"seed\" must be an integer 0..18446744073709551615 (or a string of digits)";
                goto out;
            }
            job->has_seed = 1;
        } else if (strcmp(key, "steps") == 0) {
            if ((msg = get_int(v, key, &x, buf, buflen)))
                goto out;
            const char *e = si_check_steps(x);
            if (e) {
                snprintf(buf, buflen, "\"steps\" %ld is %s", x, e);
                msg = buf;
                goto out;
            }
            job->steps = (int)x;
        } else if (strcmp(key, "width") == 0 || strcmp(key, "height") == 0) {
            if ((msg = get_int(v, key, &x, buf, buflen)))
                goto out;
            const char *e = si_check_side(x);
            if (e) {
                snprintf(buf, buflen, "\"%s\" %ld is %s", key, x, e);
                msg = buf;
                goto out;
            }
            if (key[0] == 'w')
                job->width = (int)x;
            else
                job->height = (int)x;
        } else {
            snprintf(buf, buflen, "unknown key \"%.64s\" (allowed: prompt, seed, steps, width, height)", key);
            msg = buf;
            goto out;
        }
    }
    if (!have_prompt)
        msg = "missing \"prompt\"";
out:
    json_decref(obj);
    return msg;
}

int si_reader_next(si_reader *r, si_job *job, char *err, size_t errlen) {
    if (r->fmt == SI_FORMAT_AUTO) {
        /* Look at the first byte without consuming it. */
        int c = getc(r->fp);
        if (c != EOF)
            ungetc(c, r->fp);
        r->fmt = c == '{' ? SI_FORMAT_JSONL : SI_FORMAT_TEXT;
    }

    ssize_t n = read_line(r);
    if (n == -1)
        return 0;
    if (n == -2)
        goto read_fail;
    memset(job, 0, sizeof *job);
    char buf[200];
    const char *msg;
    if (n == -3) {
        snprintf(err, errlen, "line %" PRIu64 ": line is longer than %d bytes", r->lineno, SI_MAX_LINE);
        return -1;
    }
    if (r->fmt == SI_FORMAT_JSONL) {
        msg = parse_json(r, r->line, (size_t)n, job, buf, sizeof buf);
        if (!msg)
            msg = si_check_prompt(job->prompt, job->prompt_len, buf + 100, 100);
    } else {
        job->prompt = r->line;
        job->prompt_len = (size_t)n;
        msg = si_check_prompt(job->prompt, job->prompt_len, buf, sizeof buf);
    }
    if (msg) {
        snprintf(err, errlen, "line %" PRIu64 ": %s", r->lineno, msg);
        return -1;
    }
    return 1;
read_fail:
    snprintf(err, errlen, "read error after line %" PRIu64 ": %s", r->lineno, strerror(errno));
    return -2;
}

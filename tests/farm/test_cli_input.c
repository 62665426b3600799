/*
 * test_cli_input.c - unit test of the `strike submit` input reader (cli/input.c): text and JSONL,
 * auto-detection, line numbers, and every bad-input case (invalid UTF-8, empty and over-long
 * prompt, bad JSON, unknown key, bad width/height/steps), plus the reader going on after a bad line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "test_util.h"

/* Reader over an in-memory string. */
static si_reader *over(const char *text, size_t len, si_format fmt, FILE **fp) {
    *fp = fmemopen((void *)text, len, "r");
    return si_reader_new(*fp, fmt);
}

/* Read the first job of text; returns the reader's result and copies the error. */
static int first(const char *text, si_format fmt, si_job *job, char *err, size_t errlen) {
    FILE *fp;
    si_reader *r = over(text, strlen(text), fmt, &fp);
    int rc = si_reader_next(r, job, err, errlen);
    si_reader_destroy(&r);
    fclose(fp);
    return rc;
}

static int has(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

int main(void) {
    char err[512];
    si_job j;

    /* Text: lines, CRLF, last line without newline, line numbers. */
    {
        const char *t = "a red fox\r\nsecond prompt\nthird";
        FILE *fp;
        si_reader *r = over(t, strlen(t), SI_FORMAT_AUTO, &fp);
        CHECK(si_reader_next(r, &j, err, sizeof err) == 1);
        CHECK(j.prompt_len == 9 && memcmp(j.prompt, "a red fox", 9) == 0 && !j.has_seed && j.steps == 0);
        CHECK(si_reader_format(r) == SI_FORMAT_TEXT);
        CHECK(si_reader_next(r, &j, err, sizeof err) == 1 && strcmp(j.prompt, "second prompt") == 0);
        CHECK(si_reader_next(r, &j, err, sizeof err) == 1 && strcmp(j.prompt, "third") == 0);
        CHECK(si_reader_line(r) == 3);
        CHECK(si_reader_next(r, &j, err, sizeof err) == 0);
        si_reader_destroy(&r);
        fclose(fp);
    }
    /* Text: an empty line is an error naming its line; the reader goes on after it. */
    {
        const char *t = "one\n\nthree\n";
        FILE *fp;
        si_reader *r = over(t, strlen(t), SI_FORMAT_TEXT, &fp);
        CHECK(si_reader_next(r, &j, err, sizeof err) == 1);
        CHECK(si_reader_next(r, &j, err, sizeof err) == -1);
        CHECK_MSG(has(err, "line 2") && has(err, "empty prompt"), "%s", err);
        CHECK(si_reader_next(r, &j, err, sizeof err) == 1 && strcmp(j.prompt, "three") == 0);
        si_reader_destroy(&r);
        fclose(fp);
    }
    /* Invalid UTF-8: stray continuation, overlong, surrogate, truncated sequence. */
    const char *bad_utf8[] = {"bad \x80 byte", "over\xc0\xafong", "sur\xed\xa0\x80rogate", "cut \xe6\x97"};
    for (int i = 0; i < 4; i++) {
        CHECK(first(bad_utf8[i], SI_FORMAT_TEXT, &j, err, sizeof err) == -1);
        CHECK_MSG(has(err, "line 1") && has(err, "invalid UTF-8"), "%s", err);
    }
    CHECK(first("caf\xc3\xa9 \xf0\x9f\x98\x80", SI_FORMAT_TEXT, &j, err, sizeof err) == 1);
    /* Over-long prompt: 4096 bytes is fine, 4097 is not. */
    {
        char *p = malloc(4098 + 1);
        memset(p, 'x', 4097);
        p[4096] = 0;
        CHECK(first(p, SI_FORMAT_TEXT, &j, err, sizeof err) == 1 && j.prompt_len == 4096);
        p[4096] = 'x';
        p[4097] = 0;
        CHECK(first(p, SI_FORMAT_TEXT, &j, err, sizeof err) == -1);
        CHECK_MSG(has(err, "4097 bytes") && has(err, "4096"), "%s", err);
        free(p);
    }
    /* JSONL: all keys, auto-detection, seed as a string above 2^63. */
    {
        const char *t = "{\"prompt\":\"a \\\"cat\\\"\",\"seed\":7,\"steps\":2,\"width\":512,\"height\":768}\n"
                        "{\"prompt\":\"b\",\"seed\":\"18446744073709551615\"}\n";
        FILE *fp;
        si_reader *r = over(t, strlen(t), SI_FORMAT_AUTO, &fp);
        CHECK(si_reader_next(r, &j, err, sizeof err) == 1);
        CHECK(si_reader_format(r) == SI_FORMAT_JSONL);
        CHECK(strcmp(j.prompt, "a \"cat\"") == 0 && j.has_seed && j.seed == 7 && j.steps == 2 && j.width == 512 &&
              j.height == 768);
        CHECK(si_reader_next(r, &j, err, sizeof err) == 1);
        CHECK(j.has_seed && j.seed == 18446744073709551615ull && j.steps == 0 && j.width == 0);
        si_reader_destroy(&r);
        fclose(fp);
    }
    /* JSONL errors, each naming the line and the problem. */
    struct {
        const char *line, *want;
    } cases[] = {
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"colour\":1}\n", "unknown key \"colour\""},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"x\"\n", "bad JSON"},
        {"{\"prompt\":\"ok\"}\n{\"seed\":1}\n", "missing \"prompt\""},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"width\":1000}\n", "not a multiple of 64"},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"height\":8192}\n", "out of range"},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"width\":0}\n", "out of range"},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"steps\":1001}\n", "\"steps\" 1001 is not in 1..1000"},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"steps\":0}\n", "\"steps\" 0 is not in 1..1000"},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"steps\":-4}\n", "\"steps\" -4 is not in 1..1000"},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"steps\":\"4\"}\n", "must be an integer"},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"\"}\n", "empty prompt"},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"seed\":-1}\n", "\"seed\""},
        {"{\"prompt\":\"ok\"}\n[1,2]\n", "must be an object"},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"prompt\":\"y\"}\n", "bad JSON"},
        {"{\"prompt\":\"ok\"}\n{\"prompt\":\"a\\u0000b\"}\n", "invalid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *fp;
        si_reader *r = over(cases[i].line, strlen(cases[i].line), SI_FORMAT_AUTO, &fp);
        CHECK(si_reader_next(r, &j, err, sizeof err) == 1);
        int rc = si_reader_next(r, &j, err, sizeof err);
        CHECK_MSG(rc == -1 && has(err, "line 2") && has(err, cases[i].want), "case %zu: rc %d err \"%s\"", i, rc, err);
        si_reader_destroy(&r);
        fclose(fp);
    }
    /* Template checks. */
    CHECK(si_check_side(64) == NULL && si_check_side(4096) == NULL && si_check_side(1024) == NULL);
    CHECK(si_check_side(32) != NULL && si_check_side(100) != NULL && si_check_side(4160) != NULL);
    /* any count 1..1000 (the models config may list any; the coordinator checks the model's) */
    CHECK(si_check_steps(1) == NULL && si_check_steps(8) == NULL && si_check_steps(3) == NULL &&
          si_check_steps(16) == NULL && si_check_steps(1000) == NULL);
    CHECK(si_check_steps(0) != NULL && si_check_steps(1001) != NULL && si_check_steps(-1) != NULL &&
          si_check_steps(2147483647L) != NULL);
    return test_report("test_cli_input");
}

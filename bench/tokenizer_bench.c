/*
 * tokenizer_bench.c - tokenizer throughput on one core: 20-word prompts through SDXL's
 * `tokenizer_2` rules (the slower one: "!" is matched as a special token too).
 *
 *   tokenizer_bench <dir with vocab.json + merges.txt | fixtures dir with *.gz> [prompts]
 * Prints key=value lines: tokenize_prompts_per_s, tokenize_ns_per_prompt, prompts, words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_tokenizer_gz.h" /* read_gz, shared with the text tests (tests/engine) */
#include "text/tokenizer.h"

static const char *WORDS[] = {
    "a", "photo", "of", "the", "cat", "dog", "astronaut", "riding", "horse", "on", "mars", "beautiful",
    "detailed", "portrait", "woman", "man", "city", "night", "neon", "lights", "rain", "cinematic",
    "lighting", "8k", "ultra", "realistic", "painting", "by", "greg", "rutkowski", "trending", "artstation",
    "forest", "mountain", "lake", "sunset", "golden", "hour", "dramatic", "sky", "castle", "dragon",
    "fantasy", "concept", "art", "studio", "ghibli", "anime", "style", "vibrant", "colors", "soft",
    "focus", "bokeh", "35mm", "lens", "masterpiece", "best", "quality", "highly", "intricate", "sharp",
    "wearing", "red", "dress", "blue", "eyes", "long", "hair", "smiling", "standing", "in", "garden",
    "flowers", "steampunk", "robot", "cyberpunk", "street", "futuristic", "ancient", "temple", "misty",
    "morning", "octane", "render", "unreal", "engine", "illustration", "watercolor", "sketch", "oil",
    "canvas", "close-up", "wide", "angle", "shot", "award-winning", "photography", "Nikon", "f/1.8",
    "glowing", "magical", "epic", "scene", "Zürich", "café", "snow", "winter", "autumn", "leaves!"};

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <fixtures/tokenizer dir> [prompts]\n", argv[0]);
        return 2;
    }
    long n_prompts = argc > 2 ? atol(argv[2]) : 400000;
    char vp[1024], mp[1024];
    snprintf(vp, sizeof vp, "%s/vocab.json.gz", argv[1]);
    snprintf(mp, sizeof mp, "%s/merges.txt.gz", argv[1]);
    size_t vl = 0, ml = 0;
    char *v = read_gz(vp, &vl), *m = read_gz(mp, &ml);
    if (!v || !m) {
        fprintf(stderr, "cannot read %s or %s\n", vp, mp);
        return 1;
    }
    se_tokenizer *tok;
    if (se_tokenizer_from_memory(v, vl, m, ml, SE_TOK_PAD_BANG, NULL, argv[1], &tok) != SE_OK) {
        fprintf(stderr, "load: %s\n", se_last_error());
        return 1;
    }
    /* 4096 distinct 20-word prompts, reused round robin. */
    enum { NP = 4096 };
    const size_t nw = sizeof WORDS / sizeof WORDS[0];
    static char prompts[NP][400];
    static size_t lens[NP];
    unsigned long long r = 88172645463325252ULL;
    for (int i = 0; i < NP; i++) {
        size_t n = 0;
        for (int w = 0; w < 20; w++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            n += (size_t)snprintf(prompts[i] + n, sizeof prompts[i] - n, "%s%s", w ? " " : "", WORDS[r % nw]);
        }
        lens[i] = n;
    }
    int32_t ids[77];
    long long sink = 0;
    for (int i = 0; i < NP; i++) { /* warm the word cache */
        se_tokenizer_encode(tok, prompts[i], lens[i], 77, ids, NULL);
        sink += ids[5];
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n_prompts; i++) {
        if (se_tokenizer_encode(tok, prompts[i % NP], lens[i % NP], 77, ids, NULL) != SE_OK) {
            fprintf(stderr, "encode: %s\n", se_last_error());
            return 1;
        }
        sink += ids[3];
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    printf("tokenize_prompts_per_s=%.0f\n", (double)n_prompts / s);
    printf("tokenize_ns_per_prompt=%.1f\n", 1e9 * s / (double)n_prompts);
    printf("prompts=%ld\nwords_per_prompt=20\nchecksum=%lld\n", n_prompts, sink);
    se_tokenizer_destroy(&tok);
    free(v);
    free(m);
    return 0;
}

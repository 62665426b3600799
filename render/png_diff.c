/*
 * png_diff.c - test helper: decodes two PNGs as 8-bit RGB (libpng's simplified API) and prints
 * "max_abs_diff=N width=W height=H"; exit 0 when the sizes match and N <= LIMIT (argv[3],
 * default 0), 1 otherwise, 2 when a file cannot be read.
 */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *load(const char *path, png_uint_32 *w, png_uint_32 *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) {
        fprintf(stderr, "png_diff: %s: %s\n", path, img.message);
        return NULL;
    }
    img.format = PNG_FORMAT_RGB;
    if (img.width > 16384 || img.height > 16384) {
        fprintf(stderr, "png_diff: %s: too large\n", path);
        png_image_free(&img);
        return NULL;
    }
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!buf || !png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        fprintf(stderr, "png_diff: %s: %s\n", path, img.message);
        free(buf);
        png_image_free(&img);
        return NULL;
    }
    *w = img.width;
    *h = img.height;
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: png_diff A.png B.png [LIMIT]\n");
        return 2;
    }
    int limit = argc > 3 ? atoi(argv[3]) : 0;
    png_uint_32 wa = 0, ha = 0, wb = 0, hb = 0;
    unsigned char *a = load(argv[1], &wa, &ha), *b = load(argv[2], &wb, &hb);
    if (!a || !b) {
        free(a);
        free(b);
        return 2;
    }
    int maxd = 0;
    if (wa == wb && ha == hb) {
        for (size_t i = 0; i < (size_t)wa * ha * 3; i++) {
            int d = abs((int)a[i] - (int)b[i]);
            if (d > maxd) maxd = d;
        }
    }
    printf("max_abs_diff=%d width=%u height=%u\n", maxd, (unsigned)wa, (unsigned)ha);
    free(a);
    free(b);
    return (wa == wb && ha == hb && maxd <= limit) ? 0 : 1;
}

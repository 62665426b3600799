/*
 * png_check.c - test helper: reads PNG paths (arguments, or one per line on stdin with "-") and
 * decodes each fully with libpng. Prints "bad PATH: why" for each failure and a final line
 * "checked=N bad=M"; exits 1 if any is bad. With --text KEY it also prints the KEY text chunk of
 * the first file (to check the A1111 `parameters` chunk from a script).
 */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decode one file; returns 0 or -1 with why. */
static int check(const char *path, const char *key, char *why, size_t cap) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(why, cap, "cannot open");
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep row = NULL;
    if (setjmp(png_jmpbuf(png))) {
        snprintf(why, cap, "libpng could not decode it");
        png_destroy_read_struct(&png, &info, NULL);
        free(row);
        fclose(fp);
        return -1;
    }
    png_init_io(png, fp);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (png_get_bit_depth(png, info) != 8 || png_get_color_type(png, info) != PNG_COLOR_TYPE_RGB || w == 0 ||
        h == 0 || w > 65536) {
        snprintf(why, cap, "not 8-bit RGB");
        png_destroy_read_struct(&png, &info, NULL);
        fclose(fp);
        return -1;
    }
    row = malloc((size_t)w * 3);
    for (png_uint_32 y = 0; y < h; y++)
        png_read_row(png, row, NULL);
    png_read_end(png, info);
    if (key) {
        png_textp text;
        int n = 0;
        png_get_text(png, info, &text, &n);
        for (int i = 0; i < n; i++)
            if (strcmp(text[i].key, key) == 0)
                printf("%s\n", text[i].text);
    }
    free(row);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
    return 0;
}

int main(int argc, char **argv) {
    const char *key = NULL;
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "--text") == 0) {
        key = argv[2];
        i = 3;
    }
    long checked = 0, bad = 0;
    char why[128];
    char *line = NULL;
    size_t cap = 0;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0) {
            ssize_t n;
            while ((n = getline(&line, &cap, stdin)) > 0) {
                if (line[n - 1] == '\n')
                    line[n - 1] = 0;
                if (!*line)
                    continue;
                checked++;
                if (check(line, checked == 1 ? key : NULL, why, sizeof why) != 0) {
                    bad++;
                    printf("bad %s: %s\n", line, why);
                }
            }
            continue;
        }
        checked++;
        if (check(argv[i], checked == 1 ? key : NULL, why, sizeof why) != 0) {
            bad++;
            printf("bad %s: %s\n", argv[i], why);
        }
    }
    free(line);
    printf("checked=%ld bad=%ld\n", checked, bad);
    return bad ? 1 : 0;
}

/*
 * test_png_write.c - unit test of common/png_write: writes images, reads them back with libpng and
 * checks pixels, the A1111 `parameters` chunk, Strike's keys, the atomic rename (no temporary file
 * left) and the error for a missing directory.
 */
#include "png_write.h"

#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

/* Decoded image plus its text chunks. */
typedef struct {
    int w, h;
    unsigned char *rgb;
    char keys[8][64];
    char *vals[8];
    int ntext;
} image;

static void image_free(image *im) {
    free(im->rgb);
    for (int i = 0; i < im->ntext; i++)
        free(im->vals[i]);
    memset(im, 0, sizeof *im);
}

/* Read path with libpng (png_image cannot give text, so use the full API). */
static int read_png(const char *path, image *im) {
    memset(im, 0, sizeof *im);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(fp);
        return -1;
    }
    png_init_io(png, fp);
    png_read_info(png, info);
    im->w = (int)png_get_image_width(png, info);
    im->h = (int)png_get_image_height(png, info);
    if (png_get_bit_depth(png, info) != 8 || png_get_color_type(png, info) != PNG_COLOR_TYPE_RGB)
        png_error(png, "not 8-bit RGB");
    im->rgb = malloc((size_t)im->w * im->h * 3);
    for (int y = 0; y < im->h; y++)
        png_read_row(png, im->rgb + (size_t)y * im->w * 3, NULL);
    png_read_end(png, info);
    png_textp text;
    int n = 0;
    png_get_text(png, info, &text, &n);
    for (int i = 0; i < n && i < 8; i++) {
        snprintf(im->keys[i], sizeof im->keys[i], "%s", text[i].key);
        size_t len = text[i].compression == PNG_ITXT_COMPRESSION_NONE ? text[i].itxt_length : text[i].text_length;
        im->vals[i] = malloc(len + 1);
        memcpy(im->vals[i], text[i].text, len);
        im->vals[i][len] = 0;
        im->ntext++;
    }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
    return 0;
}

static const char *text_of(const image *im, const char *key) {
    for (int i = 0; i < im->ntext; i++)
        if (strcmp(im->keys[i], key) == 0)
            return im->vals[i];
    return NULL;
}

/* Number of entries in dir whose name starts with '.' other than . and .. (temporary files). */
static int count_hidden(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

int main(void) {
    char dir[] = "/tmp/strike-png-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/img.png", dir);

    int w = 37, h = 19;
    unsigned char *rgb = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++)
        rgb[i] = (unsigned char)(i * 7 + 3);

    sf_png_meta meta = {.prompt = "a cat, on a mat", .model = "sdxl-lightning", .seed = 42, .steps = 4,
                        .submission = "s-123", .job_index = 7, .has_job_index = 1, .noise_mode = "null",
                        .model_hash = "abc", .engine_version = "null-1"};
    char err[512] = "";
    for (int level = 0; level <= 9; level += 9) {
        sf_png_opts o;
        sf_png_opts_init(&o);
        o.compression = level;
        CHECK_MSG(sf_png_write(path, rgb, w, h, &meta, &o, err, sizeof err) == 0, "%s", err);
        image im;
        CHECK(read_png(path, &im) == 0);
        CHECK(im.w == w && im.h == h);
        CHECK(im.rgb && memcmp(im.rgb, rgb, (size_t)w * h * 3) == 0);
        const char *p = text_of(&im, "parameters");
        CHECK(p && strcmp(p, "a cat, on a mat\nSteps: 4, Sampler: Euler, Seed: 42, Size: 37x19, Model: "
                             "sdxl-lightning") == 0);
        CHECK(text_of(&im, "strike:submission") && strcmp(text_of(&im, "strike:submission"), "s-123") == 0);
        CHECK(text_of(&im, "strike:job_index") && strcmp(text_of(&im, "strike:job_index"), "7") == 0);
        CHECK(text_of(&im, "strike:noise_mode") && strcmp(text_of(&im, "strike:noise_mode"), "null") == 0);
        CHECK(text_of(&im, "strike:model_hash") && strcmp(text_of(&im, "strike:model_hash"), "abc") == 0);
        CHECK(text_of(&im, "strike:engine_version") &&
              strcmp(text_of(&im, "strike:engine_version"), "null-1") == 0);
        image_free(&im);
    }

    /* UTF-8 prompt: stored as iTXt, read back byte-identical. Overwrite of the same path works. */
    meta.prompt = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac";
    meta.seed = 18446744073709551615ull;
    CHECK_MSG(sf_png_write(path, rgb, w, h, &meta, NULL, err, sizeof err) == 0, "%s", err);
    image im;
    CHECK(read_png(path, &im) == 0);
    const char *p = text_of(&im, "parameters");
    CHECK(p && strncmp(p, meta.prompt, strlen(meta.prompt)) == 0);
    CHECK(p && strstr(p, "Seed: 18446744073709551615,") != NULL);
    image_free(&im);

    /* No temporary file is left behind. */
    CHECK(count_hidden(dir) == 0);

    /* A missing directory is an error naming the path, with nothing created. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/missing/img.png", dir);
    err[0] = 0;
    CHECK(sf_png_write(bad, rgb, w, h, &meta, NULL, err, sizeof err) == -1);
    CHECK(strstr(err, "missing/img.png") != NULL);
    CHECK(sf_png_write(path, rgb, 0, h, &meta, NULL, err, sizeof err) == -1);
    CHECK(sf_png_write(path, NULL, w, h, &meta, NULL, err, sizeof err) == -1);

    /* NULL meta: a plain image without text chunks. */
    CHECK(sf_png_write(path, rgb, w, h, NULL, NULL, err, sizeof err) == 0);
    CHECK(read_png(path, &im) == 0);
    CHECK(im.ntext == 0 && im.w == w);
    image_free(&im);

    unlink(path);
    rmdir(dir);
    free(rgb);
    return test_report("test_png_write");
}

/*
 * png_write.c - the PNG writer: libpng encoding of 8-bit RGB with A1111 `parameters` metadata and
 * Strike's own text keys, written atomically (temporary name, fsync, rename). See png_write.h.
 */
#include "png_write.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest side we accept; keeps width*height*3 far from overflow. */
#define SF_PNG_MAX_SIDE 65536

static atomic_uint g_tmp_counter;

void sf_png_opts_init(sf_png_opts *o) {
    o->compression = 6;
    o->fsync_file = 1;
    o->fsync_dir = 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int sf_png_parameters(char *buf, size_t buflen, const sf_png_meta *meta, int width, int height) {
    if (!meta || !meta->prompt)
        return -1;
    return snprintf(buf, buflen, "%s\nSteps: %d, Sampler: %s, Seed: %" PRIu64 ", Size: %dx%d, Model: %s",
                    meta->prompt, meta->steps, meta->sampler ? meta->sampler : "Euler", meta->seed, width,
                    height, meta->model ? meta->model : "");
}

/* 1 when s holds only printable ASCII plus newline (safe for a Latin-1 tEXt chunk). */
static int is_ascii(const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80 || (c < 0x20 && c != '\n'))
            return 0;
    }
    return 1;
}

/* Fill one png_text entry; text is borrowed. */
static void text_entry(png_text *t, const char *key, const char *value) {
    memset(t, 0, sizeof *t);
    t->key = (png_charp)key;
    t->text = (png_charp)value;
    t->text_length = strlen(value);
    if (is_ascii(value)) {
        t->compression = PNG_TEXT_COMPRESSION_NONE;
    } else {
        t->compression = PNG_ITXT_COMPRESSION_NONE;
        t->itxt_length = t->text_length;
        t->text_length = 0;
        t->lang = (png_charp) "";
        t->lang_key = (png_charp) "";
    }
}

/* libpng error callback: keep the message and jump back to the setjmp in encode(). */
static void on_png_error(png_structp png, png_const_charp msg) {
    char *buf = png_get_error_ptr(png);
    if (buf)
        snprintf(buf, 256, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* Encode rgb into fp. Returns 0 or -1 with a message in pngerr (256 bytes). */
static int encode(FILE *fp, const uint8_t *rgb, int width, int height, const sf_png_meta *meta,
                  const sf_png_opts *opts, char *pngerr) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, pngerr, on_png_error, on_png_warning);
    if (!png) {
        snprintf(pngerr, 256, "png_create_write_struct failed");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    char *volatile params = NULL; /* volatile: survives the longjmp */
    char idx[32];
    if (!info) {
        snprintf(pngerr, 256, "png_create_info_struct failed");
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(params);
        return -1;
    }
    png_init_io(png, fp);
    if (opts->compression >= 0 && opts->compression <= 9)
        png_set_compression_level(png, opts->compression);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);

    png_text texts[6];
    int nt = 0;
    if (meta && meta->prompt) {
        int need = sf_png_parameters(NULL, 0, meta, width, height);
        params = malloc((size_t)need + 1);
        if (!params) {
            snprintf(pngerr, 256, "out of memory for the parameters chunk");
            png_destroy_write_struct(&png, &info);
            return -1;
        }
        sf_png_parameters(params, (size_t)need + 1, meta, width, height);
        text_entry(&texts[nt++], "parameters", params);
    }
    if (meta) {
        if (meta->submission && *meta->submission)
            text_entry(&texts[nt++], "strike:submission", meta->submission);
        if (meta->has_job_index) {
            snprintf(idx, sizeof idx, "%" PRIu64, meta->job_index);
            text_entry(&texts[nt++], "strike:job_index", idx);
        }
        if (meta->noise_mode && *meta->noise_mode)
            text_entry(&texts[nt++], "strike:noise_mode", meta->noise_mode);
        if (meta->model_hash && *meta->model_hash)
            text_entry(&texts[nt++], "strike:model_hash", meta->model_hash);
        if (meta->engine_version && *meta->engine_version)
            text_entry(&texts[nt++], "strike:engine_version", meta->engine_version);
    }
    if (nt > 0)
        png_set_text(png, info, texts, nt);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)width * 3));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(params);
    return 0;
}

int sf_png_write(const char *path, const uint8_t *rgb, int width, int height, const sf_png_meta *meta,
                 const sf_png_opts *opts, char *err, size_t errlen) {
    sf_png_opts defaults;
    if (!opts) {
        sf_png_opts_init(&defaults);
        opts = &defaults;
    }
    if (!path || !*path) {
        set_err(err, errlen, "png: empty output path");
        return -1;
    }
    if (!rgb || width <= 0 || height <= 0 || width > SF_PNG_MAX_SIDE || height > SF_PNG_MAX_SIDE) {
        set_err(err, errlen, "png %s: bad image %dx%d (sides must be 1..%d)", path, width, height,
                SF_PNG_MAX_SIDE);
        return -1;
    }

    /* Temporary name in the same directory, so rename() stays on one filesystem. */
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    const char *base = slash ? slash + 1 : path;
    char tmp[PATH_MAX];
    unsigned n = atomic_fetch_add(&g_tmp_counter, 1u);
    int tl;
    if (slash)
        tl = snprintf(tmp, sizeof tmp, "%.*s/.%s.%ld.%u.tmp", (int)dirlen, path, base, (long)getpid(), n);
    else
        tl = snprintf(tmp, sizeof tmp, ".%s.%ld.%u.tmp", base, (long)getpid(), n);
    if (tl < 0 || (size_t)tl >= sizeof tmp) {
        set_err(err, errlen, "png %s: path too long", path);
        return -1;
    }

    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_err(err, errlen, "png %s: cannot create %s: %s", path, tmp, strerror(errno));
        return -1;
    }
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        set_err(err, errlen, "png %s: fdopen: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    char pngerr[256] = "";
    if (encode(fp, rgb, width, height, meta, opts, pngerr) != 0) {
        set_err(err, errlen, "png %s: encode: %s", path, pngerr);
        fclose(fp);
        unlink(tmp);
        return -1;
    }
    if (fflush(fp) != 0 || (opts->fsync_file && fsync(fd) != 0)) {
        set_err(err, errlen, "png %s: write %s: %s", path, tmp, strerror(errno));
        fclose(fp);
        unlink(tmp);
        return -1;
    }
    if (fclose(fp) != 0) {
        set_err(err, errlen, "png %s: close %s: %s", path, tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        set_err(err, errlen, "png %s: rename from %s: %s", path, tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (opts->fsync_dir) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(dirlen ? dirlen : 1) : 1, slash ? path : ".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return 0;
}

/*
 * output.c - PNG files and per-worker manifests of strike-worker (see output.h).
 */
#include "output.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sf_job.h"

#define SW_MANIFESTS 16 /* manifests kept open at once (least recently used is closed) */

/* One open manifest. */
typedef struct manifest {
    char submission[160]; /* submission id ("" = slot free) */
    FILE *fp;             /* append stream */
    uint64_t used;        /* LRU stamp */
} manifest;

struct sw_output {
    char worker_id[160];          /* names the manifest files */
    sf_png_opts png;              /* encoder options */
    int write_manifest;           /* 0: no manifests */
    pthread_mutex_t dir_mu;       /* guards last_dir: PNGs of a batch are written in parallel */
    char last_dir[PATH_MAX];      /* last directory known to exist (skips mkdir calls) */
    manifest m[SW_MANIFESTS];
    uint64_t clock;               /* LRU counter */
};

sw_output *sw_output_new(const char *worker_id, const sf_png_opts *png, int write_manifest) {
    sw_output *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    /* The id goes into a file name: keep it to safe characters. */
    snprintf(o->worker_id, sizeof o->worker_id, "%s", worker_id);
    for (char *p = o->worker_id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.'))
            *p = '_';
    o->png = *png;
    o->write_manifest = write_manifest;
    pthread_mutex_init(&o->dir_mu, NULL);
    return o;
}

void sw_output_destroy(sw_output **op) {
    if (!op || !*op)
        return;
    for (int i = 0; i < SW_MANIFESTS; i++)
        if ((*op)->m[i].fp)
            fclose((*op)->m[i].fp);
    pthread_mutex_destroy(&(*op)->dir_mu);
    free(*op);
    *op = NULL;
}

/* mkdir -p for the directory part of path (everything before the last '/'). Caller holds dir_mu. */
static int make_parent_locked(sw_output *o, const char *path, char *err, size_t errlen) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    size_t n = (size_t)(slash - path);
    if (n >= sizeof o->last_dir) {
        snprintf(err, errlen, "output path too long: %s", path);
        return -1;
    }
    if (strncmp(o->last_dir, path, n) == 0 && o->last_dir[n] == 0)
        return 0;
    char dir[PATH_MAX];
    memcpy(dir, path, n);
    dir[n] = 0;
    for (char *p = dir + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
                return -1;
            }
            *p = c;
            if (c == 0)
                break;
        }
    }
    memcpy(o->last_dir, dir, n + 1);
    return 0;
}

/* make_parent_locked under the directory lock (thread-safe). */
static int make_parent(sw_output *o, const char *path, char *err, size_t errlen) {
    pthread_mutex_lock(&o->dir_mu);
    int rc = make_parent_locked(o, path, err, errlen);
    pthread_mutex_unlock(&o->dir_mu);
    return rc;
}

/* JSON string escape of s[0..len) into fp. */
static void json_str(FILE *fp, const char *s, size_t len) {
    fputc('"', fp);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

/* The open manifest of a submission, opening <root>/<submission>/manifest-<worker>.jsonl. */
static FILE *manifest_for(sw_output *o, const char *root, const char *submission) {
    manifest *free_slot = NULL, *lru = &o->m[0];
    for (int i = 0; i < SW_MANIFESTS; i++) {
        manifest *m = &o->m[i];
        if (m->fp && strcmp(m->submission, submission) == 0) {
            m->used = ++o->clock;
            return m->fp;
        }
        if (!m->fp && !free_slot)
            free_slot = m;
        if (m->used < lru->used)
            lru = m;
    }
    manifest *m = free_slot ? free_slot : lru;
    if (m->fp)
        fclose(m->fp);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/manifest-%s.jsonl", root, submission, o->worker_id);
    m->fp = fopen(path, "a");
    if (!m->fp)
        return NULL;
    snprintf(m->submission, sizeof m->submission, "%s", submission);
    m->used = ++o->clock;
    return m->fp;
}

/* The job's output path into path[PATH_MAX]. Returns 0 or -1 with err. */
static int job_path(const sw_output_job *j, char *path, char *err, size_t errlen) {
    if (!j->root || !*j->root) {
        snprintf(err, errlen, "no output root: the submission has none and the worker has no --output-root");
        return -1;
    }
    if (sf_output_path(path, PATH_MAX, j->root, j->submission, j->prefix, j->index) < 0) {
        snprintf(err, errlen, "output path too long under %s", j->root);
        return -1;
    }
    return 0;
}

int sw_output_png(sw_output *o, const sw_output_job *j, char *err, size_t errlen) {
    char path[PATH_MAX];
    if (job_path(j, path, err, errlen) != 0 || make_parent(o, path, err, errlen) != 0)
        return -1;
    /* NUL-terminated copy of the prompt (the shard holds it without terminator). */
    char small[SF_MAX_PROMPT_BYTES + 1];
    char *prompt = j->job->prompt_len < sizeof small ? small : malloc(j->job->prompt_len + 1);
    if (!prompt) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(prompt, j->job->prompt, j->job->prompt_len);
    prompt[j->job->prompt_len] = 0;
    sf_png_meta meta = {
        .prompt = prompt,
        .model = j->job->model,
        .seed = j->job->seed,
        .steps = j->image->steps > 0 ? j->image->steps : j->job->steps, /* resolved by the engine */
        .submission = j->submission,
        .job_index = j->index,
        .has_job_index = 1,
        .noise_mode = j->engine->noise_mode,
        .engine_version = j->engine->version,
        .model_hash = j->image->model_hash[0] ? j->image->model_hash : NULL,
    };
    int rc = sf_png_write(path, j->image->rgb, j->image->width, j->image->height, &meta, &o->png, err, errlen);
    if (prompt != small)
        free(prompt);
    return rc;
}

int sw_output_manifest(sw_output *o, const sw_output_job *j, char *err, size_t errlen) {
    char path[PATH_MAX];
    if (!o->write_manifest)
        return 0;
    if (job_path(j, path, err, errlen) != 0)
        return -1;
    FILE *fp = manifest_for(o, j->root, j->submission);
    if (!fp) {
        snprintf(err, errlen, "cannot open the manifest under %s/%s: %s", j->root, j->submission, strerror(errno));
        return -1;
    }
    fprintf(fp, "{\"index\":%" PRIu64 ",\"path\":", j->index);
    json_str(fp, path, strlen(path));
    /* a seed over 2^63-1 is written as a string of digits, as the CLI writes them: many JSON
     * readers (jq among them) cannot hold it as a number */
    if (j->job->seed > (uint64_t)INT64_MAX)
        fprintf(fp, ",\"seed\":\"%" PRIu64 "\"", j->job->seed);
    else
        fprintf(fp, ",\"seed\":%" PRIu64, j->job->seed);
    fprintf(fp, ",\"steps\":%d,\"width\":%d,\"height\":%d,\"model\":",
            j->image->steps > 0 ? j->image->steps : j->job->steps, j->job->width, j->job->height);
    json_str(fp, j->job->model ? j->job->model : "", j->job->model ? strlen(j->job->model) : 0);
    if (j->image->model_hash[0]) {
        fputs(",\"model_hash\":", fp);
        json_str(fp, j->image->model_hash, strlen(j->image->model_hash));
    }
    fprintf(fp, ",\"render_ms\":%u,\"worker\":", j->render_ms);
    json_str(fp, o->worker_id, strlen(o->worker_id));
    fputs(",\"prompt\":", fp);
    json_str(fp, j->job->prompt, j->job->prompt_len);
    fputs("}\n", fp);
    return 0;
}

int sw_output_write(sw_output *o, const sw_output_job *j, char *err, size_t errlen) {
    if (sw_output_png(o, j, err, errlen) != 0)
        return -1;
    return sw_output_manifest(o, j, err, errlen);
}

void sw_output_flush(sw_output *o) {
    for (int i = 0; i < SW_MANIFESTS; i++)
        if (o->m[i].fp)
            fflush(o->m[i].fp);
}

void sw_output_close_submission(sw_output *o, const char *submission) {
    for (int i = 0; i < SW_MANIFESTS; i++)
        if (o->m[i].fp && strcmp(o->m[i].submission, submission) == 0) {
            fclose(o->m[i].fp);
            o->m[i].fp = NULL;
            o->m[i].submission[0] = 0;
        }
}

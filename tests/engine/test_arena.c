/*
 * test_arena.c - the activation arena: alignment, marks and release, peak tracking, and the
 * "arena full" error naming capacity, used and asked (ctest: engine_arena).
 */
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/backend_cpu.h"
#include "core/error.h"
#include "test_util.h"

int main(void) {
    se_backend *be = NULL;
    se_cpu_params p;
    se_cpu_params_init(&p);
    p.naive = true;
    CHECK(se_backend_cpu_new(&p, &be) == SE_OK);
    se_arena *a = NULL;
    CHECK(se_arena_new(be, 4096, &a) == SE_OK);
    if (!a) return test_report("engine_arena");
    CHECK(se_arena_capacity(a) == 4096);

    void *p1 = NULL, *p2 = NULL, *p3 = NULL;
    CHECK(se_arena_alloc(a, 10, &p1) == SE_OK);
    CHECK(((uintptr_t)p1 % 64) == 0);
    size_t m = se_arena_mark(a);
    CHECK(m == 256);  /* 10 bytes round up to one 256-byte slot */
    CHECK(se_arena_alloc(a, 300, &p2) == SE_OK);
    CHECK((char *)p2 - (char *)p1 == 256);
    CHECK(se_arena_used(a) == 256 + 512);
    memset(p2, 1, 300);  /* the memory is really there (ASan checks) */

    int64_t ne[2] = {16, 16};
    se_tensor t;
    CHECK(se_arena_tensor(a, SE_F32, 2, ne, "act", &t) == SE_OK);
    CHECK(t.data != NULL && strcmp(t.name, "act") == 0 && se_tensor_nbytes(&t) == 1024);
    CHECK(se_arena_peak(a) == 256 + 512 + 1024);

    se_arena_release(a, m);
    CHECK(se_arena_used(a) == m);
    CHECK(se_arena_peak(a) == 256 + 512 + 1024);  /* peak survives release */
    CHECK(se_arena_alloc(a, 8, &p3) == SE_OK);
    CHECK(p3 == p2);  /* space after the mark is reused */

    /* full: SE_ERR_NOMEM with numbers in the message, and nothing handed out */
    void *big = (void *)1;
    CHECK(se_arena_alloc(a, 8192, &big) == SE_ERR_NOMEM);
    CHECK(big == NULL);
    CHECK(strstr(se_last_error(), "4096") != NULL && strstr(se_last_error(), "8192") != NULL);
    int64_t ne2[2] = {64, 64};
    CHECK(se_arena_tensor(a, SE_F32, 2, ne2, "too_big", &t) == SE_ERR_NOMEM);
    CHECK(strstr(se_last_error(), "too_big") != NULL);
    CHECK(se_arena_alloc(a, SIZE_MAX - 8, &big) == SE_ERR_NOMEM);  /* no overflow */

    se_arena_reset(a);
    CHECK(se_arena_used(a) == 0);
    CHECK(se_arena_alloc(a, 4096, &p1) == SE_OK);  /* exactly the capacity fits */
    se_arena_destroy(&a);
    CHECK(a == NULL);
    se_arena_destroy(&a);  /* harmless twice */
    se_backend_destroy(&be);
    CHECK(be == NULL);
    return test_report("engine_arena");
}

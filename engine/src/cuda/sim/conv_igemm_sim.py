# Run: /work/venv-ref/bin/python engine/src/cuda/sim/conv_igemm_sim.py (numpy only; no GPU needed).
# Simulates conv_igemm.cu's conv3x3_igemm block by block with the kernel's own constants and index
# math, vectorised over the 256 threads of a block:
#   - the weight packing (conv.cu pack_weights, stride 1: wt[ky][co][kx][ci]) and the A loader's
#     16-byte pieces (rows tid/4 + 64j, channels (tid%4)*8, bounds co < Cout, ci < Cin),
#   - the X gather (each thread's fixed pixel, taps with zero padding at the borders, channel
#     rows tid/128 + 4j and +2 packed two per register, bounds n < N and ci < Cin; per-image
#     and weight offsets checked to stay below 2^31 as the kernel's int math needs),
#   - the double-buffered shared tiles, loaded in two halves (A + X rows of j < 4, then X rows
#     of j >= 4) in the kernel's order around the two k16 MMA steps: stores go to buffer cur^1
#     while cur is read; every read of a buffer must see the chunk it was written for (checked
#     with a chunk tag per buffer and half),
#   - the WMMA tiles of the 2 x 4 warps as matrix products over the shared arrays addressed
#     with the kernel's pointer offsets and ldm (shared memory starts as NaN, so reading a pad
#     column or an unwritten element poisons the result),
#   - the epilogue's lane mapping, bias and NCHW store with bounds on Cout and N.
# Every global read is bounds-checked, every output element must be written exactly once, and the
# result is compared with a direct convolution in float64 on small odd shapes (partial tiles at
# the ends of M = Cout, N = B*H*W and K = 9*Cin, 1x1 images, batch > 1).
import numpy as np

BM, BN, BK, THREADS = 128, 128, 32, 256
LDA, LDX = BK + 8, BN + 8
rng = np.random.default_rng(7)


def pack_weights_s1(w):
    Cout, Cin, kh, kw = w.shape
    wt = np.full(9 * Cout * Cin, np.nan)
    wf = w.ravel()
    woff = 0
    for ky in range(3):                       # group g = ky (s = 1, px = 0, n = 3 taps)
        i = np.arange(Cout * 3 * Cin)
        ci = i % Cin; t = i // Cin; sx = t % 3; co = t // 3
        wt[woff + i] = wf[((co * Cin + ci) * kh + ky) * kw + 0 + 1 * sx]
        woff += Cout * 3 * Cin
    assert not np.isnan(wt).any()
    return wt


def igemm_sim(x, w, bias):
    B, Cin, H, W = x.shape
    Cout = w.shape[0]
    assert Cin % 8 == 0
    HW = H * W
    N = B * HW
    xf = x.ravel()
    wt = pack_weights_s1(w)
    y = np.full(B * Cout * HW, np.nan)
    writes = np.zeros(B * Cout * HW, int)
    tid = np.arange(THREADS)
    for by in range((Cout + BM - 1) // BM):
        for bx in range((N + BN - 1) // BN):
            n0, m0 = bx * BN, by * BM
            xn, xk0 = tid % BN, tid // BN
            np_ = n0 + xn
            pix_ok = np_ < N
            img = np.where(pix_ok, np_ // HW, 0)
            p = np.where(pix_ok, np_ - img * HW, 0)
            py = np.where(pix_ok, p // W, 0); px = np.where(pix_ok, p - (p // W) * W, 0)
            xbase = np.where(pix_ok, img * Cin * HW, 0)
            am, ac = tid >> 2, (tid & 3) * 8
            cch = (Cin + BK - 1) // BK
            nk = 9 * cch
            lda = 3 * Cin

            def load(kc, part):
                tap = kc // cch; ci0 = (kc - tap * cch) * BK
                ky = tap // 3; kx = tap - ky * 3
                ra = []
                for j in range(2 if part == 0 else 0):
                    co = m0 + am + 64 * j; ci = ci0 + ac
                    ok = (co < Cout) & (ci < Cin)
                    off = (ky * Cout + co) * lda + kx * Cin + ci
                    assert (off[ok] % 8 == 0).all(), "16-byte A load misaligned"
                    assert (off[ok] >= 0).all() and (off[ok] + 7 < wt.size).all(), "A read out of bounds"
                    assert (off[ok] < 2**31).all(), "weight offset past int"
                    v = np.zeros((THREADS, 8))
                    for e in range(8):
                        v[ok, e] = wt[off[ok] + e]
                    ra.append(v)
                yy = py + ky - 1; xx = px + kx - 1
                inn = pix_ok & (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
                base = yy * W + xx                    # within the image (int in the kernel)
                rx = []
                for j in range(part * (BK // 8), (part + 1) * (BK // 8)):
                    ci = ci0 + xk0 + 4 * j
                    pair = []
                    for dci in (0, 2):
                        ok = inn & (ci + dci < Cin)
                        rel = base + (ci + dci) * HW
                        assert (rel[ok] >= 0).all() and (rel[ok] < Cin * HW).all(), "X read outside its image"
                        assert (rel[ok] < 2**31).all(), "image offset past int"
                        idx = xbase + rel
                        v = np.zeros(THREADS)
                        v[ok] = xf[idx[ok]]
                        pair.append(v)
                    rx.append(pair)
                return ra, rx, kc, part

            As = [np.full(BM * LDA, np.nan) for _ in range(2)]
            Xs = [np.full(BK * LDX, np.nan) for _ in range(2)]
            tag = [[-1, -1], [-1, -1]]                # chunk held by [buffer][half]

            def store(buf, regs):
                ra, rx, kc, part = regs
                for j in range(len(ra)):
                    for e in range(8):
                        As[buf][(am + 64 * j) * LDA + ac + e] = ra[j][:, e]
                for jj, j in enumerate(range(part * (BK // 8), (part + 1) * (BK // 8))):
                    Xs[buf][(xk0 + 4 * j) * LDX + xn] = rx[jj][0]
                    Xs[buf][(xk0 + 4 * j + 2) * LDX + xn] = rx[jj][1]
                tag[buf][part] = kc

            def tile(arr, off, ld):                  # a 16x16 WMMA operand at element offset off
                return np.array([arr[off + r * ld: off + r * ld + 16] for r in range(16)])

            acc = np.zeros((8, 4, 2, 16, 16))
            store(0, load(0, 0))
            store(0, load(0, 1))
            for kc in range(nk):
                cur = kc & 1
                more = kc + 1 < nk
                nxt = load(kc + 1, 0) if more else None
                for kk in range(BK // 16):
                    if kk == 1 and more:
                        store(cur ^ 1, nxt)
                        nxt = load(kc + 1, 1)
                    assert tag[cur] == [kc, kc], "reading a buffer that holds another chunk"
                    for warp in range(8):
                        wm, wn = warp >> 2, warp & 3
                        fb = [tile(Xs[cur], kk * 16 * LDX + wn * 32 + j * 16, LDX) for j in range(2)]
                        for i in range(4):
                            fa = tile(As[cur], (wm * 64 + i * 16) * LDA + kk * 16, LDA)
                            for j in range(2):
                                acc[warp, i, j] += fa @ fb[j]
                if more:
                    store(cur ^ 1, nxt)
            for warp in range(8):
                wm, wn = warp >> 2, warp & 3
                for i in range(4):
                    for j in range(2):
                        cs = acc[warp, i, j].ravel()          # store_matrix_sync, ld 16, row major
                        for lane in range(32):
                            col = lane & 15
                            n = n0 + wn * 32 + j * 16 + col
                            if n >= N:
                                continue
                            im = n // HW; pp = n - im * HW
                            for r in range(lane >> 4, 16, 2):
                                co = m0 + wm * 64 + i * 16 + r
                                if co < Cout:
                                    bv = bias[co] if bias is not None else 0.0
                                    o = (im * Cout + co) * HW + pp
                                    y[o] = cs[r * 16 + col] + bv
                                    writes[o] += 1
    assert (writes == 1).all(), "output written %d..%d times" % (writes.min(), writes.max())
    return y.reshape(B, Cout, H, W)


def conv_ref(x, w, bias):
    B, Cin, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = np.zeros((B, w.shape[0], H, W))
    for ky in range(3):
        for kx in range(3):
            y += np.einsum('bchw,oc->bohw', xp[:, :, ky:ky + H, kx:kx + W], w[:, :, ky, kx])
    return y + (bias[None, :, None, None] if bias is not None else 0)


bad = 0
# B, Cin, H, W, Cout, bias: partial M (5, 130), K chunks (8, 40: 32-channel chunk with 8 valid),
# N tails (70, 459, 1-pixel images), batch > 1 with a tile straddling images
for (B, Cin, H, W, Cout, hb) in [(1, 8, 5, 7, 5, 1), (2, 40, 5, 7, 130, 1), (3, 16, 1, 1, 4, 0),
                                 (1, 32, 9, 17, 3, 1), (2, 8, 3, 1, 129, 0), (1, 64, 12, 11, 16, 1)]:
    x = rng.standard_normal((B, Cin, H, W)); w = rng.standard_normal((Cout, Cin, 3, 3))
    b = rng.standard_normal(Cout) if hb else None
    err = np.abs(igemm_sim(x, w, b) - conv_ref(x, w, b)).max()
    ok = err < 1e-9
    bad += not ok
    print((B, Cin, H, W, Cout, hb), "max err", err, "OK" if ok else "BAD")
print("conv_igemm_sim:", "all OK" if bad == 0 else "%d BAD" % bad)
raise SystemExit(1 if bad else 0)

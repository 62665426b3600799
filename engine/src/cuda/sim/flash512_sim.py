# Run: /work/venv-ref/bin/python engine/src/cuda/sim/flash512_sim.py (numpy only; no GPU needed).
# Simulates attention_flash512.cu's flash512 kernel lane by lane: blocks of 64 queries, 16 warps,
# key tiles of 32, head dim 512, with the kernel's shared-memory layout (flat arrays with its row
# strides, starting as NaN so a read of a pad column or an unwritten element poisons the result),
# its per-lane 32-bit fragment loads, and mma.m16n8k16 executed from the per-lane registers
# through the PTX ISA fragment layouts (A: rows g / g+8, columns 2t.. / 2t+8..; B: k rows 2t.. /
# 2t+8.., column g; C: (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1); g = lane/4, t = lane%4).
# The layouts are checked to cover each matrix element exactly once. Also simulated: the Q/K
# tile loads (16-byte pieces, zero rows past Nq/Nk), the transposed V store (Vt[d][key]), the
# online softmax of 8 threads per row with xor-shuffles over 1, 2, 4 (running max, correction,
# P as the compute dtype is rounded away here: float64 throughout), the O rescaling by the row
# corrections in registers, the causal block skip and mask, and the final division and bounded
# store. Compared with a float64 softmax(Q K^T * scale) V on odd shapes: Nq and Nk not multiples
# of the tiles (64 queries, 32 keys), a 1-key case, causal, several heads and images.
import numpy as np

Q, K, D, THREADS = 64, 32, 512, 512
WARPS = THREADS // 32
LDQ, LDV, LDS, LDP = D + 8, K + 8, K + 4, K + 8
rng = np.random.default_rng(11)
lane = np.arange(32)
G, T = lane >> 2, lane & 3

# the fragment layouts cover each element once
_a = np.zeros((16, 16), int); _b = np.zeros((16, 8), int); _c = np.zeros((16, 8), int)
for (r, c) in [(G, 2 * T), (G, 2 * T + 1), (G + 8, 2 * T), (G + 8, 2 * T + 1),
               (G, 2 * T + 8), (G, 2 * T + 9), (G + 8, 2 * T + 8), (G + 8, 2 * T + 9)]:
    np.add.at(_a, (r, c), 1)
for (r, c) in [(2 * T, G), (2 * T + 1, G), (2 * T + 8, G), (2 * T + 9, G)]:
    np.add.at(_b, (r, c), 1)
for (r, c) in [(G, 2 * T), (G, 2 * T + 1), (G + 8, 2 * T), (G + 8, 2 * T + 1)]:
    np.add.at(_c, (r, c), 1)
assert (_a == 1).all() and (_b == 1).all() and (_c == 1).all()


def ld32(arr, addr):          # per-lane 32-bit load: the element pair (lo, hi) at addr (even)
    assert (addr % 2 == 0).all(), "32-bit shared load at an odd element"
    return np.stack([arr[addr], arr[addr + 1]], 1)


def mma(d, a, b):             # d [32,4] += A(a: 4 regs [32,2]) B(b: 2 regs [32,2]) per the layouts
    A = np.zeros((16, 16)); B = np.zeros((16, 8))
    A[G, 2 * T] = a[0][:, 0]; A[G, 2 * T + 1] = a[0][:, 1]
    A[G + 8, 2 * T] = a[1][:, 0]; A[G + 8, 2 * T + 1] = a[1][:, 1]
    A[G, 2 * T + 8] = a[2][:, 0]; A[G, 2 * T + 9] = a[2][:, 1]
    A[G + 8, 2 * T + 8] = a[3][:, 0]; A[G + 8, 2 * T + 9] = a[3][:, 1]
    B[2 * T, G] = b[0][:, 0]; B[2 * T + 1, G] = b[0][:, 1]
    B[2 * T + 8, G] = b[1][:, 0]; B[2 * T + 9, G] = b[1][:, 1]
    C = A @ B
    d[:, 0] += C[G, 2 * T]; d[:, 1] += C[G, 2 * T + 1]
    d[:, 2] += C[G + 8, 2 * T]; d[:, 3] += C[G + 8, 2 * T + 1]


def flash512(q, k, v, B, Nq, Nk, H, scale, causal):
    HD = H * D
    o = np.full(B * Nq * HD, np.nan)
    writes = np.zeros(B * Nq * HD, int)
    tid = np.arange(THREADS)
    for b in range(B):
        for h in range(H):
            hoff = h * D
            for bx in range((Nq + Q - 1) // Q):
                q0 = bx * Q
                Qs = np.full(Q * LDQ, np.nan)
                KV = np.full(max(K * LDQ, D * LDV), np.nan)
                Sf = np.full(Q * LDS, np.nan); Ps = np.full(Q * LDP, np.nan)
                for idx in range(Q * (D // 8)):
                    r, c8 = idx // (D // 8), (idx % (D // 8)) * 8
                    Qs[r * LDQ + c8: r * LDQ + c8 + 8] = (q[(b * Nq + q0 + r) * HD + hoff + c8:][:8]
                                                          if q0 + r < Nq else 0)
                Mr = np.full(Q, -np.inf); Lr = np.zeros(Q); Cr = np.full(Q, np.nan)
                acc = np.zeros((WARPS, 16, 32, 4))          # warp, n-tile, lane, c0..c3
                sr, sp = tid >> 3, tid & 7
                sq = q0 + sr
                qlast = min(q0 + Q - 1, Nq - 1)
                for kt in range(0, Nk, K):
                    if causal and kt > qlast:
                        break
                    for idx in range(K * (D // 8)):
                        j, c8 = idx // (D // 8), (idx % (D // 8)) * 8
                        KV[j * LDQ + c8: j * LDQ + c8 + 8] = (k[(b * Nk + kt + j) * HD + hoff + c8:][:8]
                                                              if kt + j < Nk else 0)
                    for warp in range(WARPS):                # S tiles
                        rg, sn = warp >> 2, warp & 3
                        s = np.zeros((32, 4))
                        qa = (rg * 16 + G) * LDQ + 2 * T
                        kb = (sn * 8 + G) * LDQ + 2 * T
                        for ks in range(D // 16):
                            a = [ld32(Qs, qa + ks * 16), ld32(Qs, qa + 8 * LDQ + ks * 16),
                                 ld32(Qs, qa + ks * 16 + 8), ld32(Qs, qa + 8 * LDQ + ks * 16 + 8)]
                            bb = [ld32(KV, kb + ks * 16), ld32(KV, kb + ks * 16 + 8)]
                            mma(s, a, bb)
                        srow = (rg * 16 + G) * LDS + sn * 8 + 2 * T
                        Sf[srow] = s[:, 0]; Sf[srow + 1] = s[:, 1]
                        Sf[srow + 8 * LDS] = s[:, 2]; Sf[srow + 8 * LDS + 1] = s[:, 3]
                    KV[:] = np.nan                       # K is dead: Vt overwrites the buffer
                    for idx in range(K * (D // 8)):
                        j, c8 = idx % K, (idx // K) * 8
                        vals = v[(b * Nk + kt + j) * HD + hoff + c8:][:8] if kt + j < Nk else np.zeros(8)
                        for i in range(8):
                            KV[(c8 + i) * LDV + j] = vals[i]
                    # online softmax, vectorised over the 256 threads; shuffles over groups of 8
                    m_old, l_old = Mr[sr], Lr[sr]
                    sv = np.zeros((THREADS, 4))
                    for i in range(4):
                        kj = kt + sp * 4 + i
                        x = Sf[sr * LDS + sp * 4 + i] * scale
                        sv[:, i] = np.where((kj < Nk) & ((not causal) | (kj <= sq)), x, -np.inf)
                    mx = sv.max(1)
                    for m in (1, 2, 4):
                        mx = np.maximum(mx, mx[tid ^ m])
                    m_new = np.maximum(m_old, mx)
                    with np.errstate(invalid='ignore'):
                        corr = np.where(m_new == -np.inf, 1.0, np.exp(m_old - m_new))
                        p = np.where((m_new == -np.inf)[:, None], 0.0, np.exp(sv - m_new[:, None]))
                    for i in range(4):
                        Ps[sr * LDP + sp * 4 + i] = p[:, i]
                    sm = p.sum(1)
                    for m in (1, 2, 4):
                        sm = sm + sm[tid ^ m]
                    w0 = sp == 0
                    Mr[sr[w0]] = m_new[w0]; Lr[sr[w0]] = (l_old * corr + sm)[w0]; Cr[sr[w0]] = corr[w0]
                    for warp in range(WARPS):                # O = corr * O + P V
                        rg, oc = warp >> 2, (warp & 3) * 128
                        c0, c1 = Cr[rg * 16 + G], Cr[rg * 16 + G + 8]
                        acc[warp, :, :, 0] *= c0; acc[warp, :, :, 1] *= c0
                        acc[warp, :, :, 2] *= c1; acc[warp, :, :, 3] *= c1
                        pa = (rg * 16 + G) * LDP + 2 * T
                        for ks in range(K // 16):
                            a = [ld32(Ps, pa + ks * 16), ld32(Ps, pa + 8 * LDP + ks * 16),
                                 ld32(Ps, pa + ks * 16 + 8), ld32(Ps, pa + 8 * LDP + ks * 16 + 8)]
                            vb = (oc + G) * LDV + ks * 16 + 2 * T
                            for nt in range(16):
                                bb = [ld32(KV, vb + nt * 8 * LDV), ld32(KV, vb + nt * 8 * LDV + 8)]
                                mma(acc[warp, nt], a, bb)
                for warp in range(WARPS):
                    rg, oc = warp >> 2, (warp & 3) * 128
                    r0 = rg * 16 + G
                    l0, l1 = Lr[r0], Lr[r0 + 8]
                    i0 = np.where(l0 > 0, 1 / np.where(l0 > 0, l0, 1), 0)
                    i1 = np.where(l1 > 0, 1 / np.where(l1 > 0, l1, 1), 0)
                    for nt in range(16):
                        col = hoff + oc + nt * 8 + 2 * T
                        for half, (rows, inv, e) in enumerate([(r0, i0, 0), (r0 + 8, i1, 2)]):
                            ok = q0 + rows < Nq
                            base = (b * Nq + q0 + rows[ok]) * HD + col[ok]
                            o[base] = acc[warp, nt, ok, e] * inv[ok]
                            o[base + 1] = acc[warp, nt, ok, e + 1] * inv[ok]
                            writes[base] += 1; writes[base + 1] += 1
    assert (writes == 1).all(), "output written %d..%d times" % (writes.min(), writes.max())
    return o


def ref(q, k, v, B, Nq, Nk, H, scale, causal):
    Qm = q.reshape(B, Nq, H, D); Km = k.reshape(B, Nk, H, D); Vm = v.reshape(B, Nk, H, D)
    s = np.einsum('bqhd,bkhd->bhqk', Qm, Km) * scale
    if causal:
        s = np.where(np.triu(np.ones((Nq, Nk), bool), 1), -np.inf, s)
    p = np.exp(s - s.max(-1, keepdims=True)); p /= p.sum(-1, keepdims=True)
    return np.einsum('bhqk,bkhd->bqhd', p, Vm).ravel()


bad = 0
# B, Nq, Nk, H, causal: Nq/Nk off the 32 grid, one key, one query, causal with a partial last block
for (B, Nq, Nk, H, causal) in [(1, 37, 45, 1, 0), (2, 20, 70, 1, 0), (1, 5, 1, 2, 0), (1, 1, 33, 1, 0),
                               (1, 45, 45, 1, 1), (1, 70, 70, 1, 1), (1, 130, 40, 1, 0)]:
    q = rng.standard_normal(B * Nq * H * D); k = rng.standard_normal(B * Nk * H * D)
    v = rng.standard_normal(B * Nk * H * D)
    sc = 1 / np.sqrt(D) * 3            # sharper than 1/sqrt(d): the running max changes across tiles
    err = np.abs(flash512(q, k, v, B, Nq, Nk, H, sc, causal) - ref(q, k, v, B, Nq, Nk, H, sc, causal)).max()
    ok = err < 1e-10
    bad += not ok
    print((B, Nq, Nk, H, causal), "max err", err, "OK" if ok else "BAD")
print("flash512_sim:", "all OK" if bad == 0 else "%d BAD" % bad)
raise SystemExit(1 if bad else 0)

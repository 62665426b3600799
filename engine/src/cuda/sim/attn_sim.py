# Run with any python that has numpy; prints max errors of both paths against a direct reference.
# Simulates attention.cu: the gemm path's strides/tiling/causal softmax rows and the flash
# kernel's tile loop (online softmax, d slices), against a direct reference.
import numpy as np
from numpy.lib.stride_tricks import as_strided
rng = np.random.default_rng(2)
def gemm(A, lda, sA, B, ldb, sB, C, ldc, sC, M, N, K, batch, alpha, ta, tb, aoff, boff, coff):
    for b in range(batch):
        a = as_strided(A[aoff + b*sA:], shape=(K, M) if ta else (M, K), strides=(lda*8, 8))
        bb = as_strided(B[boff + b*sB:], shape=(N, K) if tb else (K, N), strides=(ldb*8, 8))
        c = as_strided(C[coff + b*sC:], shape=(M, N), strides=(ldc*8, 8))
        c[...] = alpha * ((a.T if ta else a) @ (bb.T if tb else bb))
def softmax_rows(S, P, rows, n, causal, rph, q0):
    for r in range(rows):
        lim = min(n, q0 + r % rph + 1) if causal else n
        x = S[r*n:r*n+lim]; m = x.max(); e = np.exp(x - m)
        P[r*n:(r+1)*n] = 0; P[r*n:r*n+lim] = e / e.sum()
def attn_gemm(q, k, v, B, Nq, Nk, H, D, scale, causal, tq):
    HD = H*D; y = np.full(B*Nq*HD, np.nan)
    S = np.zeros(H*tq*Nk); P = np.zeros(H*tq*Nk)
    for b in range(B):
        for q0 in range(0, Nq, tq):
            nq = min(tq, Nq - q0)
            gemm(q, HD, D, k, HD, D, S, Nk, nq*Nk, nq, Nk, D, H, scale, 0, 1, b*Nq*HD + q0*HD, b*Nk*HD, 0)
            softmax_rows(S, P, H*nq, Nk, causal, nq, q0)
            gemm(P, Nk, nq*Nk, v, HD, D, y, HD, D, nq, D, Nk, H, 1.0, 0, 0, 0, b*Nk*HD, b*Nq*HD + q0*HD)
    return y
def attn_flash(q, k, v, B, Nq, Nk, H, D, scale, causal, BQ=8, BK=4, DS=4):
    HD = H*D; y = np.full(B*Nq*HD, np.nan); nsl = (D + DS - 1)//DS
    for b in range(B):
        for by in range(H*nsl):
            h, sl = by // nsl, by % nsl; d0 = sl*DS
            for bx in range((Nq + BQ - 1)//BQ):
                qlast = min(bx*BQ + BQ - 1, Nq - 1)
                for tid in range(BQ):
                    qi = bx*BQ + tid; qc = min(qi, Nq - 1)
                    qbase = (b*Nq + qc)*HD + h*D; kvbase = b*Nk*HD + h*D
                    m, l, acc = -np.inf, 0.0, np.zeros(DS)
                    for kt in range(0, Nk, BK):
                        if causal and kt > qlast: break
                        s = np.zeros(BK)
                        for dd in range(0, D, DS):
                            Ks = np.array([[k[kvbase + (kt+j)*HD + dd + e] if kt+j < Nk and dd+e < D else 0 for e in range(DS)] for j in range(BK)])
                            qr = np.array([scale*q[qbase + dd + e] if dd+e < D else 0 for e in range(DS)])
                            s += Ks @ qr
                        ok = np.array([kt+j < Nk and (not causal or kt+j <= qi) for j in range(BK)])
                        s = np.where(ok, s, -np.inf); mt = s.max()
                        Vs = np.array([[v[kvbase + (kt+j)*HD + d0 + e] if kt+j < Nk and d0+e < D else 0 for e in range(DS)] for j in range(BK)])
                        mn = max(m, mt)
                        if mn == -np.inf: continue
                        corr = np.exp(m - mn); l *= corr; acc *= corr
                        p = np.exp(s - mn); l += p.sum(); acc += p @ Vs; m = mn
                    if qi < Nq:
                        for e in range(DS):
                            if d0 + e < D: y[qbase + d0 + e] = acc[e] / l
    return y
def ref(q, k, v, B, Nq, Nk, H, D, scale, causal):
    Q = q.reshape(B, Nq, H, D); K = k.reshape(B, Nk, H, D); V = v.reshape(B, Nk, H, D)
    s = np.einsum('bqhd,bkhd->bhqk', Q, K) * scale
    if causal: s = np.where(np.triu(np.ones((Nq, Nk), bool), 1), -np.inf, s)
    p = np.exp(s - s.max(-1, keepdims=True)); p /= p.sum(-1, keepdims=True)
    return np.einsum('bhqk,bkhd->bqhd', p, V).ravel()
for (B, Nq, Nk, H, D, causal, tq) in [(2, 7, 5, 2, 3, 0, 3), (1, 9, 9, 3, 6, 1, 4), (1, 10, 10, 1, 9, 1, 10), (2, 5, 11, 2, 5, 0, 2)]:
    q = rng.standard_normal(B*Nq*H*D); k = rng.standard_normal(B*Nk*H*D); v = rng.standard_normal(B*Nk*H*D)
    sc = 1/np.sqrt(D); r = ref(q, k, v, B, Nq, Nk, H, D, sc, causal)
    print((B, Nq, Nk, H, D, causal), "gemm", np.abs(attn_gemm(q, k, v, B, Nq, Nk, H, D, sc, causal, tq) - r).max(),
          "flash", np.abs(attn_flash(q, k, v, B, Nq, Nk, H, D, sc, causal) - r).max())

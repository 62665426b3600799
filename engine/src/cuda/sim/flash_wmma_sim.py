# Run with any python that has numpy. Simulates attention.cu's flash_wmma tile logic (blocks of
# 64 queries as 4 warps x 16 rows, key tiles of 64, two lanes per softmax row with 32 columns
# each, running max/sum and O in "shared memory") against a direct reference, d = 64.
import numpy as np
rng = np.random.default_rng(3)
WQ, WK, WD = 64, 64, 64

def flash_wmma(q, k, v, B, Nq, Nk, H, scale, causal):
    HD = H * WD
    o = np.full(B * Nq * HD, np.nan)
    for b in range(B):
        for h in range(H):
            hoff = h * WD
            for bx in range((Nq + WQ - 1) // WQ):
                q0 = bx * WQ
                Qs = np.array([[q[(b*Nq + q0 + r)*HD + hoff + e] if q0 + r < Nq else 0 for e in range(WD)] for r in range(WQ)])
                Of = np.zeros((WQ, WK)); M = np.full(WQ, -np.inf); L = np.zeros(WQ)
                qlast = min(q0 + WQ - 1, Nq - 1)
                for kt in range(0, Nk, WK):
                    if causal and kt > qlast: break
                    Ks = np.array([[k[(b*Nk + kt + j)*HD + hoff + e] if kt + j < Nk else 0 for e in range(WD)] for j in range(WK)])
                    Vs = np.array([[v[(b*Nk + kt + j)*HD + hoff + e] if kt + j < Nk else 0 for e in range(WD)] for j in range(WK)])
                    S = Qs @ Ks.T                      # the 4 warps' 16x16x16 MMAs
                    P = np.zeros((WQ, WK))
                    for warp in range(4):
                        lanes = {}
                        for lane in range(32):         # phase 1: every lane reads its half row
                            r = warp*16 + (lane >> 1); half = lane & 1; qi = q0 + r
                            sv = np.array([S[r, half*32 + c]*scale if (kt + half*32 + c < Nk and (not causal or kt + half*32 + c <= qi)) else -np.inf for c in range(32)])
                            lanes[lane] = (r, half, sv, M[r], L[r])
                        for lane in range(32):         # shuffles with the partner lane (xor 1)
                            r, half, sv, m_old, l_old = lanes[lane]
                            mx = max(sv.max(), lanes[lane ^ 1][2].max())
                            m_new = max(m_old, mx)
                            corr = 1.0 if m_new == -np.inf else np.exp(m_old - m_new)
                            p = np.zeros(32) if m_new == -np.inf else np.exp(sv - m_new)
                            pp = np.zeros(32) if m_new == -np.inf else np.exp(lanes[lane ^ 1][2] - m_new)
                            lanes[lane] = lanes[lane] + (m_new, corr, p, p.sum() + pp.sum())
                        for lane in range(32):         # phase 2: write P, rescale O, update m/l
                            r, half, sv, m_old, l_old, m_new, corr, p, tot = lanes[lane]
                            P[r, half*32:half*32 + 32] = p
                            Of[r, half*32:half*32 + 32] *= corr
                            if half == 0: M[r] = m_new; L[r] = l_old*corr + tot
                    Of += P @ Vs                       # O_w += P_w V
                for r in range(WQ):
                    for half in range(2):
                        qi = q0 + r
                        if qi < Nq:
                            inv = 1.0/L[r] if L[r] > 0 else 0.0
                            o[(b*Nq + qi)*HD + hoff + half*32:(b*Nq + qi)*HD + hoff + half*32 + 32] = Of[r, half*32:half*32 + 32]*inv
    return o

def ref(q, k, v, B, Nq, Nk, H, scale, causal):
    Q = q.reshape(B, Nq, H, WD); K = k.reshape(B, Nk, H, WD); V = v.reshape(B, Nk, H, WD)
    s = np.einsum('bqhd,bkhd->bhqk', Q, K) * scale
    if causal: s = np.where(np.triu(np.ones((Nq, Nk), bool), 1), -np.inf, s)
    p = np.exp(s - s.max(-1, keepdims=True)); p /= p.sum(-1, keepdims=True)
    return np.einsum('bhqk,bkhd->bqhd', p, V).ravel()

for (B, Nq, Nk, H, causal) in [(1, 70, 77, 2, 0), (1, 130, 130, 1, 1), (2, 64, 150, 1, 0)]:
    q = rng.standard_normal(B*Nq*H*WD); k = rng.standard_normal(B*Nk*H*WD); v = rng.standard_normal(B*Nk*H*WD)
    sc = 1/8.0
    print((B, Nq, Nk, H, causal), "max err", np.abs(flash_wmma(q, k, v, B, Nq, Nk, H, sc, causal) - ref(q, k, v, B, Nq, Nk, H, sc, causal)).max())

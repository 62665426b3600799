# Run: /work/venv-ref/bin/python engine/src/cuda/sim/conv_sim.py (numpy only; no GPU needed).
# Simulates conv.cu's index math (pack_input, per-tap strided GEMMs, epilogue) with numpy.
import numpy as np
from numpy.lib.stride_tricks import as_strided
rng = np.random.default_rng(0)

def gemm(A, lda, sA, B, ldb, sB, C, ldc, sC, M, N, K, batch, beta, aoff, boff, coff):
    # row-major C[b] (MxN, ldc) = A[b] (MxK, lda) @ B[b] (KxN, ldb) + beta*C
    for b in range(batch):
        a = as_strided(A[aoff + b*sA:], shape=(M, K), strides=(lda*8, 8))
        bb = as_strided(B[boff + b*sB:], shape=(K, N), strides=(ldb*8, 8))
        assert boff + b*sB + (K-1)*ldb + N - 1 < B.size, "B read out of bounds"
        assert coff + b*sC + (M-1)*ldc + N - 1 < C.size
        c = as_strided(C[coff + b*sC:], shape=(M, N), strides=(ldc*8, 8))
        c[...] = a @ bb + (beta * c if beta != 0 else 0)

def conv_sim(x, w, bias, s, p):
    B, Cin, H, W = x.shape
    Cout, _, kh, kw = w.shape
    Ho = (H + 2*p - kh)//s + 1; Wo = (W + 2*p - kw)//s + 1
    taps = kh*kw; nsh = (kw-1)//s + 1
    Hp, Wp = H + 2*p, W + 2*p
    Hq = (Hp + s - 1)//s; Wq = ((Wp + s - 1)//s + 7)//8*8
    Q = Ho*Wq; offmax = ((kh-1)//s)*Wq
    PS = max(Hq*Wq, Q + offmax); PS = (PS + 7)//8*8
    planes = s*s*nsh
    # pack_input, per row exactly as the kernel
    n = B*planes*Cin*PS
    xp = np.full(n, np.nan)
    xf = x.ravel()
    for row in range(B*planes*Cin):
        ci = row % Cin; t = row // Cin; sx = t % nsh; t //= nsh; ph = t % (s*s); b = t // (s*s)
        py, px = ph // s, ph % s
        xbase = (b*Cin + ci)*H*W; ybase = row*PS
        for e in range(PS):
            v = 0.0
            ee = e + sx
            if ee < Hq*Wq:
                iy = ee // Wq; ix = ee - iy*Wq
                yy = py + s*iy - p; xx = px + s*ix - p
                if 0 <= yy < H and 0 <= xx < W: v = xf[xbase + yy*W + xx]
            xp[ybase + e] = v
    wf = w.ravel()
    wt = np.full(taps*Cout*Cin, np.nan); woff = {}; gn = {}; wpos = 0
    for ky in range(kh):
        for px in range(s):
            g = ky*s + px; n_ = (kw - 1 - px)//s + 1 if px < kw else 0
            gn[g] = n_; woff[g] = wpos
            for i in range(Cout*n_*Cin):     # pack_weights for group (ky, px)
                ci = i % Cin; t = i // Cin; sx = t % n_; co = t // n_
                wt[wpos + i] = wf[((co*Cin + ci)*kh + ky)*kw + px + s*sx]
            wpos += Cout*n_*Cin
    acc = np.full(B*Cout*Q, np.nan)
    Qc = max(16, Q // 3 // 8 * 8)   # force several chunks
    for q0 in range(0, Q, Qc):
        qn = min(Qc, Q - q0)
        first = True
        for g in range(kh*s):
            ky, px, n_ = g // s, g % s, gn[g]
            if n_ == 0: continue
            plane = ((ky % s)*s + px)*nsh
            off = (ky//s)*Wq
            gemm(wt, n_*Cin, 0, xp, PS, planes*Cin*PS, acc, Q, Cout*Q, Cout, qn, n_*Cin, B,
                 0.0 if first else 1.0, woff[g], plane*Cin*PS + off + q0, q0)
            first = False
    y = np.full(B*Cout*Ho*Wo, np.nan)
    for row in range(B*Cout*Ho):
        yo = row % Ho; co = (row // Ho) % Cout
        for xo in range(Wo):
            y[row*Wo + xo] = acc[row*Wq + xo] + bias[co]
    return y.reshape(B, Cout, Ho, Wo)

def conv_ref(x, w, bias, s, p):
    B, Cin, H, W = x.shape; Cout, _, kh, kw = w.shape
    xpad = np.pad(x, ((0,0),(0,0),(p,p),(p,p)))
    Ho = (H + 2*p - kh)//s + 1; Wo = (W + 2*p - kw)//s + 1
    y = np.zeros((B, Cout, Ho, Wo))
    for ky in range(kh):
        for kx in range(kw):
            patch = xpad[:, :, ky:ky + s*(Ho-1)+1:s, kx:kx + s*(Wo-1)+1:s]
            y += np.einsum('bchw,oc->bohw', patch, w[:, :, ky, kx])
    return y + bias[None, :, None, None]

for (B, Cin, H, W, Cout, k, s, p) in [(1,3,5,7,4,3,1,1),(2,5,8,6,3,3,2,1),(1,7,11,13,5,3,2,1),(2,3,6,6,2,3,1,0),
                                      (1,4,5,5,7,1,2,0),(1,2,9,4,3,3,1,1),(2,2,7,9,3,3,2,0),
                                      (1,3,9,9,2,5,2,2),(1,2,8,8,3,7,1,3),(1,2,11,10,2,3,3,1),(1,2,13,12,3,3,4,1)]:
    x = rng.standard_normal((B, Cin, H, W)); w = rng.standard_normal((Cout, Cin, k, k)); b = rng.standard_normal(Cout)
    ys = conv_sim(x, w, b, s, p); yr = conv_ref(x, w, b, s, p)
    err = np.abs(ys - yr).max()
    print((B, Cin, H, W, Cout, k, s, p), "max err", err, "OK" if err < 1e-9 else "BAD")

# Run with any python that has numpy; prints the max error per transpose combination (0.0 expected).
# Checks gemm.c's row-major -> column-major mapping against numpy for every ta/tb.
import numpy as np
rng = np.random.default_rng(1)
def cm_gemm(opA, opB, m, n, k, A, lda, B, ldb, C, ldc):
    a = np.array([[A[i + j*lda] for j in range(k if opA == 'N' else m)] for i in range(m if opA == 'N' else k)])
    b = np.array([[B[i + j*ldb] for j in range(n if opB == 'N' else k)] for i in range(k if opB == 'N' else n)])
    if opA == 'T': a = a.T
    if opB == 'T': b = b.T
    c = a @ b
    for i in range(m):
        for j in range(n): C[i + j*ldc] = c[i, j]
for ta in (0, 1):
    for tb in (0, 1):
        M, N, K = 5, 7, 3
        lda = (M if ta else K) + 2; ldb = (K if tb else N) + 1; ldc = N + 3
        A = rng.standard_normal(lda * (K if ta else M)); B = rng.standard_normal(ldb * (N if tb else K))
        C = np.zeros(ldc * M)
        # gemm.c: cublas(opA = tb?T:N, opB = ta?T:N, m=N, n=M, k=K, A=B, lda=ldb, B=A, ldb=lda, C, ldc)
        cm_gemm('T' if tb else 'N', 'T' if ta else 'N', N, M, K, B, ldb, A, lda, C, ldc)
        Ar = np.array([[A[i*lda + j] for j in range(M if ta else K)] for i in range(K if ta else M)])
        Br = np.array([[B[i*ldb + j] for j in range(K if tb else N)] for i in range(N if tb else K)])
        ref = (Ar.T if ta else Ar) @ (Br.T if tb else Br)
        got = np.array([[C[i*ldc + j] for j in range(N)] for i in range(M)])
        print(ta, tb, np.abs(got - ref).max())

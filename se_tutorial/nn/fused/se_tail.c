/* The SE tail of a residual block, relu(x * se(x) + shortcut), as two CPU
 * kernels: the forward pass and its backward. se_tutorial/nn/fused/cpu.py
 * derives the equations; cpu_kernel.py compiles this file (once per dtype,
 * with -DREAL=float or -DREAL=double) and calls it through ctypes.
 *
 * Maps are channels-last, so sample n of a map is one contiguous block of
 * P = H*W pixels times C channels: element (n, p, c) is at (n*P + p)*C + c.
 * Each sample is squeezed, excited and scaled while its block is still in
 * the core's cache, and the samples are split between the OpenMP threads.
 * Built with -fopenmp, the library asks for libgomp.so.1, which on Linux is
 * the copy PyTorch has already loaded, so these threads are PyTorch's own and
 * never compete with its pool (cpu_kernel.py checks, and declines otherwise).
 * The order of every sum is fixed per sample, so the result does not depend
 * on the number of threads.
 */
#include <stdint.h>
#include <string.h>
#include <tgmath.h> /* exp() of a float is expf */

/* out = relu(x * s + shortcut) with s = sigmoid(W2 relu(W1 z + b1) + b2),
 * z = the mean of x over the pixels. Writes out (N, P, C) and, for the
 * backward pass, z (N, C), h = relu(W1 z + b1) (N, R) and s (N, C).
 * W1 is (R, C), W2 is (C, R); b1 and b2 may be NULL. */
void se_forward(const REAL *restrict x, const REAL *restrict shortcut,
                const REAL *restrict w1, const REAL *restrict b1,
                const REAL *restrict w2, const REAL *restrict b2,
                REAL *restrict out, REAL *restrict z, REAL *restrict h,
                REAL *restrict s, int64_t N, int64_t P, int64_t C, int64_t R,
                int threads) {
    const REAL inverse_area = (REAL)1 / (REAL)P;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t n = 0; n < N; n++) {
        const REAL *restrict xn = x + n * P * C, *restrict cn = shortcut + n * P * C;
        REAL *restrict on = out + n * P * C;
        REAL *restrict zn = z + n * C, *restrict hn = h + n * R, *restrict sn = s + n * C;
        /* squeeze: the channels are contiguous, so the inner loop is a vector add */
        for (int64_t c = 0; c < C; c++) zn[c] = 0;
        for (int64_t p = 0; p < P; p++)
            for (int64_t c = 0; c < C; c++) zn[c] += xn[p * C + c];
        for (int64_t c = 0; c < C; c++) zn[c] *= inverse_area;
        /* excitation: two small matrix-vector products, each row a vectorised dot product
           (the simd pragma allows reordering these sums, and only these) */
        for (int64_t k = 0; k < R; k++) {
            REAL a = b1 ? b1[k] : 0;
#pragma omp simd reduction(+ : a)
            for (int64_t c = 0; c < C; c++) a += w1[k * C + c] * zn[c];
            hn[k] = a > 0 ? a : 0;
        }
        for (int64_t c = 0; c < C; c++) {
            REAL a = b2 ? b2[c] : 0;
#pragma omp simd reduction(+ : a)
            for (int64_t k = 0; k < R; k++) a += w2[c * R + k] * hn[k];
            sn[c] = 1 / (1 + exp(-a));
        }
        /* scale, add the shortcut, ReLU: x is read again from the cache */
        for (int64_t p = 0; p < P; p++)
            for (int64_t c = 0; c < C; c++) {
                const REAL v = xn[p * C + c] * sn[c] + cn[p * C + c];
                on[p * C + c] = v > 0 ? v : 0;
            }
    }
}

/* From g = d loss / d out: g_pre = g where out > 0 (the shortcut's gradient),
 * d s = sum_p g_pre * x, back through the sigmoid, W2, the ReLU and W1 to
 * d z, and d x = g_pre * s + d z / P. The weights' gradients sum over the
 * samples in a fixed order after that loop: d W1 = d a1^T z (R, C) and
 * d W2 = d a2^T h (C, R). da2 (N, C) and
 * da1 (N, R) are scratch; gb1 and gb2 may be NULL (no bias). */
void se_backward(const REAL *restrict g, const REAL *restrict out,
                 const REAL *restrict x, const REAL *restrict z,
                 const REAL *restrict h, const REAL *restrict s,
                 const REAL *restrict w1, const REAL *restrict w2,
                 REAL *restrict grad_shortcut, REAL *restrict grad_x,
                 REAL *restrict da2, REAL *restrict da1,
                 REAL *restrict gw1, REAL *restrict gw2,
                 REAL *restrict gb1, REAL *restrict gb2,
                 int64_t N, int64_t P, int64_t C, int64_t R, int threads) {
    const REAL inverse_area = (REAL)1 / (REAL)P;
#pragma omp parallel num_threads(threads)
    {
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            const REAL *restrict gn = g + n * P * C, *restrict on = out + n * P * C;
            const REAL *restrict xn = x + n * P * C, *restrict sn = s + n * C;
            REAL *restrict pre = grad_shortcut + n * P * C, *restrict gxn = grad_x + n * P * C;
            REAL *restrict d2 = da2 + n * C, *restrict d1 = da1 + n * R;
            REAL dz[C > 0 ? C : 1];
            /* through the ReLU, and d s in the same pass */
            for (int64_t c = 0; c < C; c++) d2[c] = 0;
            for (int64_t p = 0; p < P; p++)
                for (int64_t c = 0; c < C; c++) {
                    const REAL v = on[p * C + c] > 0 ? gn[p * C + c] : 0;
                    pre[p * C + c] = v;
                    d2[c] += v * xn[p * C + c];
                }
            /* through the sigmoid, W2 (row by row: contiguous), the ReLU and W1 */
            for (int64_t c = 0; c < C; c++) d2[c] *= sn[c] * (1 - sn[c]);
            for (int64_t k = 0; k < R; k++) d1[k] = 0;
            for (int64_t c = 0; c < C; c++)
                for (int64_t k = 0; k < R; k++) d1[k] += w2[c * R + k] * d2[c];
            for (int64_t k = 0; k < R; k++) d1[k] = h[n * R + k] > 0 ? d1[k] : 0;
            for (int64_t c = 0; c < C; c++) dz[c] = 0;
            for (int64_t k = 0; k < R; k++)
                for (int64_t c = 0; c < C; c++) dz[c] += w1[k * C + c] * d1[k];
            /* d x: the scale's share and the squeeze's, one pass from the cache */
            for (int64_t c = 0; c < C; c++) dz[c] *= inverse_area;
            for (int64_t p = 0; p < P; p++)
                for (int64_t c = 0; c < C; c++) gxn[p * C + c] = pre[p * C + c] * sn[c] + dz[c];
        }
        /* the weights' gradients, once every sample is done (the loop above ends
           in a barrier): each thread owns whole rows, summed over samples in order */
#pragma omp for schedule(static) nowait
        for (int64_t k = 0; k < R; k++) {
            REAL *restrict row = gw1 + k * C;
            for (int64_t c = 0; c < C; c++) row[c] = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t c = 0; c < C; c++) row[c] += da1[n * R + k] * z[n * C + c];
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            REAL *restrict row = gw2 + c * R;
            for (int64_t k = 0; k < R; k++) row[k] = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < R; k++) row[k] += da2[n * C + c] * h[n * R + k];
        }
    }
    if (gb1) {
        memset(gb1, 0, sizeof(REAL) * R);
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < R; k++) gb1[k] += da1[n * R + k];
    }
    if (gb2) {
        memset(gb2, 0, sizeof(REAL) * C);
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++) gb2[c] += da2[n * C + c];
    }
}

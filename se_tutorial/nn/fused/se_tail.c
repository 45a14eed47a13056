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
 *
 * A loop over a few channels costs more to start than to run: 16 float
 * channels are two AVX2 vectors, and a loop of unknown length also checks its
 * pointers and handles a remainder. Each sample's pass is therefore compiled
 * once for every channel count of the book's networks (16 to 256), which
 * the compiler unrolls into whole vectors, and once for any other count.
 */
#include <stdint.h>
#include <string.h>
#include <tgmath.h> /* exp() of a float is expf */

/* Inlined where it is called, so that a constant channel count reaches its loops. */
#define INLINE static inline __attribute__((always_inline))

/* Runs pass(channels) with the channel count C as a constant where it is a common one. */
#define FOR_CHANNELS(C, pass)     \
    switch (C) {                  \
    case 16: pass(16); break;     \
    case 32: pass(32); break;     \
    case 64: pass(64); break;     \
    case 128: pass(128); break;   \
    case 256: pass(256); break;   \
    default: pass(C); break;      \
    }

/* W2 (C, R) as W2^T (R, C), so that the products with W2 run along the channels. */
static void transpose(const REAL *restrict w2, REAL *restrict w2t, int64_t C, int64_t R) {
    for (int64_t c = 0; c < C; c++)
        for (int64_t k = 0; k < R; k++) w2t[k * C + c] = w2[c * R + k];
}

/* One sample: squeeze its (P, C) block x into z, excite z into h and s, write out. */
INLINE void forward_sample(const int64_t C, const REAL *restrict x, const REAL *restrict shortcut,
                           const REAL *restrict w1, const REAL *restrict b1,
                           const REAL *restrict w2t, const REAL *restrict b2,
                           REAL *restrict out, REAL *restrict z, REAL *restrict h,
                           REAL *restrict s, const int64_t P, const int64_t R) {
    REAL sum[C], a2[C]; /* local, so that they can live in registers */
    /* squeeze: the channels are contiguous, so each pixel is a vector add */
    for (int64_t c = 0; c < C; c++) sum[c] = 0;
    for (int64_t p = 0; p < P; p++)
        for (int64_t c = 0; c < C; c++) sum[c] += x[p * C + c];
    const REAL inverse_area = (REAL)1 / (REAL)P;
    for (int64_t c = 0; c < C; c++) z[c] = sum[c] * inverse_area;
    /* excitation: h = relu(W1 z + b1), a dot product per row (the simd pragma
       allows reordering these sums, and only these); then W2 h + b2, one
       row of W2^T at a time, along the channels */
    for (int64_t k = 0; k < R; k++) {
        REAL a = b1 ? b1[k] : 0;
#pragma omp simd reduction(+ : a)
        for (int64_t c = 0; c < C; c++) a += w1[k * C + c] * z[c];
        h[k] = a > 0 ? a : 0;
    }
    for (int64_t c = 0; c < C; c++) a2[c] = b2 ? b2[c] : 0;
    for (int64_t k = 0; k < R; k++)
        for (int64_t c = 0; c < C; c++) a2[c] += w2t[k * C + c] * h[k];
    for (int64_t c = 0; c < C; c++) s[c] = a2[c] = 1 / (1 + exp(-a2[c]));
    /* scale, add the shortcut, ReLU: x is read again from the cache */
    for (int64_t p = 0; p < P; p++)
        for (int64_t c = 0; c < C; c++) {
            const REAL v = x[p * C + c] * a2[c] + shortcut[p * C + c];
            out[p * C + c] = v > 0 ? v : 0;
        }
}

/* out = relu(x * s + shortcut) with s = sigmoid(W2 relu(W1 z + b1) + b2),
 * z = the mean of x over the pixels. Writes out (N, P, C) and, for the
 * backward pass, z (N, C), h = relu(W1 z + b1) (N, R), s (N, C) and
 * w2t = W2^T (R, C). W1 is (R, C), W2 is (C, R); b1 and b2 may be NULL. */
void se_forward(const REAL *restrict x, const REAL *restrict shortcut,
                const REAL *restrict w1, const REAL *restrict b1,
                const REAL *restrict w2, const REAL *restrict b2,
                REAL *restrict out, REAL *restrict z, REAL *restrict h,
                REAL *restrict s, REAL *restrict w2t, int64_t N, int64_t P,
                int64_t C, int64_t R, int threads) {
    transpose(w2, w2t, C, R);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t n = 0; n < N; n++) {
#define FORWARD(channels)                                                                  \
    forward_sample(channels, x + n * P * C, shortcut + n * P * C, w1, b1, w2t, b2,         \
                   out + n * P * C, z + n * C, h + n * R, s + n * C, P, R)
        FOR_CHANNELS(C, FORWARD)
    }
}

/* One sample's gradients from g = d loss / d out: g_pre = g where out > 0 (the
 * shortcut's gradient), d s = sum_p g_pre * x, back through the sigmoid (d a2),
 * W2, the ReLU (d a1) and W1 to d z, and d x = g_pre * s + d z / P. */
INLINE void backward_sample(const int64_t C, const REAL *restrict g, const REAL *restrict out,
                            const REAL *restrict x, const REAL *restrict h,
                            const REAL *restrict s, const REAL *restrict w1,
                            const REAL *restrict w2t, REAL *restrict grad_shortcut,
                            REAL *restrict grad_x, REAL *restrict da2, REAL *restrict da1,
                            const int64_t P, const int64_t R) {
    REAL ds[C], dz[C], scale[C]; /* local, so that they can live in registers */
    /* through the ReLU, and d s in the same pass. g is loaded whatever the
       mask says: written as out > 0 ? g[i] : 0, GCC 12 (-O3, AVX2) turns the
       load into a masked one and, in these unrolled loops, gets the mask of
       the second vector wrong (tests/nn/test_cpu_kernel.py caught it) */
    for (int64_t c = 0; c < C; c++) ds[c] = 0, scale[c] = s[c];
    for (int64_t p = 0; p < P; p++)
        for (int64_t c = 0; c < C; c++) {
            const REAL grad = g[p * C + c], v = out[p * C + c] > 0 ? grad : 0;
            grad_shortcut[p * C + c] = v;
            ds[c] += v * x[p * C + c];
        }
    /* through the sigmoid, W2 (a dot product per row of W2^T), the ReLU and W1 */
    for (int64_t c = 0; c < C; c++) da2[c] = ds[c] * (scale[c] * (1 - scale[c]));
    for (int64_t k = 0; k < R; k++) {
        REAL a = 0;
#pragma omp simd reduction(+ : a)
        for (int64_t c = 0; c < C; c++) a += w2t[k * C + c] * da2[c];
        da1[k] = h[k] > 0 ? a : 0;
    }
    for (int64_t c = 0; c < C; c++) dz[c] = 0;
    for (int64_t k = 0; k < R; k++)
        for (int64_t c = 0; c < C; c++) dz[c] += w1[k * C + c] * da1[k];
    /* d x: the scale's share and the squeeze's, one pass from the cache */
    const REAL inverse_area = (REAL)1 / (REAL)P;
    for (int64_t c = 0; c < C; c++) dz[c] *= inverse_area;
    for (int64_t p = 0; p < P; p++)
        for (int64_t c = 0; c < C; c++)
            grad_x[p * C + c] = grad_shortcut[p * C + c] * scale[c] + dz[c];
}

/* The gradients of se_forward's inputs from g = d loss / d out (see
 * backward_sample). The weights' gradients sum over the samples in a fixed
 * order after that loop: d W1 = d a1^T z (R, C) and d W2 = d a2^T h (C, R).
 * da2 (N, C) and da1 (N, R) are scratch; gb1 and gb2 may be NULL (no bias). */
void se_backward(const REAL *restrict g, const REAL *restrict out,
                 const REAL *restrict x, const REAL *restrict z,
                 const REAL *restrict h, const REAL *restrict s,
                 const REAL *restrict w1, const REAL *restrict w2t,
                 REAL *restrict grad_shortcut, REAL *restrict grad_x,
                 REAL *restrict da2, REAL *restrict da1,
                 REAL *restrict gw1, REAL *restrict gw2,
                 REAL *restrict gb1, REAL *restrict gb2,
                 int64_t N, int64_t P, int64_t C, int64_t R, int threads) {
#pragma omp parallel num_threads(threads)
    {
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
#define BACKWARD(channels)                                                                 \
    backward_sample(channels, g + n * P * C, out + n * P * C, x + n * P * C, h + n * R,    \
                    s + n * C, w1, w2t, grad_shortcut + n * P * C, grad_x + n * P * C,     \
                    da2 + n * C, da1 + n * R, P, R)
            FOR_CHANNELS(C, BACKWARD)
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

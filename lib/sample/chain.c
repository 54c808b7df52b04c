/*
 * chain.c - the stages of the sampling chain (llm.h, "sampler API"; the
 * formulas are in docs/math.md section 7), each with its naive reference.
 *
 * Data flow for one logit vector of V entries (all buffers belong to the
 * sampler and are sized V at create, so nothing is allocated here):
 *   logits --reject NaN/+inf, copy if modified--> z[V]
 *   z += bias; penalties on the window's tokens           (float, in place)
 *   z_max, and for greedy the arg-max                     -> done
 *   top-k  : keys[0..m) = best m tokens as sort keys      (z desc, id asc)
 *   weights: w[t] = 2^((z[t]-z_max)*log2(e)/T), only for candidates
 *   top-p  : shortest (z desc, id asc) prefix holding >= p of the weight
 *   min-p  : keep wq[t] >= ceil(min_p * 2^shift)
 *   final  : candidate ids ascending, total = sum of wq   -> llm__chain_draw
 * When neither top-k nor top-p truncates, the candidate set is implicit
 * (all V tokens in id order) and no list is built.
 *
 * Why integer weights: wq = floor(w * 2^shift) sums exactly in uint64
 * (shift is chosen so V * 2^shift < 2^64), so the total, the top-p cut and
 * the draw are independent of summation order, vector width and of which
 * implementation (fast or naive) produced the candidate set. The float
 * weight function is monotone non-decreasing in z (see weight()), so the
 * order "probability descending" is the order "z descending" and the
 * top-p prefix can be found from z-sorted keys.
 *
 * Selection algorithms (the fast ones; the naive ones fully sort):
 *   top-k: one pass with a bounded max-heap of k keys (root = worst kept);
 *          a token is looked at only when its z beats the root's, so the
 *          pass is O(V) compares plus O(log k) per heap replacement.
 *   top-p without top-k: a radix select on the float bits of w. One pass
 *          sums wq per exponent; walking down from the top finds b*, the
 *          exponent where the cumulative weight reaches the target. Tokens
 *          above b* are all kept (unsorted), tokens below are dropped, and
 *          bucket b* is refined the same way by two 8-bit mantissa digits;
 *          only the final group (same leading 16 bits of w) is sorted.
 *          Strictly heavier means strictly larger z (w is monotone), so
 *          everything kept unsorted precedes the cut in the z order.
 *   final id order: a comparison sort for < 256 ids, else a bitmap scan.
 * Greedy and the maximum use SSE max when available (exact, so the same
 * result as the scalar loop).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "sample_internal.h"

/* ------------------------------------------------------------------------
 * Weights
 * ------------------------------------------------------------------------ */

/* Taylor coefficients of 2^f = e^(f ln 2): (ln 2)^i / i!, i = 1..7. All are
 * positive, so Horner's rule with f >= 0 is monotone in f even after
 * rounding, and the truncated series underestimates 2^f by at least 1.4e-6
 * at f = 1, more than the rounding error can add: p(f) < 2 on [0, 1]. */
#define C1 0.6931471805599453f
#define C2 0.2402265069591007f
#define C3 0.055504108664821576f
#define C4 0.009618129107628477f
#define C5 0.0013333558146428441f
#define C6 0.00015403530393381606f
#define C7 1.5252733804059838e-05f

/* 2^y for y = (z - zmax) * k, with y clamped below at ymin (< -shift-1,
 * where the integer weight is 0 anyway; -inf lands there too). Split
 * y = n + f with n = floor(y), f in [0, 1); then 2^y = 2^n * p(f) with p
 * in [1, 2), built by adding n to p's exponent field. Monotone
 * non-decreasing in z: y is (rounding is monotone), (n, f) grows
 * lexicographically with y, p grows with f, and p(f) < 2 = 2 * p(0) makes
 * the step across an integer n monotone too. Relative error <= 1e-6.
 * Written without branches or libm so that it vectorizes and gives the
 * same bits everywhere (built with -ffp-contract=off). */
static inline float weight(float z, float zmax, float k, float ymin) {
    float y = (z - zmax) * k;
    float nf, f, p;
    int32_t ni;
    uint32_t bits;
    y = y < ymin ? ymin : y;
    ni = (int32_t)y; /* toward zero; y in [ymin, 0] */
    nf = (float)ni;
    ni -= (int32_t)(nf > y); /* floor (written without a branch: vectorizes) */
    nf = (float)ni;
    f = y - nf; /* exact */
    p = C7;
    p = p * f + C6;
    p = p * f + C5;
    p = p * f + C4;
    p = p * f + C3;
    p = p * f + C2;
    p = p * f + C1;
    p = p * f + 1.0f;
    memcpy(&bits, &p, sizeof bits);
    bits += (uint32_t)ni << 23; /* p * 2^n; n >= -64 keeps it normal */
    memcpy(&p, &bits, sizeof p);
    return p;
}

float llm__chain_weight(float z, float zmax, float k, float ymin) {
    return weight(z, zmax, k, ymin);
}

/* floor(w * 2^shift): w <= 1 and shift <= 62 keep it below 2^63; the
 * float product is exact (a power-of-two scaling). */
static inline uint64_t wq_of(float w, float scale) {
    return (uint64_t)(int64_t)(w * scale);
}

static float scale_of(unsigned shift) { return (float)(UINT64_C(1) << shift); }

uint64_t llm__chain_wq(float w, unsigned shift) { return wq_of(w, scale_of(shift)); }

/* Float exponent field of a positive weight: monotone in w. */
static inline unsigned expo_of(float w) {
    uint32_t b;
    memcpy(&b, &w, sizeof b);
    return (b >> 23) & 0xffu;
}

/* The largest of z[0..n) (no NaN there; -inf allowed). A scalar
 * compare-and-select chain runs at one element per cmov latency, so with
 * SSE four vectors of partial maxima are kept; max is exact, so the value
 * is the same as the scalar loop's (the sign of a zero maximum may differ,
 * which changes no output: z - zmax and equality ignore it). */
static float max_of(const float *z, size_t n) {
    size_t i = 0;
    float m = -INFINITY;
#if defined(__SSE__)
    if (n >= 16) {
        __m128 a = _mm_set1_ps(-INFINITY), b = a, c = a, d = a;
        float t[4];
        int j;
        for (; i + 16 <= n; i += 16) {
            a = _mm_max_ps(a, _mm_loadu_ps(z + i));
            b = _mm_max_ps(b, _mm_loadu_ps(z + i + 4));
            c = _mm_max_ps(c, _mm_loadu_ps(z + i + 8));
            d = _mm_max_ps(d, _mm_loadu_ps(z + i + 12));
        }
        _mm_storeu_ps(t, _mm_max_ps(_mm_max_ps(a, b), _mm_max_ps(c, d)));
        for (j = 0; j < 4; j++)
            m = t[j] > m ? t[j] : m;
    }
#endif
    for (; i < n; i++)
        m = z[i] > m ? z[i] : m;
    return m;
}

/* ------------------------------------------------------------------------
 * Sort keys and sorting
 * ------------------------------------------------------------------------ */

/* Order-preserving map of a non-NaN float to uint32 (ascending). */
static inline uint32_t fmono(float z) {
    uint32_t u;
    z += 0.0f; /* -0 -> +0, so equal floats give equal keys */
    memcpy(&u, &z, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static inline float fmono_inv(uint32_t m) {
    uint32_t u = (m & 0x80000000u) ? (m & 0x7fffffffu) : ~m;
    float z;
    memcpy(&z, &u, sizeof z);
    return z;
}

uint64_t llm__chain_key(float z, uint32_t id) {
    return ((uint64_t)(~fmono(z)) << 32) | id;
}

static inline uint32_t key_id(uint64_t key) { return (uint32_t)(key & 0xffffffffu); }
static inline float key_z(uint64_t key) { return fmono_inv(~(uint32_t)(key >> 32)); }

static void sift_down(uint64_t *a, size_t n, size_t i) {
    uint64_t v = a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && a[c + 1] > a[c])
            c++;
        if (a[c] <= v)
            break;
        a[i] = a[c];
        i = c;
    }
    a[i] = v;
}

static void sift_up(uint64_t *a, size_t i) {
    uint64_t v = a[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (a[p] >= v)
            break;
        a[i] = a[p];
        i = p;
    }
    a[i] = v;
}

/* Turns a max-heap of n keys into ascending order. */
static void heap_extract_all(uint64_t *a, size_t n) {
    while (n > 1) {
        uint64_t t = a[0];
        a[0] = a[n - 1];
        a[n - 1] = t;
        n--;
        sift_down(a, n, 0);
    }
}

void llm__chain_sort(uint64_t *a, size_t n) {
    size_t i;
    if (n < 24) {
        for (i = 1; i < n; i++) {
            uint64_t v = a[i];
            size_t j = i;
            while (j > 0 && a[j - 1] > v) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = v;
        }
        return;
    }
    for (i = n / 2; i-- > 0;)
        sift_down(a, n, i);
    heap_extract_all(a, n);
}

static unsigned ctz64(uint64_t x) {
#if defined(__GNUC__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned n = 0;
    while (!(x & 1)) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

/* Puts n distinct token ids (< V) in ascending order. Few ids: a
 * comparison sort; many: set their bits in the (all-zero) bitmap and read
 * them back in order, O(n + V/64), leaving the bitmap zero again. */
static void ids_ascending(uint64_t *ids, size_t n, uint64_t *bitmap, size_t V) {
    size_t i, wd, m = 0;
    if (n < 256) {
        llm__chain_sort(ids, n);
        return;
    }
    for (i = 0; i < n; i++)
        bitmap[ids[i] >> 6] |= UINT64_C(1) << (ids[i] & 63);
    for (wd = 0; wd < (V + 63) / 64; wd++) {
        uint64_t b = bitmap[wd];
        bitmap[wd] = 0;
        while (b) {
            ids[m++] = (uint64_t)wd * 64 + ctz64(b);
            b &= b - 1;
        }
    }
}

/* ------------------------------------------------------------------------
 * Top-k
 * ------------------------------------------------------------------------ */

/* Reference: sort every finite token, keep the first k. O(V log V). */
static size_t top_k_naive(uint64_t *keys, const float *z, size_t V, size_t k) {
    size_t i, n = 0;
    for (i = 0; i < V; i++)
        if (z[i] != -INFINITY)
            keys[n++] = llm__chain_key(z[i], (uint32_t)i);
    llm__chain_sort(keys, n);
    return n < k ? n : k;
}

/* Bounded max-heap of the k best keys seen so far; its root is the worst
 * kept token, and `thr` its logit: a token with z <= thr cannot enter (on
 * equal z the later, larger id loses), so most tokens cost one compare. */
static size_t top_k_heap(uint64_t *keys, const float *z, size_t V, size_t k) {
    size_t i, n = 0;
    float thr = -INFINITY;
    for (i = 0; i < V && n < k; i++) {
        if (z[i] == -INFINITY)
            continue;
        keys[n] = llm__chain_key(z[i], (uint32_t)i);
        sift_up(keys, n);
        n++;
    }
    if (n == k && k > 0)
        thr = key_z(keys[0]);
    for (; i < V; i++) {
        if (LLM_LIKELY(z[i] <= thr))
            continue;
        keys[0] = llm__chain_key(z[i], (uint32_t)i);
        sift_down(keys, n, 0);
        thr = key_z(keys[0]);
    }
    heap_extract_all(keys, n);
    return n;
}

size_t llm__chain_top_k(uint64_t *keys, const float *z, size_t V, size_t k, int impl) {
    if (k == 0)
        return 0;
    return impl == LLM__CHAIN_NAIVE ? top_k_naive(keys, z, V, k) : top_k_heap(keys, z, V, k);
}

/* ------------------------------------------------------------------------
 * Top-p
 * ------------------------------------------------------------------------ */

/* The integer target: ceil(p * S), at least 1 and at most S. */
static uint64_t top_p_target(float p, uint64_t S) {
    double t = ceil((double)p * (double)S);
    if (t >= (double)S)
        return S;
    if (t < 1.0)
        return 1;
    return (uint64_t)t;
}

/* Length of the shortest prefix of z-sorted keys whose weights reach T. */
static size_t top_p_cut(const uint64_t *keys, size_t n, const float *w, float scale,
                        uint64_t T) {
    uint64_t cum = 0;
    size_t j;
    for (j = 0; j < n; j++) {
        cum += wq_of(w[key_id(keys[j])], scale);
        if (cum >= T)
            return j + 1;
    }
    return n;
}

/* Radix digit of a positive weight: the float's bits are monotone in w,
 * so digits taken from the top (exponent, then mantissa bytes) refine the
 * order; `sh` selects bits sh..sh+7. */
static inline unsigned digit_of(float w, unsigned sh) {
    uint32_t b;
    memcpy(&b, &w, sizeof b);
    return (b >> sh) & 0xffu;
}

/* One radix-select level on the group keys[lo..hi) (sort keys of tokens
 * sharing all higher digits): finds the digit d* where the cumulative
 * weight (heaviest first, starting from *cum) reaches T, drops tokens
 * below d*, moves those above d* (all kept: heavier, hence earlier in the
 * z order, and together still short of T) to the front of the group, and
 * returns the group's new start; the tokens at d* are left in
 * keys[ret..*hi) and *cum includes everything above d*. */
static size_t refine(uint64_t *keys, size_t lo, size_t *hi, const float *w, float scale,
                     unsigned sh, uint64_t T, uint64_t *cum) {
    uint64_t dsum[256];
    size_t r, wr = lo, p = lo;
    unsigned d;
    memset(dsum, 0, sizeof dsum);
    for (r = lo; r < *hi; r++) {
        float x = w[key_id(keys[r])];
        dsum[digit_of(x, sh)] += wq_of(x, scale);
    }
    for (d = 255; d > 0; d--) {
        if (*cum + dsum[d] >= T)
            break;
        *cum += dsum[d];
    }
    for (r = lo; r < *hi; r++) /* keep digits >= d*, in place */
        if (digit_of(w[key_id(keys[r])], sh) >= d)
            keys[wr++] = keys[r];
    *hi = wr;
    for (r = lo; r < wr; r++) /* digits > d* first */
        if (digit_of(w[key_id(keys[r])], sh) > d) {
            uint64_t t = keys[p];
            keys[p++] = keys[r];
            keys[r] = t;
        }
    return p;
}

/* Top-p over all V tokens (weights w[0..V) already computed). Writes the
 * kept tokens to keys[] and returns their count; the list holds sort keys
 * (z-sorted) for the naive path, ids in no particular order for the fast
 * one (the caller orders ids afterwards either way).
 * Fast: a radix select on the weight's float bits. The per-exponent sums
 * give b*, the exponent where the cumulative weight (heaviest first)
 * reaches T. Every token above b* is heavier than every token at or below
 * it, hence earlier in the z order, and together they weigh < T: all are
 * kept without sorting. Bucket b* is refined twice more by 8-bit mantissa
 * digits the same way, and only the last, small group is sorted by
 * (z desc, id asc) to place the cut. */
static size_t top_p_all(uint64_t *keys, const float *z, const float *w, size_t V,
                        float scale, float p, int impl) {
    size_t i, n = 0, lo, hi, sure;
    uint64_t bsum[256], cum = 0, S = 0, T;
    unsigned b, e;
    if (impl == LLM__CHAIN_NAIVE) {
        for (i = 0; i < V; i++)
            S += wq_of(w[i], scale);
        for (i = 0; i < V; i++)
            if (wq_of(w[i], scale) > 0)
                keys[n++] = llm__chain_key(z[i], (uint32_t)i);
        llm__chain_sort(keys, n);
        return top_p_cut(keys, n, w, scale, top_p_target(p, S));
    }
    memset(bsum, 0, sizeof bsum);
    for (i = 0; i < V; i++)
        bsum[expo_of(w[i])] += wq_of(w[i], scale);
    for (b = 0; b < 256; b++)
        S += bsum[b];
    T = top_p_target(p, S);
    for (b = 255; b > 0; b--) {
        if (cum + bsum[b] >= T)
            break;
        cum += bsum[b];
    }
    /* bucket b* holds weight, so every exponent >= b* means wq > 0. Ids
     * above b* go to the front, keys of bucket b* to the back (n + (V -
     * lo) never exceeds V, so the two ends cannot meet). */
    lo = V;
    for (i = 0; i < V; i++) {
        e = expo_of(w[i]);
        if (e > b)
            keys[n++] = i;
        else if (e == b)
            keys[--lo] = llm__chain_key(z[i], (uint32_t)i);
    }
    hi = V;
    sure = lo;
    lo = refine(keys, lo, &hi, w, scale, 15, T, &cum);
    lo = refine(keys, lo, &hi, w, scale, 7, T, &cum);
    /* keys[sure..lo) are kept; sort the rest of the group and cut */
    llm__chain_sort(keys + lo, hi - lo);
    for (i = lo; i < hi && cum < T; i++)
        cum += wq_of(w[key_id(keys[i])], scale);
    for (; sure < i; sure++)
        keys[n++] = key_id(keys[sure]);
    return n;
}

/* ------------------------------------------------------------------------
 * The chain
 * ------------------------------------------------------------------------ */

#define COUNT_MARK 0x80000000u /* count[t] flag: penalty already applied */

/* Stage 2: penalties over the distinct tokens of the window. */
static int penalties(llm_sampler *s, const char *fn) {
    size_t j, cap = s->hist_cap, head = s->hist_head, len = s->hist_len;
    long bad = -1;
    if (len == 0 || (s->repeat == 1.0f && s->presence == 0.0f && s->frequency == 0.0f))
        return LLM_OK;
    for (j = 0; j < len; j++) {
        llm_token t = s->hist[(head + j) % cap];
        uint32_t c = s->count[t];
        float v;
        if (c & COUNT_MARK)
            continue;
        s->count[t] = c | COUNT_MARK;
        v = s->z[t];
        if (s->repeat != 1.0f)
            v = v > 0.0f ? v / s->repeat : v * s->repeat;
        v = v - ((float)c * s->frequency + s->presence);
        s->z[t] = v;
        if (v == INFINITY && bad < 0)
            bad = t;
    }
    for (j = 0; j < len; j++)
        s->count[s->hist[(head + j) % cap]] &= ~COUNT_MARK;
    if (bad >= 0)
        return llm__err(&s->obj, LLM_ERR_INVALID,
                        "%s: the logit of token %ld overflows to +inf under the penalties",
                        fn, bad);
    return LLM_OK;
}

int llm__chain_run(llm_sampler *s, const float *logits, int impl, llm__cands *c,
                   const char *fn) {
    size_t V = s->n_vocab, i, n;
    const float *z = logits;
    float *w = s->w;
    uint64_t *keys = s->keys;
    float zmax, k, ymin, scale = scale_of(s->shift);
    int bad = 0, st;
    int listed = 0; /* 0: all V tokens; 1: a list in any order; 2: ids ascending */
    int modify = s->n_bias > 0 || (s->hist_len > 0 && (s->repeat != 1.0f || s->presence != 0.0f ||
                                                       s->frequency != 0.0f));
    uint64_t total;

    /* 1. reject NaN and +inf; copy to s->z only when bias or penalties will
     * change logits (one cheap vectorized pass either way) */
    if (modify) {
        for (i = 0; i < V; i++) {
            float v = logits[i];
            bad |= (v != v) | (v == INFINITY);
            s->z[i] = v;
        }
        z = s->z;
    } else {
        for (i = 0; i < V; i++) {
            float v = logits[i];
            bad |= (v != v) | (v == INFINITY);
        }
    }
    if (bad) {
        for (i = 0; i < V && logits[i] == logits[i] && logits[i] != INFINITY; i++)
            ;
        return llm__err(&s->obj, LLM_ERR_INVALID, "%s: logits[%zu] is %s (only finite "
                        "values and -INFINITY, which masks a token, are allowed)",
                        fn, i, logits[i] != logits[i] ? "NaN" : "+inf");
    }
    /* logit bias */
    for (i = 0; i < s->n_bias; i++) {
        llm_token t = s->bias[i].token;
        s->z[t] = s->z[t] + s->bias[i].bias;
        if (s->z[t] == INFINITY)
            return llm__err(&s->obj, LLM_ERR_INVALID,
                            "%s: logit_bias[%zu] pushes the logit of token %ld to +inf",
                            fn, i, (long)t);
    }
    /* 2. penalties */
    if (modify && (st = penalties(s, fn)) != LLM_OK)
        return st;
    /* the maximum, and the arg-max with ties to the lowest id */
    zmax = max_of(z, V);
    if (zmax == -INFINITY)
        return llm__err(&s->obj, LLM_ERR_INVALID,
                        "%s: every token is masked (-inf) after the logit bias", fn);
    /* 3. temperature 0: greedy */
    if (s->temp == 0.0f) {
        for (n = 0; z[n] != zmax; n++)
            ;
        keys[0] = n;
        w[n] = 1.0f;
        c->ids = keys;
        c->n = 1;
        c->total = wq_of(1.0f, scale);
        c->blocks = NULL;
        c->greedy = 1;
        return LLM_OK;
    }
    /* log2(e)/T; clamped so that a tiny (denormal) T cannot make it +inf,
     * where (z_max - z_max) * k would be NaN */
    {
        double kd = 1.4426950408889634 / (double)s->temp;
        k = kd > (double)FLT_MAX ? FLT_MAX : (float)kd;
    }
    ymin = -(float)(s->shift + 2);

    /* 4. top-k: keys[0..n) z-sorted, and their weights */
    if (s->top_k > 0 && (size_t)s->top_k < V) {
        n = llm__chain_top_k(keys, z, V, (size_t)s->top_k, impl);
        for (i = 0; i < n; i++) {
            uint32_t t = key_id(keys[i]);
            w[t] = weight(z[t], zmax, k, ymin);
        }
        listed = 1;
    } else {
        for (i = 0; i < V; i++)
            w[i] = weight(z[i], zmax, k, ymin);
        n = V;
    }

    /* 5. top-p: S is the weight that survived top-k */
    if (s->top_p < 1.0f) {
        total = 0;
        if (listed) {
            for (i = 0; i < n; i++)
                total += wq_of(w[key_id(keys[i])], scale);
            n = top_p_cut(keys, n, w, scale, top_p_target(s->top_p, total));
        } else {
            n = top_p_all(keys, z, w, V, scale, s->top_p, impl);
            listed = 1;
        }
    }
    /* from here on the list holds plain ids */
    if (listed)
        for (i = 0; i < n; i++)
            keys[i] = key_id(keys[i]);

    /* 6. min-p: weight >= min_p times the largest (which weighs 2^shift) */
    if (s->min_p > 0.0f) {
        uint64_t thr = (uint64_t)ceil((double)s->min_p * (double)wq_of(1.0f, scale));
        size_t m = 0;
        if (listed) {
            for (i = 0; i < n; i++)
                if (wq_of(w[keys[i]], scale) >= thr)
                    keys[m++] = keys[i];
        } else {
            for (i = 0; i < V; i++)
                if (wq_of(w[i], scale) >= thr)
                    keys[m++] = i;
            listed = 2; /* gathered in id order */
        }
        n = m;
    }

    /* final: ascending ids, exact total */
    total = 0;
    if (listed) {
        if (listed == 1)
            ids_ascending(keys, n, s->bitmap, V);
        for (i = 0; i < n; i++)
            total += wq_of(w[keys[i]], scale);
        c->ids = keys;
        c->blocks = NULL;
    } else {
        /* exact per-block sums let the draw skip 64 tokens at a time */
        size_t b;
        for (b = 0; b * 64 < V; b++) {
            size_t end = b * 64 + 64 < V ? b * 64 + 64 : V;
            uint64_t bs = 0;
            for (i = b * 64; i < end; i++)
                bs += wq_of(w[i], scale);
            s->blocks[b] = bs;
            total += bs;
        }
        c->ids = NULL;
        c->blocks = impl == LLM__CHAIN_FAST ? s->blocks : NULL; /* naive: plain walk */
    }
    c->n = n;
    c->total = total;
    c->greedy = 0;
    if (total == 0) /* impossible: the arg-max always survives with 2^shift */
        return llm__err(&s->obj, LLM_ERR_INTERNAL, "%s: no candidate left", fn);
    return LLM_OK;
}

llm_token llm__chain_draw(const llm_sampler *s, const llm__cands *c, uint64_t x) {
    float scale = scale_of(s->shift);
    uint64_t r = llm__rng_mulhi(x, c->total), cum = 0;
    size_t j;
    llm_token last = -1;
    if (c->ids == NULL) {
        j = 0;
        if (c->blocks) /* skip whole blocks of 64 while they stay <= r */
            for (; j + 64 <= c->n && cum + c->blocks[j / 64] <= r; j += 64)
                cum += c->blocks[j / 64];
        for (; j < c->n; j++) {
            uint64_t q = wq_of(s->w[j], scale);
            cum += q;
            if (cum > r)
                return (llm_token)j;
            if (q)
                last = (llm_token)j;
        }
    } else {
        for (j = 0; j < c->n; j++) {
            uint64_t q = wq_of(s->w[c->ids[j]], scale);
            cum += q;
            if (cum > r)
                return (llm_token)c->ids[j];
            if (q)
                last = (llm_token)c->ids[j];
        }
    }
    return last; /* not reached: r < total */
}

/* Unit tests for lib/text/apportion (largest-remainder counts) and lib/text/split
 * (ratio parsing, stratified assignment, class-wise sampling). Expected
 * counts are worked out by hand in the comments. */
#include "text/apportion.h"
#include "check.h"
#include "core/prng.h"
#include "text/split.h"

#include <stdlib.h>

static int counts_are(const size_t *got, const size_t *want, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (got[k] != want[k]) return 0;
    return 1;
}

static void test_apportion_examples(void)
{
    const double pct[] = {70, 15, 15}, frac[] = {0.7, 0.15, 0.15};
    size_t c[3];
    /* 7 rows: quotas 4.9, 1.05, 1.05 -> floors 4,1,1 (6); the 1 left goes to
     * the largest remainder .9 -> 5,1,1 */
    apportion(7, pct, 3, c);
    CHECK("apportion 7 at 70/15/15 = 5,1,1", counts_are(c, (size_t[]){5, 1, 1}, 3));
    /* 100 rows: exact quotas 70, 15, 15 */
    apportion(100, frac, 3, c);
    CHECK("apportion 100 at 0.7,0.15,0.15 = 70,15,15", counts_are(c, (size_t[]){70, 15, 15}, 3));
    /* 33 rows: quotas 23.1, 4.95, 4.95 -> floors 23,4,4 (31); 2 left go to the
     * remainders .95 and .95 -> 23,5,5 */
    apportion(33, pct, 3, c);
    CHECK("apportion 33 at 70/15/15 = 23,5,5", counts_are(c, (size_t[]){23, 5, 5}, 3));
    /* 3 rows: quotas 2.1, .45, .45 -> floors 2,0,0; the 1 left: tie .45/.45
     * goes to the lower index -> 2,1,0 */
    apportion(3, pct, 3, c);
    CHECK("apportion 3 at 70/15/15 = 2,1,0 (tie to lower index)", counts_are(c, (size_t[]){2, 1, 0}, 3));
    const double equal[] = {1, 1, 1};
    apportion(1, equal, 3, c);
    CHECK("apportion 1 over equal weights = 1,0,0", counts_are(c, (size_t[]){1, 0, 0}, 3));
    apportion(2, equal, 3, c);
    CHECK("apportion 2 over equal weights = 1,1,0", counts_are(c, (size_t[]){1, 1, 0}, 3));
    const double with_zero[] = {0, 3, 1};
    apportion(10, with_zero, 3, c);
    /* quotas 0, 7.5, 2.5 -> 0,7,2; the 1 left: tie .5/.5 -> index 1 */
    CHECK("apportion with a zero weight = 0,8,2", counts_are(c, (size_t[]){0, 8, 2}, 3));
    const double zeros[] = {0, 0};
    CHECK("apportion 0 over zero weights is fine", apportion(0, zeros, 2, c) == 0 && c[0] == 0 && c[1] == 0);
    CHECK("apportion 5 over zero weights fails", apportion(5, zeros, 2, c) == -1);
    const double negative[] = {1, -1};
    CHECK("apportion rejects a negative weight", apportion(5, negative, 2, c) == -1);
}

/* The percent and fraction spellings of 70/15/15 and 80/20 must agree for
 * every size, although 0.7 and 0.15 are not exact in binary. */
static void test_apportion_spellings_agree(void)
{
    const double pct3[] = {70, 15, 15}, frac3[] = {0.7, 0.15, 0.15};
    const double pct2[] = {80, 20}, frac2[] = {0.8, 0.2};
    const double pct4[] = {10, 20, 30, 40}, frac4[] = {0.1, 0.2, 0.3, 0.4};
    int ok = 1;
    for (size_t n = 0; n <= 5000; n++) {
        size_t a[4], b[4];
        apportion(n, pct3, 3, a);
        apportion(n, frac3, 3, b);
        ok &= counts_are(a, b, 3);
        apportion(n, pct2, 2, a);
        apportion(n, frac2, 2, b);
        ok &= counts_are(a, b, 2);
        apportion(n, pct4, 4, a);
        apportion(n, frac4, 4, b);
        ok &= counts_are(a, b, 4);
        /* and the exact integer version agrees with them */
        const size_t ipct3[] = {70, 15, 15};
        apportion(n, pct3, 3, a);
        apportion_sizes(n, ipct3, 3, b);
        ok &= counts_are(a, b, 3);
    }
    CHECK("apportion: percent, fraction and integer spellings agree for n <= 5000", ok);
}

/* Sum = total and |count - quota| < 1 for random weights and totals. */
static void test_apportion_properties(void)
{
    prng r;
    prng_seed(&r, 1234, 0);
    int sums = 1, within = 1, exact_sums = 1, exact_within = 1;
    for (int trial = 0; trial < 2000; trial++) {
        size_t n = 1 + (size_t)prng_below(&r, 8), total = (size_t)prng_below(&r, 100000);
        double w[8];
        size_t iw[8], c[8], ic[8], sum = 0, isum = 0, wsum = 0;
        for (size_t k = 0; k < n; k++) {
            iw[k] = (size_t)prng_below(&r, 1000);
            w[k] = (double)iw[k] + prng_uniform(&r);
            wsum += iw[k];
        }
        if (wsum == 0) iw[0] = 1, wsum = 1;
        double W = 0;
        for (size_t k = 0; k < n; k++) W += w[k];
        apportion(total, w, n, c);
        apportion_sizes(total, iw, n, ic);
        for (size_t k = 0; k < n; k++) {
            sum += c[k];
            isum += ic[k];
            double q = (double)total * w[k] / W, iq = (double)total * (double)iw[k] / (double)wsum;
            if (!((double)c[k] > q - 1 && (double)c[k] < q + 1)) within = 0;
            if (!((double)ic[k] > iq - 1 && (double)ic[k] < iq + 1)) exact_within = 0;
        }
        sums &= sum == total;
        exact_sums &= isum == total;
    }
    CHECK("apportion counts sum to the total", sums);
    CHECK("apportion counts are within 1 of their quotas", within);
    CHECK("apportion_sizes counts sum to the total", exact_sums);
    CHECK("apportion_sizes counts are within 1 of their quotas", exact_within);
}

static void test_apportion_sizes_examples(void)
{
    size_t c[3];
    /* 1200 - 300 = 900 rows over sizes 500 and 400: quotas 500, 400 */
    const size_t sizes[] = {0, 500, 400};
    apportion_sizes(900, sizes, 3, c);
    CHECK("apportion_sizes 900 over 0,500,400 = 0,500,400", counts_are(c, (size_t[]){0, 500, 400}, 3));
    /* 10 over 1,1,1: quotas 3.33 each -> 3,3,3 and the 1 left to index 0 */
    const size_t ones[] = {1, 1, 1};
    apportion_sizes(10, ones, 3, c);
    CHECK("apportion_sizes 10 over 1,1,1 = 4,3,3", counts_are(c, (size_t[]){4, 3, 3}, 3));
    /* 40% of 98 train rows: round(39.2) = 39 over sizes 5,70,23: quotas
     * 1.99, 27.86, 9.15 -> floors 1,27,9 (37); 2 left to .99 and .86 */
    const size_t train[] = {5, 70, 23};
    apportion_sizes(39, train, 3, c);
    CHECK("apportion_sizes 39 over 5,70,23 = 2,28,9", counts_are(c, (size_t[]){2, 28, 9}, 3));
    const size_t none[] = {0, 0};
    CHECK("apportion_sizes over no rows fails", apportion_sizes(1, none, 2, c) == -1);
}

static void test_round_half_up(void)
{
    CHECK("round_half_up(2.5) = 3", round_half_up(2.5) == 3);
    CHECK("round_half_up(2.49) = 2", round_half_up(2.49) == 2);
    CHECK("round_half_up(0.35 * 10) = 4 (3.4999999999999996 in binary)", round_half_up(0.35 * 10) == 4);
    CHECK("round_half_up(0.4 * 98) = 39", round_half_up(0.4 * 98) == 39);
    CHECK("round_half_up(0.25 * 1200) = 300", round_half_up(0.25 * 1200) == 300);
    CHECK("round_half_up(0) = 0", round_half_up(0) == 0);
}

static void test_parse_ratios(void)
{
    double *r;
    size_t n = parse_ratios_opt("--ratios", "70/15/15", &r);
    CHECK("parse 70/15/15", n == 3 && r[0] == 70 && r[1] == 15 && r[2] == 15);
    free(r);
    n = parse_ratios_opt("--ratios", "0.7,0.15,0.15", &r);
    CHECK("parse 0.7,0.15,0.15", n == 3 && r[0] == 0.7 && r[2] == 0.15);
    free(r);
    n = parse_ratios_opt("--ratios", "80%,20%", &r);
    CHECK("parse 80%,20%", n == 2 && r[0] == 80 && r[1] == 20);
    free(r);
    n = parse_ratios_opt("--ratios", "0.5/0.5", &r);
    CHECK("parse 0.5/0.5", n == 2 && r[0] == 0.5);
    free(r);
    char **names = default_split_names(3);
    CHECK_STR("default names of 3 splits", names[1], "val");
    for (int i = 0; i < 3; i++) free(names[i]);
    free(names);
    names = default_split_names(4);
    CHECK_STR("default names of 4 splits", names[3], "split4");
    for (int i = 0; i < 4; i++) free(names[i]);
    free(names);
}

/* 140 rows in classes of 7, 100 and 33, interleaved. */
static size_t *synthetic_classes(size_t *n)
{
    *n = 140;
    size_t *cls = malloc(*n * sizeof *cls);
    size_t left[3] = {7, 100, 33}, k = 0;
    for (size_t i = 0; i < *n; i++) {
        while (left[k % 3] == 0) k++;
        cls[i] = k % 3;
        left[k % 3]--;
        k++;
    }
    return cls;
}

static void test_split_assign(void)
{
    size_t n, *cls = synthetic_classes(&n);
    class_rows cr;
    class_rows_build(&cr, cls, NULL, n, 3);
    size_t sizes[3];
    class_sizes(&cr, sizes);
    CHECK("class_rows sizes 7,100,33", counts_are(sizes, (size_t[]){7, 100, 33}, 3));
    const double ratios[] = {70, 15, 15};
    size_t counts[9];
    split_counts(&cr, ratios, 3, counts);
    /* 7 -> 5,1,1; 100 -> 70,15,15; 33 -> 23,5,5 (see above) */
    CHECK("split_counts", counts_are(counts, (size_t[]){5, 1, 1, 70, 15, 15, 23, 5, 5}, 9));
    size_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    prng r;
    prng_seed(&r, 42, 1);
    split_assign(&cr, counts, 3, &r, a);
    prng_seed(&r, 42, 1);
    split_assign(&cr, counts, 3, &r, b);
    prng_seed(&r, 43, 1);
    split_assign(&cr, counts, 3, &r, c);
    size_t got[9] = {0};
    int same = 1, differ = 0;
    for (size_t i = 0; i < n; i++) {
        got[cls[i] * 3 + a[i]]++;
        same &= a[i] == b[i];
        differ |= a[i] != c[i];
    }
    CHECK("split_assign deals out exactly the counts", counts_are(got, counts, 9));
    CHECK("split_assign: same seed, same assignment", same);
    CHECK("split_assign: another seed, another assignment", differ);
    free(a);
    free(b);
    free(c);
    class_rows_free(&cr);
    free(cls);
}

static void test_sampling(void)
{
    size_t n, *cls = synthetic_classes(&n);
    /* a subset: the even rows only (4, 50, 16 of the classes; row 0 is class 0) */
    size_t subset[70], m = 0;
    for (size_t i = 0; i < n; i += 2) subset[m++] = i;
    class_rows cr;
    class_rows_build(&cr, cls, subset, m, 3);
    size_t sizes[3];
    class_sizes(&cr, sizes);
    CHECK("class_rows over a subset", sizes[0] + sizes[1] + sizes[2] == 70);
    size_t *copies = calloc(n, sizeof *copies);
    prng r;
    prng_seed(&r, 7, 2);
    size_t want[3] = {2, sizes[1], 3};
    sample_by_class(&cr, want, &r, copies);
    size_t got[3] = {0}, odd = 0, max_copies = 0;
    for (size_t i = 0; i < n; i++) {
        got[cls[i]] += copies[i];
        if (i % 2) odd += copies[i];
        if (copies[i] > max_copies) max_copies = copies[i];
    }
    CHECK("sample_by_class without replacement draws the wanted counts", counts_are(got, want, 3));
    CHECK("sample_by_class touches only rows of the subset", odd == 0 && max_copies == 1);

    size_t up[3];
    balance_counts(sizes, 3, 1, up);
    for (size_t i = 0; i < n; i++) copies[i] = 0;
    sample_by_class(&cr, up, &r, copies);
    size_t got_up[3] = {0};
    int originals_kept = 1;
    for (size_t k = 0; k < m; k++) {
        got_up[cls[subset[k]]] += copies[subset[k]];
        originals_kept &= copies[subset[k]] >= 1;
    }
    CHECK("oversampling raises every class to the largest", got_up[0] == sizes[1] && got_up[1] == sizes[1] &&
                                                                got_up[2] == sizes[1]);
    CHECK("oversampling keeps every original row", originals_kept);
    size_t down[3];
    balance_counts(sizes, 3, 0, down);
    CHECK("undersampling sizes = the smallest class", down[0] == sizes[0] && down[1] == sizes[0] && down[2] == sizes[0]);
    const size_t with_empty[] = {0, 5, 9};
    balance_counts(with_empty, 3, 0, down);
    CHECK("undersampling ignores empty classes", down[0] == 0 && down[1] == 5 && down[2] == 5);

    /* resample to 1/4 of 1200: 300 of class 0, the other 900 over 500 and 400 */
    const size_t big[] = {350, 500, 400};
    size_t rs[3];
    CHECK("resample_counts ok", resample_counts(big, 3, 0, 300, 1200, rs) == 0);
    CHECK("resample_counts 300 + 500 + 400", counts_are(rs, (size_t[]){300, 500, 400}, 3));
    const size_t alone[] = {350, 0, 0};
    CHECK("resample_counts with nothing to share fails", resample_counts(alone, 3, 0, 300, 1200, rs) == -1);
    free(copies);
    class_rows_free(&cr);
    free(cls);
}

int main(void)
{
    test_apportion_examples();
    test_apportion_spellings_agree();
    test_apportion_properties();
    test_apportion_sizes_examples();
    test_round_half_up();
    test_parse_ratios();
    test_split_assign();
    test_sampling();
    return check_exit();
}

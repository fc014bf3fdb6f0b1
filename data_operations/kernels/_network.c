/*
 * A median selection network applied to every pixel of a stack, block by block, without the GIL.
 *
 * numpy can run a network only as one min/max call per comparator over whole planes: hundreds of
 * passes through memory and hundreds of Python calls per band. Here a block of pixels is copied
 * into a small cache-resident work area (one row per input, so the comparators vectorise across
 * pixels) and the whole network runs on it before the next block is touched.
 *
 * The comparators come from Python (data_operations.kernels.median.median_network): rows of
 * (low wire, high wire, keep min, keep max), pruned to those the middle wires depend on. A pixel
 * with a NaN sample gets NaN here, so that the caller recomputes it with the NaN-aware path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 256 /* pixels per block: 30 inputs x 256 x 4 bytes stay in L1 */

/* The vector loops are built twice on x86-64, for AVX2 and for the baseline, and the loader
 * picks the one the CPU runs (GCC function multiversioning). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* Every comparator of the network over `width` pixels of `work` (one BLOCK-long row per wire). */
VECTOR_CLONES static void run_block(float *work, Py_ssize_t width, const int32_t *network, Py_ssize_t comparators) {
    for (Py_ssize_t c = 0; c < comparators; c++) {
        const int32_t *comparator = network + 4 * c;
        float *restrict a = work + (Py_ssize_t)comparator[0] * BLOCK;
        float *restrict b = work + (Py_ssize_t)comparator[1] * BLOCK;
        /* written so that gcc turns them into packed min/max: x < y ? x : y and y > x ? y : x */
        if (comparator[2] && comparator[3]) {
            for (Py_ssize_t i = 0; i < width; i++) {
                float x = a[i], y = b[i];
                float low = x < y ? x : y;
                float high = y > x ? y : x;
                a[i] = low;
                b[i] = high;
            }
        } else if (comparator[2]) {
            for (Py_ssize_t i = 0; i < width; i++) {
                float x = a[i], y = b[i];
                a[i] = x < y ? x : y;
            }
        } else {
            for (Py_ssize_t i = 0; i < width; i++) {
                float x = a[i], y = b[i];
                b[i] = y > x ? y : x;
            }
        }
    }
}

/* The same comparators over doubles (the sigma-clipping distances, kept exact in double). */
VECTOR_CLONES static void run_block_double(double *work, Py_ssize_t width, const int32_t *network,
                                           Py_ssize_t comparators) {
    for (Py_ssize_t c = 0; c < comparators; c++) {
        const int32_t *comparator = network + 4 * c;
        double *restrict a = work + (Py_ssize_t)comparator[0] * BLOCK;
        double *restrict b = work + (Py_ssize_t)comparator[1] * BLOCK;
        if (comparator[2] && comparator[3]) {
            for (Py_ssize_t i = 0; i < width; i++) {
                double x = a[i], y = b[i];
                double low = x < y ? x : y;
                double high = y > x ? y : x;
                a[i] = low;
                b[i] = high;
            }
        } else if (comparator[2]) {
            for (Py_ssize_t i = 0; i < width; i++) {
                double x = a[i], y = b[i];
                a[i] = x < y ? x : y;
            }
        } else {
            for (Py_ssize_t i = 0; i < width; i++) {
                double x = a[i], y = b[i];
                b[i] = y > x ? y : x;
            }
        }
    }
}

/* Copy `width` pixels of each of `count` planes (`stride` floats apart) into `work`; flag NaNs. */
VECTOR_CLONES static void copy_block(const float *source, Py_ssize_t stride, Py_ssize_t count, Py_ssize_t width, float *work,
                       int32_t *has_nan) {
    memset(has_nan, 0, BLOCK * sizeof(int32_t));
    for (Py_ssize_t f = 0; f < count; f++) {
        const float *from = source + f * stride;
        float *to = work + f * BLOCK;
        for (Py_ssize_t i = 0; i < width; i++) {
            to[i] = from[i];
            has_nan[i] |= from[i] != from[i];
        }
    }
}

static int get_planes(PyObject *object, Py_buffer *planes) {
    if (PyObject_GetBuffer(object, planes, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        return -1;
    }
    if (strcmp(planes->format, "f") != 0 || planes->ndim != 2 || planes->strides[1] != (Py_ssize_t)sizeof(float) ||
        planes->strides[0] % (Py_ssize_t)sizeof(float) != 0 || planes->shape[0] < 1) {
        PyErr_SetString(PyExc_ValueError, "planes must be float32 (count, pixels) with contiguous rows.");
        PyBuffer_Release(planes);
        return -1;
    }
    return 0;
}

/* The comparator table: int32 rows of (low wire, high wire, keep min, keep max), wires < count. */
static int get_network(PyObject *object, Py_buffer *network, Py_ssize_t count) {
    if (PyObject_GetBuffer(object, network, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        return -1;
    }
    if (strcmp(network->format, "i") != 0 || network->len % (4 * (Py_ssize_t)sizeof(int32_t)) != 0) {
        PyErr_SetString(PyExc_ValueError, "network must be int32 rows of 4.");
        PyBuffer_Release(network);
        return -1;
    }
    const int32_t *wires = network->buf;
    for (Py_ssize_t c = 0; c < network->len / (4 * (Py_ssize_t)sizeof(int32_t)); c++) {
        if (wires[4 * c] < 0 || wires[4 * c] >= count || wires[4 * c + 1] < 0 || wires[4 * c + 1] >= count ||
            wires[4 * c] == wires[4 * c + 1]) {
            PyErr_SetString(PyExc_ValueError, "network names a wire outside the planes.");
            PyBuffer_Release(network);
            return -1;
        }
    }
    return 0;
}

PyDoc_STRVAR(network_median_doc,
"network_median(planes, network, out)\n\n"
"Median over axis 0 of ``planes`` (float32, (count, pixels), rows contiguous) into ``out`` (float32,\n"
"(pixels,), contiguous) by the selection ``network`` (int32, (comparators, 4)). The mean of the two\n"
"middle values is taken in float32 for an even count. Pixels with any NaN sample come out NaN.");

static PyObject *network_median(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *planes_obj, *network_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OOO", &planes_obj, &network_obj, &out_obj)) {
        return NULL;
    }
    Py_buffer planes, network, out;
    PyObject *result = NULL;
    if (get_planes(planes_obj, &planes) < 0) {
        return NULL;
    }
    Py_ssize_t count = planes.shape[0], pixels = planes.shape[1];
    if (get_network(network_obj, &network, count) < 0) {
        goto release_planes;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        goto release_network;
    }
    if (strcmp(out.format, "f") != 0 || out.len != pixels * (Py_ssize_t)sizeof(float)) {
        PyErr_SetString(PyExc_ValueError, "out must be float32 with one value per pixel.");
        goto release_out;
    }
    Py_ssize_t comparators = network.len / (4 * (Py_ssize_t)sizeof(int32_t));
    float *work = malloc((size_t)count * BLOCK * sizeof(float));
    int32_t *has_nan = malloc(BLOCK * sizeof(int32_t));
    if (work == NULL || has_nan == NULL) {
        free(work);
        free(has_nan);
        PyErr_NoMemory();
        goto release_out;
    }
    Py_ssize_t stride = planes.strides[0] / (Py_ssize_t)sizeof(float);
    Py_ssize_t lower = (count - 1) / 2, upper = count / 2;
    const float *source = planes.buf;
    float *target = out.buf;
    const int32_t *wires = network.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t start = 0; start < pixels; start += BLOCK) {
        Py_ssize_t width = pixels - start < BLOCK ? pixels - start : BLOCK;
        copy_block(source + start, stride, count, width, work, has_nan);
        run_block(work, width, wires, comparators);
        const float *low = work + lower * BLOCK, *high = work + upper * BLOCK;
        for (Py_ssize_t i = 0; i < width; i++) {
            float middle = lower == upper ? low[i] : (low[i] + high[i]) * 0.5f;
            target[start + i] = has_nan[i] ? NAN : middle;
        }
    }
    Py_END_ALLOW_THREADS
    free(work);
    free(has_nan);
    result = Py_NewRef(Py_None);

release_out:
    PyBuffer_Release(&out);
release_network:
    PyBuffer_Release(&network);
release_planes:
    PyBuffer_Release(&planes);
    return result;
}

/* --- sigma clipping ------------------------------------------------------------------------ */

/*
 * Per pixel, exactly astropy's sigma_clip(cenfunc='median', stdfunc='mad_std', axis=0) (its C
 * fast path, astropy/stats/src/compute_bounds.c): the statistics are taken in double precision on
 * the finite samples; each pass sets lower = median - sigma_lower * std and upper = median +
 * sigma_upper * std (std = MAD x 1.482602218505602), keeps the survivors within [lower, upper],
 * and stops when a pass keeps them all, keeps none, or max_iterations passes changed something.
 * The mask is then those final bounds applied to every original finite sample, so a sample
 * clipped in an early pass comes back when the bounds widen. Non-finite samples are missing data:
 * never rejected, never counted.
 *
 * A pixel's survivors are always a run [low, high) of its sorted samples, so each pass only moves
 * the two ends of that run, and the median and MAD of a run are read from it without sorting.
 */

#define MAD_TO_SIGMA 1.482602218505602

static void sort_floats(float *values, Py_ssize_t n) { /* ascending; no NaNs here */
    while (n > 16) { /* quicksort on the larger part iteratively, recursion on the smaller */
        float a = values[0], b = values[n / 2], c = values[n - 1];
        float pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        Py_ssize_t i = 0, j = n - 1;
        for (;;) {
            while (values[i] < pivot) i++;
            while (pivot < values[j]) j--;
            if (i >= j) break;
            float swap = values[i];
            values[i] = values[j];
            values[j] = swap;
            i++;
            j--;
        }
        Py_ssize_t split = j + 1;
        if (split < n - split) {
            sort_floats(values, split);
            values += split;
            n -= split;
        } else {
            sort_floats(values + split, n - split);
            n = split;
        }
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        float value = values[i];
        Py_ssize_t j = i;
        for (; j > 0 && values[j - 1] > value; j--) {
            values[j] = values[j - 1];
        }
        values[j] = value;
    }
}

/* The median of the run [low, high) of ascending `sorted` (stride `step`), in double as astropy's
 * wirth_median gives it: the middle value, or 0.5 * (upper middle + lower middle). */
static inline double median_of_run(const float *sorted, Py_ssize_t step, Py_ssize_t low, Py_ssize_t high) {
    Py_ssize_t length = high - low;
    double lower = sorted[(low + (length - 1) / 2) * step], upper = sorted[(low + length / 2) * step];
    return length % 2 ? lower : 0.5 * (upper + lower);
}

/* Median of |sorted[i] - centre| over the run [low, high), centre being the run's median: the
 * distances below and above the centre are two ascending lists, merged up to the middle. Each
 * distance is computed in double exactly as fabs(x - centre) is. */
static double mad_of_run(const float *sorted, Py_ssize_t step, Py_ssize_t low, Py_ssize_t high, double centre) {
    Py_ssize_t length = high - low, k_lower = (length - 1) / 2, k_upper = length / 2;
    Py_ssize_t up = low + length / 2, down = up - 1;
    double lower = 0.0, upper = 0.0;
    for (Py_ssize_t rank = 0; rank <= k_upper; rank++) {
        double below = down >= low ? centre - (double)sorted[down * step] : INFINITY;
        double above = up < high ? (double)sorted[up * step] - centre : INFINITY;
        int take_below = below <= above;
        double distance = take_below ? below : above;
        lower = rank == k_lower ? distance : lower;
        upper = rank == k_upper ? distance : upper;
        down -= take_below;
        up += 1 - take_below;
    }
    return length % 2 ? lower : 0.5 * (upper + lower);
}

typedef struct {
    double sigma_low, sigma_high;
    int max_iterations; /* < 1: until a pass changes nothing */
} ClipSettings;

/* The bounds of one pass over the run [low, high). */
static inline void run_bounds(const float *sorted, Py_ssize_t step, Py_ssize_t low, Py_ssize_t high,
                              const ClipSettings *settings, double *lower, double *upper) {
    double centre = median_of_run(sorted, step, low, high);
    double std = mad_of_run(sorted, step, low, high, centre) * MAD_TO_SIGMA;
    *lower = centre - settings->sigma_low * std;
    *upper = centre + settings->sigma_high * std;
}

/*
 * Iterate one pixel from its first pass's bounds: `sorted` holds its m finite samples in
 * ascending order (stride `step`). Returns the final bounds in *lower and *upper.
 */
static void final_bounds(const float *sorted, Py_ssize_t step, Py_ssize_t m, const ClipSettings *settings,
                         double *lower, double *upper) {
    Py_ssize_t low = 0, high = m;
    for (int pass = 1;; pass++) {
        Py_ssize_t new_low = low, new_high = high;
        while (new_low < high && (double)sorted[new_low * step] < *lower) new_low++;
        while (new_high > new_low && (double)sorted[(new_high - 1) * step] > *upper) new_high--;
        if (new_high - new_low == high - low || new_high == new_low) return;
        if (settings->max_iterations > 0 && pass >= settings->max_iterations) return;
        low = new_low;
        high = new_high;
        run_bounds(sorted, step, low, high, settings, lower, upper);
    }
}

/* Mask the finite samples of one pixel that fall outside [lower, upper]. */
static void mark_outside(const float *samples, Py_ssize_t stride, Py_ssize_t count, double lower, double upper,
                         uint8_t *mask, Py_ssize_t mask_stride) {
    for (Py_ssize_t f = 0; f < count; f++) {
        double value = samples[f * stride];
        mask[f * mask_stride] = (value < lower) | (value > upper); /* false for NaN; inf never comes here */
    }
}

/* A pixel with non-finite samples: sort its finite samples and clip them from scratch. */
static void clip_pixel_with_gaps(const float *samples, Py_ssize_t stride, Py_ssize_t count,
                                 const ClipSettings *settings, float *sorted, uint8_t *mask, Py_ssize_t mask_stride) {
    Py_ssize_t m = 0;
    for (Py_ssize_t f = 0; f < count; f++) {
        float value = samples[f * stride];
        if (fabsf(value) <= FLT_MAX) sorted[m++] = value;
    }
    if (m == 0) return;
    sort_floats(sorted, m);
    double lower, upper;
    run_bounds(sorted, 1, 0, m, settings, &lower, &upper);
    final_bounds(sorted, 1, m, settings, &lower, &upper);
    for (Py_ssize_t f = 0; f < count; f++) {
        float value = samples[f * stride];
        mask[f * mask_stride] = fabsf(value) <= FLT_MAX && ((double)value < lower || (double)value > upper);
    }
}

/* Copy `width` pixels of each of `count` planes into `work`; flag pixels with a non-finite sample. */
VECTOR_CLONES static void copy_block_finite(const float *source, Py_ssize_t stride, Py_ssize_t count,
                                            Py_ssize_t width, float *work, int32_t *has_gap) {
    memset(has_gap, 0, BLOCK * sizeof(int32_t));
    for (Py_ssize_t f = 0; f < count; f++) {
        const float *from = source + f * stride;
        float *to = work + f * BLOCK;
        for (Py_ssize_t i = 0; i < width; i++) {
            to[i] = from[i];
            has_gap[i] |= !(fabsf(from[i]) <= FLT_MAX);
        }
    }
}

/* The first pass's bounds of every pixel of a sorted block, vectorised across pixels: the centres
 * from the middle wires, the distances in double, and their median by the median network. The
 * values equal run_bounds' (same operations on the same numbers); pixels with gaps get garbage,
 * which the caller ignores. */
VECTOR_CLONES static void first_pass_bounds(const float *ordered, Py_ssize_t count, Py_ssize_t width,
                                            const int32_t *median_network, Py_ssize_t median_size,
                                            const ClipSettings *settings, double *distances, double *bounds) {
    Py_ssize_t lower = (count - 1) / 2, upper = count / 2;
    double *centres = bounds + BLOCK; /* the upper bounds' slots hold the centres until the end */
    for (Py_ssize_t i = 0; i < width; i++) {
        double low = ordered[lower * BLOCK + i], high = ordered[upper * BLOCK + i];
        centres[i] = lower == upper ? low : 0.5 * (high + low);
    }
    for (Py_ssize_t f = 0; f < count; f++) {
        const float *from = ordered + f * BLOCK;
        double *to = distances + f * BLOCK;
        for (Py_ssize_t i = 0; i < width; i++) {
            to[i] = fabs((double)from[i] - centres[i]);
        }
    }
    run_block_double(distances, width, median_network, median_size);
    const double *mad_low = distances + lower * BLOCK, *mad_high = distances + upper * BLOCK;
    for (Py_ssize_t i = 0; i < width; i++) {
        double mad = lower == upper ? mad_low[i] : 0.5 * (mad_high[i] + mad_low[i]);
        double std = mad * MAD_TO_SIGMA, centre = centres[i];
        bounds[i] = centre - settings->sigma_low * std;
        bounds[BLOCK + i] = centre + settings->sigma_high * std;
    }
}

PyDoc_STRVAR(sigma_clip_doc,
"sigma_clip(planes, sorting_network, median_network, sigma_low, sigma_high, max_iterations, mask)\n\n"
"astropy's median/MAD-std sigma clipping (axis 0) of every pixel of ``planes`` (float32, (count,\n"
"pixels), rows contiguous): ``mask`` (bool or uint8, (count, pixels), contiguous) gets True for the\n"
"finite samples outside the final bounds. ``max_iterations`` < 1 iterates until nothing changes.\n"
"Blocks of pixels are sorted with the sorting network and their first MAD taken with the median\n"
"network (in double); pixels with non-finite samples are sorted one by one.");

static PyObject *sigma_clip(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *planes_obj, *sort_obj, *median_obj, *mask_obj;
    ClipSettings settings;
    if (!PyArg_ParseTuple(args, "OOOddiO", &planes_obj, &sort_obj, &median_obj, &settings.sigma_low,
                          &settings.sigma_high, &settings.max_iterations, &mask_obj)) {
        return NULL;
    }
    if (!(settings.sigma_low > 0.0) || !(settings.sigma_high > 0.0)) {
        PyErr_SetString(PyExc_ValueError, "sigma_low and sigma_high must be positive.");
        return NULL;
    }
    Py_buffer planes, sorter, median, mask;
    PyObject *result = NULL;
    if (get_planes(planes_obj, &planes) < 0) {
        return NULL;
    }
    Py_ssize_t count = planes.shape[0], pixels = planes.shape[1];
    if (get_network(sort_obj, &sorter, count) < 0) {
        goto release_planes;
    }
    if (get_network(median_obj, &median, count) < 0) {
        goto release_sorter;
    }
    if (PyObject_GetBuffer(mask_obj, &mask, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        goto release_median;
    }
    if ((strcmp(mask.format, "?") != 0 && strcmp(mask.format, "B") != 0) || mask.len != count * pixels) {
        PyErr_SetString(PyExc_ValueError, "mask must be bool with one value per sample.");
        goto release_mask;
    }
    Py_ssize_t sort_size = sorter.len / (4 * (Py_ssize_t)sizeof(int32_t));
    Py_ssize_t median_size = median.len / (4 * (Py_ssize_t)sizeof(int32_t));
    float *ordered = malloc((size_t)count * BLOCK * sizeof(float));
    double *distances = malloc((size_t)count * BLOCK * sizeof(double));
    double *bounds = malloc(2 * BLOCK * sizeof(double)); /* each pixel's first lower and upper bound */
    float *column = malloc((size_t)count * sizeof(float));
    int32_t *has_gap = malloc(BLOCK * sizeof(int32_t));
    if (ordered == NULL || distances == NULL || bounds == NULL || column == NULL || has_gap == NULL) {
        free(ordered);
        free(distances);
        free(bounds);
        free(column);
        free(has_gap);
        PyErr_NoMemory();
        goto release_mask;
    }
    Py_ssize_t stride = planes.strides[0] / (Py_ssize_t)sizeof(float);
    const float *source = planes.buf;
    uint8_t *flags = mask.buf;
    Py_BEGIN_ALLOW_THREADS
    memset(flags, 0, (size_t)(count * pixels));
    for (Py_ssize_t start = 0; start < pixels; start += BLOCK) {
        Py_ssize_t width = pixels - start < BLOCK ? pixels - start : BLOCK;
        copy_block_finite(source + start, stride, count, width, ordered, has_gap);
        run_block(ordered, width, sorter.buf, sort_size); /* every pixel's samples, sorted */
        first_pass_bounds(ordered, count, width, median.buf, median_size, &settings, distances, bounds);
        for (Py_ssize_t i = 0; i < width; i++) {
            const float *samples = source + start + i;
            uint8_t *pixel_mask = flags + start + i;
            if (has_gap[i]) {
                clip_pixel_with_gaps(samples, stride, count, &settings, column, pixel_mask, pixels);
                continue;
            }
            const float *sorted = ordered + i;
            double lower = bounds[i], upper = bounds[BLOCK + i];
            if ((double)sorted[0] >= lower && (double)sorted[(count - 1) * BLOCK] <= upper) {
                continue; /* the first pass keeps every sample: nothing is rejected */
            }
            final_bounds(sorted, BLOCK, count, &settings, &lower, &upper);
            mark_outside(samples, stride, count, lower, upper, pixel_mask, pixels);
        }
    }
    Py_END_ALLOW_THREADS
    free(ordered);
    free(distances);
    free(bounds);
    free(column);
    free(has_gap);
    result = Py_NewRef(Py_None);

release_mask:
    PyBuffer_Release(&mask);
release_median:
    PyBuffer_Release(&median);
release_sorter:
    PyBuffer_Release(&sorter);
release_planes:
    PyBuffer_Release(&planes);
    return result;
}

/* --- sums of kept samples ------------------------------------------------------------------ */

PyDoc_STRVAR(kept_sums_doc,
"kept_sums(planes, rejected, total, kept)\n\n"
"Per pixel of ``planes`` (float32, (count, pixels), rows contiguous): ``total`` (float64) gets the sum of\n"
"the finite samples not ``rejected`` (bool (count, pixels), contiguous, or None), added in frame order\n"
"from 0.0 as numpy's add.reduce over axis 0 does, and ``kept`` (int32) their number.");

static PyObject *kept_sums(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *planes_obj, *mask_obj, *total_obj, *kept_obj;
    if (!PyArg_ParseTuple(args, "OOOO", &planes_obj, &mask_obj, &total_obj, &kept_obj)) {
        return NULL;
    }
    Py_buffer planes, mask, total, kept;
    int have_mask = mask_obj != Py_None;
    PyObject *result = NULL;
    if (get_planes(planes_obj, &planes) < 0) {
        return NULL;
    }
    Py_ssize_t count = planes.shape[0], pixels = planes.shape[1];
    if (have_mask) {
        if (PyObject_GetBuffer(mask_obj, &mask, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            goto release_planes;
        }
        if ((strcmp(mask.format, "?") != 0 && strcmp(mask.format, "B") != 0) || mask.len != count * pixels) {
            PyErr_SetString(PyExc_ValueError, "rejected must be bool with one value per sample.");
            goto release_mask;
        }
    }
    if (PyObject_GetBuffer(total_obj, &total, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        goto release_mask;
    }
    if (PyObject_GetBuffer(kept_obj, &kept, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        goto release_total;
    }
    if (strcmp(total.format, "d") != 0 || total.len != pixels * (Py_ssize_t)sizeof(double) ||
        strcmp(kept.format, "i") != 0 || kept.len != pixels * (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "total must be float64 and kept int32, one value per pixel.");
        goto release_kept;
    }
    Py_ssize_t stride = planes.strides[0] / (Py_ssize_t)sizeof(float);
    const float *source = planes.buf;
    const uint8_t *flags = have_mask ? mask.buf : NULL;
    double *sums = total.buf;
    int32_t *counts = kept.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t start = 0; start < pixels; start += BLOCK) { /* blocks keep the sums in cache */
        Py_ssize_t width = pixels - start < BLOCK ? pixels - start : BLOCK;
        for (Py_ssize_t i = 0; i < width; i++) {
            sums[start + i] = 0.0;
            counts[start + i] = 0;
        }
        double *sum = sums + start;
        int32_t *counted = counts + start;
        for (Py_ssize_t f = 0; f < count; f++) { /* branch-free so that the loops vectorise */
            const float *row = source + f * stride + start;
            if (flags != NULL) {
                const uint8_t *out = flags + f * pixels + start;
                for (Py_ssize_t i = 0; i < width; i++) {
                    int32_t keep = (fabsf(row[i]) <= FLT_MAX) & (out[i] == 0); /* finite, not rejected */
                    sum[i] += keep ? (double)row[i] : 0.0;
                    counted[i] += keep;
                }
            } else {
                for (Py_ssize_t i = 0; i < width; i++) {
                    int32_t keep = fabsf(row[i]) <= FLT_MAX;
                    sum[i] += keep ? (double)row[i] : 0.0;
                    counted[i] += keep;
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);

release_kept:
    PyBuffer_Release(&kept);
release_total:
    PyBuffer_Release(&total);
release_mask:
    if (have_mask) {
        PyBuffer_Release(&mask);
    }
release_planes:
    PyBuffer_Release(&planes);
    return result;
}

static PyMethodDef methods[] = {
    {"network_median", network_median, METH_VARARGS, network_median_doc},
    {"sigma_clip", sigma_clip, METH_VARARGS, sigma_clip_doc},
    {"kept_sums", kept_sums, METH_VARARGS, kept_sums_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_network", "A median selection network over stacks of float32 planes.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__network(void) { return PyModule_Create(&module); }

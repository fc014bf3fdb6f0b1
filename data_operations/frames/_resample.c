/*
 * Resample a frame onto another pixel grid, a band of grid rows at a time, without the GIL.
 *
 * Where each grid pixel lands in the frame is known exactly (from the WCS) only at nodes every
 * `spacing` pixels; between them it is interpolated by Catmull-Rom cubic convolution, first along
 * the grid's rows, then along its columns. Node (i, j) is the frame position of grid pixel
 * ((j - 1) * spacing, (i - 1) * spacing), so every grid pixel has the four nodes it needs on each
 * axis (one ghost node before the grid, two after).
 *
 * The frame is then sampled bilinearly with the conventions of reproject's ``map_coordinates``
 * (scipy's order-1 interpolation with pixel centres at integers): a position outside
 * [-0.5, n - 0.5) on either axis is NaN; positions in the outer half of the edge pixels are moved
 * onto the edge pixel's centre; the two neighbours on an axis are floor(p) and floor(p) + 1, except
 * on the last pixel, which pairs with the one before it; any NaN neighbour makes the pixel NaN,
 * even one of zero weight. Everything is computed in double, in the order the numpy fallback uses
 * (data_operations/frames/resample.py), built with -ffp-contract=off so both round alike.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SPACING 4096
/* Every size and offset stays below this, so no product or sum of two of them can overflow. */
#define MAX_EXTENT ((Py_ssize_t)1 << 30)

/* Catmull-Rom weights of the four nodes around fraction t of the way from node 1 to node 2. */
static void cubic_weights(double t, double *w) {
    w[0] = ((-0.5 * t + 1.0) * t - 0.5) * t;
    w[1] = ((1.5 * t - 2.5) * t) * t + 1.0;
    w[2] = ((-1.5 * t + 2.0) * t + 0.5) * t;
    w[3] = ((0.5 * t - 0.5) * t) * t;
}

/* The weights of every phase 0..spacing-1 of a pixel between two nodes: node k's in table[k * spacing:]. */
static void phase_weights(Py_ssize_t spacing, double *table) {
    for (Py_ssize_t phase = 0; phase < spacing; phase++) {
        double w[4];
        cubic_weights((double)phase / (double)spacing, w);
        for (int k = 0; k < 4; k++) {
            table[k * spacing + phase] = w[k];
        }
    }
}

/* Nodes of grid row `gy` along the grid's columns: the cubic of the four node rows around it. */
static void row_nodes(const double *nodes, Py_ssize_t node_cols, Py_ssize_t spacing, Py_ssize_t gy,
                      const double *table, double *row) {
    Py_ssize_t ky = (gy + spacing) / spacing, phase = (gy + spacing) % spacing;
    const double w[4] = {table[phase], table[spacing + phase], table[2 * spacing + phase], table[3 * spacing + phase]};
    const double *n0 = nodes + (ky - 1) * node_cols, *n1 = n0 + node_cols, *n2 = n1 + node_cols,
                 *n3 = n2 + node_cols;
    for (Py_ssize_t k = 0; k < node_cols; k++) {
        row[k] = ((w[0] * n0[k] + w[1] * n1[k]) + w[2] * n2[k]) + w[3] * n3[k];
    }
}

/* Frame positions along one axis of grid columns [gx0, gx0 + cols) from one row's nodes: a run of
 * phases per node interval, so the inner loop has no branch and vectorises. */
static void row_positions(const double *row, Py_ssize_t gx0, Py_ssize_t cols, Py_ssize_t spacing,
                          const double *table, double *positions) {
    Py_ssize_t kx = (gx0 + spacing) / spacing, phase = (gx0 + spacing) % spacing;
    for (Py_ssize_t c = 0; c < cols; kx++, phase = 0) {
        Py_ssize_t run = spacing - phase < cols - c ? spacing - phase : cols - c;
        const double a = row[kx - 1], b = row[kx], d = row[kx + 1], e = row[kx + 2];
        const double *w0 = table + phase, *w1 = w0 + spacing, *w2 = w1 + spacing, *w3 = w2 + spacing;
        double *out = positions + c;
        for (Py_ssize_t i = 0; i < run; i++) {
            out[i] = ((w0[i] * a + w1[i] * b) + w2[i] * d) + w3[i] * e;
        }
        c += run;
    }
}

/* True when position p lies on a frame axis of n pixels: in [-0.5, n - 0.5). */
static inline int inside(double p, Py_ssize_t n) { return p >= -0.5 && p < (double)n - 0.5; }

/* The two neighbours of position p (inside the axis) and the weight of the second. */
static inline void neighbours(double p, Py_ssize_t n, Py_ssize_t *first, Py_ssize_t *second, double *t) {
    double clipped = p < 0.0 ? 0.0 : (p >= (double)(n - 1) ? (double)(n - 1) : p);
    Py_ssize_t start = (Py_ssize_t)clipped; /* truncation is floor here: clipped >= 0 */
    if (start > n - 2) {
        start = n - 2;
    }
    if (start < 0) { /* a one-pixel axis */
        start = 0;
    }
    *first = start;
    *second = n > 1 ? start + 1 : start;
    *t = clipped - (double)start;
}

typedef struct {
    Py_buffer buffer;
    int held;
} Held;

static int get_buffer(PyObject *obj, Held *held, int writable, const char *format, Py_ssize_t items,
                      const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &held->buffer, flags) < 0) {
        return -1;
    }
    held->held = 1;
    Py_ssize_t itemsize = format[0] == 'd' ? (Py_ssize_t)sizeof(double) : (Py_ssize_t)sizeof(float);
    if (strcmp(held->buffer.format, format) != 0 || held->buffer.len != items * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s must be a contiguous %s array of %zd values.", name,
                     format[0] == 'd' ? "float64" : "float32", items);
        return -1;
    }
    return 0;
}

static void release(Held *held) {
    if (held->held) {
        PyBuffer_Release(&held->buffer);
        held->held = 0;
    }
}

/* Grid rows [gy0, gy0 + rows) need node rows up to (gy + spacing) / spacing + 2; columns likewise. */
static int check_nodes(Py_ssize_t node_rows, Py_ssize_t node_cols, Py_ssize_t spacing, Py_ssize_t gy0,
                       Py_ssize_t rows, Py_ssize_t gx0, Py_ssize_t cols) {
    if (spacing < 1 || spacing > MAX_SPACING || gy0 < 0 || gx0 < 0 || rows < 0 || cols < 0) {
        PyErr_SetString(PyExc_ValueError, "spacing, origin and size must be positive.");
        return -1;
    }
    if (gy0 >= MAX_EXTENT || gx0 >= MAX_EXTENT || rows >= MAX_EXTENT || cols >= MAX_EXTENT ||
        node_rows >= MAX_EXTENT || node_cols >= MAX_EXTENT) {
        PyErr_SetString(PyExc_ValueError, "the grid is too large.");
        return -1;
    }
    if (rows == 0 || cols == 0) {
        return 0;
    }
    if ((gy0 + rows - 1 + spacing) / spacing + 2 >= node_rows || (gx0 + cols - 1 + spacing) / spacing + 2 >= node_cols) {
        PyErr_SetString(PyExc_ValueError, "the nodes do not cover the requested grid pixels.");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(resample_doc,
"resample(window, window_y0, frame_ny, frame_nx, nodes_x, nodes_y, node_rows, node_cols, spacing,\n"
"         grid_y0, grid_x0, out, rows, cols) -> int\n\n"
"Fill ``out`` (float32, (rows, cols)) with the frame sampled at grid pixels [grid_y0, grid_y0 + rows)\n"
"x [grid_x0, grid_x0 + cols). ``window`` (float32, (window_rows, frame_nx)) holds frame rows from\n"
"``window_y0``; ``nodes_x``/``nodes_y`` (float64, (node_rows, node_cols)) the frame positions at the\n"
"nodes. Returns how many pixels needed frame rows outside the window (those are NaN).");

static PyObject *resample(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *window_obj, *nodes_x_obj, *nodes_y_obj, *out_obj;
    Py_ssize_t window_y0, frame_ny, frame_nx, node_rows, node_cols, spacing, grid_y0, grid_x0, rows, cols;
    if (!PyArg_ParseTuple(args, "OnnnOOnnnnnOnn", &window_obj, &window_y0, &frame_ny, &frame_nx, &nodes_x_obj,
                          &nodes_y_obj, &node_rows, &node_cols, &spacing, &grid_y0, &grid_x0, &out_obj, &rows,
                          &cols)) {
        return NULL;
    }
    if (frame_ny < 1 || frame_nx < 1 || node_rows < 0 || node_cols < 0 || window_y0 < 0 || frame_ny >= MAX_EXTENT ||
        frame_nx >= MAX_EXTENT || window_y0 >= MAX_EXTENT) {
        PyErr_SetString(PyExc_ValueError, "the frame and node shapes must be positive.");
        return NULL;
    }
    if (check_nodes(node_rows, node_cols, spacing, grid_y0, rows, grid_x0, cols) < 0) {
        return NULL;
    }
    Held window = {0}, nodes_x = {0}, nodes_y = {0}, out = {0};
    PyObject *result = NULL;
    if (PyObject_GetBuffer(window_obj, &window.buffer, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        goto done;
    }
    window.held = 1;
    if (strcmp(window.buffer.format, "f") != 0 || window.buffer.len % (frame_nx * (Py_ssize_t)sizeof(float)) != 0) {
        PyErr_SetString(PyExc_ValueError, "window must be contiguous float32 rows of frame_nx values.");
        goto done;
    }
    if (get_buffer(nodes_x_obj, &nodes_x, 0, "d", node_rows * node_cols, "nodes_x") < 0 ||
        get_buffer(nodes_y_obj, &nodes_y, 0, "d", node_rows * node_cols, "nodes_y") < 0 ||
        get_buffer(out_obj, &out, 1, "f", rows * cols, "out") < 0) {
        goto done;
    }
    Py_ssize_t window_rows = window.buffer.len / (frame_nx * (Py_ssize_t)sizeof(float));
    double *scratch = malloc(((size_t)spacing * 4 + 2 * (size_t)node_cols + 2 * (size_t)cols) * sizeof(double));
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    double *table = scratch, *row_x = scratch + 4 * spacing, *row_y = row_x + node_cols;
    double *xs = row_y + node_cols, *ys = xs + cols;
    const float *pixels = window.buffer.buf;
    const double *grid_x = nodes_x.buffer.buf, *grid_y = nodes_y.buffer.buf;
    float *target = out.buffer.buf;
    Py_ssize_t missed = 0;
    /* Positions below these have both neighbours on the frame without clipping. */
    const double interior_x = (double)(frame_nx - 1), interior_y = (double)(frame_ny - 1);
    Py_BEGIN_ALLOW_THREADS
    phase_weights(spacing, table);
    for (Py_ssize_t r = 0; r < rows; r++) {
        row_nodes(grid_x, node_cols, spacing, grid_y0 + r, table, row_x);
        row_nodes(grid_y, node_cols, spacing, grid_y0 + r, table, row_y);
        row_positions(row_x, grid_x0, cols, spacing, table, xs);
        row_positions(row_y, grid_x0, cols, spacing, table, ys);
        float *line = target + r * cols;
        for (Py_ssize_t c = 0; c < cols; c++) {
            double sx = xs[c], sy = ys[c];
            Py_ssize_t x0, x1, y0, y1;
            double tx, ty;
            if (sx >= 0.0 && sx < interior_x && sy >= 0.0 && sy < interior_y) {
                /* Away from the edges (nearly every pixel): no clipping, floor is truncation. */
                x0 = (Py_ssize_t)sx;
                y0 = (Py_ssize_t)sy;
                x1 = x0 + 1;
                y1 = y0 + 1;
                tx = sx - (double)x0;
                ty = sy - (double)y0;
            } else if (inside(sx, frame_nx) && inside(sy, frame_ny)) {
                neighbours(sx, frame_nx, &x0, &x1, &tx);
                neighbours(sy, frame_ny, &y0, &y1, &ty);
            } else {
                line[c] = NAN;
                continue;
            }
            y0 -= window_y0;
            y1 -= window_y0;
            if (y0 < 0 || y1 >= window_rows) {
                line[c] = NAN;
                missed++;
                continue;
            }
            const float *upper = pixels + y0 * frame_nx, *lower = pixels + y1 * frame_nx;
            double wx0 = 1.0 - tx, wy0 = 1.0 - ty;
            double value = (((double)upper[x0] * wy0) * wx0 + ((double)upper[x1] * wy0) * tx) +
                           ((double)lower[x0] * ty) * wx0;
            value = value + ((double)lower[x1] * ty) * tx;
            line[c] = (float)value;
        }
    }
    Py_END_ALLOW_THREADS
    free(scratch);
    result = PyLong_FromSsize_t(missed);
done:
    release(&window);
    release(&nodes_x);
    release(&nodes_y);
    release(&out);
    return result;
}

/* Frame positions of a node interval's pixels stay within the four nodes' range widened by an
 * eighth of it: Catmull-Rom's negative weights add up to at least -t(1 - t)/2 >= -1/8. */
#define OVERSHOOT 0.125
/* Kept between those bounds and the frame's edges, so rounding cannot misclassify an interval. */
#define CLASSIFY_MARGIN 1e-6

enum { OUTSIDE = 0, INSIDE = 1, MIXED = 2 };

/* Bounds of the positions between node kx and kx + 1 of a row's nodes (NaN if any node is NaN). */
static void interval_bounds(const double *row, Py_ssize_t kx, double *low, double *high) {
    const double p[4] = {row[kx - 1], row[kx], row[kx + 1], row[kx + 2]};
    if (isnan(p[0]) || isnan(p[1]) || isnan(p[2]) || isnan(p[3])) {
        *low = *high = NAN;
        return;
    }
    double lo = p[0], hi = p[0];
    for (int k = 1; k < 4; k++) {
        lo = p[k] < lo ? p[k] : lo;
        hi = p[k] > hi ? p[k] : hi;
    }
    double spread = hi - lo;
    *low = lo - spread * OVERSHOOT;
    *high = hi + spread * OVERSHOOT;
}

/* Whether positions within [low, high] are all on an axis of n pixels, all off it, or either. */
static int classify(double low, double high, Py_ssize_t n) {
    if (low > -0.5 + CLASSIFY_MARGIN && high < (double)n - 0.5 - CLASSIFY_MARGIN) {
        return INSIDE;
    }
    if (high < -0.5 - CLASSIFY_MARGIN || low > (double)n - 0.5 + CLASSIFY_MARGIN) {
        return OUTSIDE;
    }
    return MIXED; /* NaN bounds too */
}

PyDoc_STRVAR(coverage_doc,
"coverage(nodes_x, nodes_y, node_rows, node_cols, spacing, grid_y0, grid_x0, rows, cols, frame_ny,\n"
"         frame_nx, first_col, last_col, min_row, max_row)\n\n"
"For each grid row [grid_y0, grid_y0 + rows) over columns [grid_x0, grid_x0 + cols), write to\n"
"``first_col``/``last_col`` (int64, (rows,)) the first and last column (relative to grid_x0) whose\n"
"frame position lies on the frame, or -1 for both when none does, and to ``min_row``/``max_row``\n"
"(float64, (rows,)) bounds of the frame rows of those positions (NaN when none). Node intervals\n"
"whose bounds lie wholly on or off the frame are decided from their nodes; only those crossing an\n"
"edge are evaluated pixel by pixel.");
static PyObject *coverage(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *nodes_x_obj, *nodes_y_obj, *first_obj, *last_obj, *low_obj, *high_obj;
    Py_ssize_t node_rows, node_cols, spacing, grid_y0, grid_x0, rows, cols, frame_ny, frame_nx;
    if (!PyArg_ParseTuple(args, "OOnnnnnnnnnOOOO", &nodes_x_obj, &nodes_y_obj, &node_rows, &node_cols, &spacing,
                          &grid_y0, &grid_x0, &rows, &cols, &frame_ny, &frame_nx, &first_obj, &last_obj, &low_obj,
                          &high_obj)) {
        return NULL;
    }
    if (frame_ny < 1 || frame_nx < 1 || node_rows < 0 || node_cols < 0 || frame_ny >= MAX_EXTENT ||
        frame_nx >= MAX_EXTENT) {
        PyErr_SetString(PyExc_ValueError, "the frame and node shapes must be positive.");
        return NULL;
    }
    if (check_nodes(node_rows, node_cols, spacing, grid_y0, rows, grid_x0, cols) < 0) {
        return NULL;
    }
    Held nodes_x = {0}, nodes_y = {0}, first = {0}, last = {0}, low_row = {0}, high_row = {0};
    PyObject *result = NULL;
    if (get_buffer(nodes_x_obj, &nodes_x, 0, "d", node_rows * node_cols, "nodes_x") < 0 ||
        get_buffer(nodes_y_obj, &nodes_y, 0, "d", node_rows * node_cols, "nodes_y") < 0 ||
        get_buffer(low_obj, &low_row, 1, "d", rows, "min_row") < 0 ||
        get_buffer(high_obj, &high_row, 1, "d", rows, "max_row") < 0) {
        goto done;
    }
    if (PyObject_GetBuffer(first_obj, &first.buffer, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        goto done;
    }
    first.held = 1;
    if (PyObject_GetBuffer(last_obj, &last.buffer, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        goto done;
    }
    last.held = 1;
    if (first.buffer.itemsize != 8 || last.buffer.itemsize != 8 || strchr("lq", first.buffer.format[0]) == NULL ||
        strchr("lq", last.buffer.format[0]) == NULL || first.buffer.len != rows * 8 || last.buffer.len != rows * 8) {
        PyErr_SetString(PyExc_ValueError, "first_col and last_col must be contiguous int64 arrays of one value per row.");
        goto done;
    }
    double *scratch = malloc(((size_t)spacing * 4 + 2 * (size_t)node_cols) * sizeof(double));
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    double *table = scratch, *row_x = scratch + 4 * spacing, *row_y = row_x + node_cols;
    const double *grid_x = nodes_x.buffer.buf, *grid_y = nodes_y.buffer.buf;
    int64_t *first_col = first.buffer.buf, *last_col = last.buffer.buf;
    double *min_row = low_row.buffer.buf, *max_row = high_row.buffer.buf;
    Py_BEGIN_ALLOW_THREADS
    phase_weights(spacing, table);
    Py_ssize_t first_kx = (grid_x0 + spacing) / spacing, last_kx = (grid_x0 + cols - 1 + spacing) / spacing;
    for (Py_ssize_t r = 0; r < rows; r++) {
        row_nodes(grid_x, node_cols, spacing, grid_y0 + r, table, row_x);
        row_nodes(grid_y, node_cols, spacing, grid_y0 + r, table, row_y);
        int64_t low = -1, high = -1;
        double top = INFINITY, bottom = -INFINITY;
        for (Py_ssize_t kx = first_kx; cols > 0 && kx <= last_kx; kx++) {
            Py_ssize_t c0 = ((kx - 1) * spacing > grid_x0 ? (kx - 1) * spacing : grid_x0) - grid_x0;
            Py_ssize_t c1 = (kx * spacing < grid_x0 + cols ? kx * spacing : grid_x0 + cols) - grid_x0;
            double x_low, x_high, y_low, y_high;
            interval_bounds(row_x, kx, &x_low, &x_high);
            interval_bounds(row_y, kx, &y_low, &y_high);
            int along_x = classify(x_low, x_high, frame_nx), along_y = classify(y_low, y_high, frame_ny);
            if (along_x == OUTSIDE || along_y == OUTSIDE) {
                continue;
            }
            Py_ssize_t in_first = c0, in_last = c1 - 1;
            if (along_x != INSIDE || along_y != INSIDE) { /* crosses an edge: look at every pixel */
                in_first = -1;
                for (Py_ssize_t c = c0; c < c1; c++) {
                    const double *w = table + (grid_x0 + c + spacing) % spacing;
                    const Py_ssize_t step = spacing;
                    double sx = ((w[0] * row_x[kx - 1] + w[step] * row_x[kx]) + w[2 * step] * row_x[kx + 1]) +
                                w[3 * step] * row_x[kx + 2];
                    double sy = ((w[0] * row_y[kx - 1] + w[step] * row_y[kx]) + w[2 * step] * row_y[kx + 1]) +
                                w[3 * step] * row_y[kx + 2];
                    if (inside(sx, frame_nx) && inside(sy, frame_ny)) {
                        in_first = in_first < 0 ? c : in_first;
                        in_last = c;
                    }
                }
                if (in_first < 0) {
                    continue;
                }
            }
            low = low < 0 ? in_first : low;
            high = in_last;
            top = y_low < top ? y_low : top;
            bottom = y_high > bottom ? y_high : bottom;
        }
        first_col[r] = low;
        last_col[r] = high;
        min_row[r] = low < 0 ? NAN : top;
        max_row[r] = low < 0 ? NAN : bottom;
    }
    Py_END_ALLOW_THREADS
    free(scratch);
    Py_INCREF(Py_None);
    result = Py_None;
done:
    release(&nodes_x);
    release(&nodes_y);
    release(&first);
    release(&last);
    release(&low_row);
    release(&high_row);
    return result;
}

static PyMethodDef methods[] = {
    {"resample", resample, METH_VARARGS, resample_doc},
    {"coverage", coverage, METH_VARARGS, coverage_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_resample", "Bilinear resampling of a frame onto another pixel grid.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__resample(void) { return PyModule_Create(&module); }

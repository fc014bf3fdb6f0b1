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
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 256 /* pixels per block: 30 inputs x 256 x 4 bytes stay in L1 */

static void run_block(float *work, Py_ssize_t count, Py_ssize_t width, const int32_t *network,
                      Py_ssize_t comparators) {
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
    (void)count;
}

PyDoc_STRVAR(network_median_doc,
"network_median(planes, network, out)\n\n"
"Median over axis 0 of ``planes`` (float32, (count, pixels), rows contiguous) into ``out`` (float32,\n"
"(pixels,), contiguous) by the selection ``network`` (int32, (comparators, 4)). The mean of the two\n"
"middle values is taken in float32 for an even count. Pixels with any NaN sample come out NaN.");

static PyObject *network_median(PyObject *self, PyObject *args) {
    PyObject *planes_obj, *network_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OOO", &planes_obj, &network_obj, &out_obj)) {
        return NULL;
    }
    Py_buffer planes, network, out;
    PyObject *result = NULL;
    if (PyObject_GetBuffer(planes_obj, &planes, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(network_obj, &network, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        goto release_planes;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        goto release_network;
    }
    if (strcmp(planes.format, "f") != 0 || planes.ndim != 2 || planes.strides[1] != (Py_ssize_t)sizeof(float) ||
        planes.strides[0] % (Py_ssize_t)sizeof(float) != 0 || planes.shape[0] < 1) {
        PyErr_SetString(PyExc_ValueError, "planes must be float32 (count, pixels) with contiguous rows.");
        goto release_out;
    }
    Py_ssize_t count = planes.shape[0], pixels = planes.shape[1];
    if (strcmp(out.format, "f") != 0 || out.len != pixels * (Py_ssize_t)sizeof(float)) {
        PyErr_SetString(PyExc_ValueError, "out must be float32 with one value per pixel.");
        goto release_out;
    }
    if (strcmp(network.format, "i") != 0 || network.len % (4 * (Py_ssize_t)sizeof(int32_t)) != 0) {
        PyErr_SetString(PyExc_ValueError, "network must be int32 rows of 4.");
        goto release_out;
    }
    Py_ssize_t comparators = network.len / (4 * (Py_ssize_t)sizeof(int32_t));
    const int32_t *wires = network.buf;
    for (Py_ssize_t c = 0; c < comparators; c++) {
        if (wires[4 * c] < 0 || wires[4 * c] >= count || wires[4 * c + 1] < 0 || wires[4 * c + 1] >= count ||
            wires[4 * c] == wires[4 * c + 1]) {
            PyErr_SetString(PyExc_ValueError, "network names a wire outside the planes.");
            goto release_out;
        }
    }
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
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t start = 0; start < pixels; start += BLOCK) {
        Py_ssize_t width = pixels - start < BLOCK ? pixels - start : BLOCK;
        memset(has_nan, 0, BLOCK * sizeof(int32_t));
        for (Py_ssize_t f = 0; f < count; f++) {
            const float *from = source + f * stride + start;
            float *to = work + f * BLOCK;
            for (Py_ssize_t i = 0; i < width; i++) {
                to[i] = from[i];
                has_nan[i] |= from[i] != from[i];
            }
        }
        run_block(work, count, width, wires, comparators);
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

static PyMethodDef methods[] = {
    {"network_median", network_median, METH_VARARGS, network_median_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_network", "A median selection network over stacks of float32 planes.", -1, methods,
};

PyMODINIT_FUNC PyInit__network(void) { return PyModule_Create(&module); }

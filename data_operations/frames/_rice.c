/*
 * Rice-decode and unquantise runs of FITS image tiles in one call, without the GIL.
 *
 * Archive frames are fpack-style RICE_1 tiles of quantised float32 pixels. Decoding them one tile
 * per Python call costs more in call overhead than in decoding, and holds the GIL between calls;
 * here a whole band of tiles is decoded and turned back into float32 in C, so decoder threads run
 * truly in parallel and each pixel is touched once.
 *
 * The bit stream follows the FITS standard (4.0, section 10.4.1: Rice compression) for 4-byte
 * integers: the first pixel raw in 4 big-endian bytes, then blocks of BLOCKSIZE differences, each
 * block led by a 5-bit code. Code 0: every difference is zero; code 26: each difference is 32 raw
 * bits; otherwise fs = code - 1 and each difference is a unary high part followed by fs low bits.
 * Differences are folded to unsigned (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...).
 *
 * Unquantising follows the tiled image convention (section 10.2 and its random-number appendix):
 * value = (q - r + 0.5) * ZSCALE + ZZERO in double precision for the dithered methods, where r
 * walks the 10 000-entry dither sequence from the tile's start; q * ZSCALE + ZZERO without dither;
 * ZBLANK becomes NaN, and under SUBTRACTIVE_DITHER_2 the reserved zero code becomes 0.0.
 * The module is built with -ffp-contract=off so every product and sum rounds exactly as numpy's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FS_BITS 5
#define FS_MAX 25 /* code 26 marks a block of raw 32-bit differences */
#define RANDOM_COUNT 10000
#define DITHER_START_SPAN 500
#define ZERO_VALUE (-2147483646)

enum { NO_DITHER = -1, DITHER_1 = 1, DITHER_2 = 2 };

/*
 * The bit reader keeps `count` unread bits at the top of the 64-bit `bits` (zeros below them) and
 * refills whole bytes from `next` while at most 56 are loaded, so up to 64. Past `end` it reads
 * zeros and keeps counting, so a truncated tile is caught by comparing the bits consumed with the
 * tile's length.
 */
#define REFILL()                                                                                   \
    do {                                                                                           \
        if (count > 56) {                                                                          \
            break; /* full enough: no whole byte fits */                                           \
        }                                                                                          \
        if (next + 8 <= end) {                                                                     \
            uint64_t word;                                                                         \
            memcpy(&word, next, 8);                                                                \
            word = __builtin_bswap64(word);                                                        \
            int taken = (63 - count) >> 3;                                                         \
            int total = count + 8 * taken;                                                         \
            bits |= (word >> count) & (~UINT64_C(0) << (64 - total));                              \
            next += taken;                                                                         \
            count = total;                                                                         \
        } else {                                                                                   \
            while (count <= 56) {                                                                  \
                uint64_t byte = next < end ? *next : 0;                                            \
                bits |= byte << (56 - count);                                                      \
                next++;                                                                            \
                count += 8;                                                                        \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* x << n for n in 0..64: with all 64 bits loaded, a run of zeros can use every one of them, and a
 * shift by the full width is undefined in C. */
static inline uint64_t shift_left(uint64_t value, int n) { return n < 64 ? value << n : 0; }

/* 0, 1, 2, 3, ... -> 0, -1, 1, -2, ... without a branch (the sign is a coin flip on noisy sky). */
#define UNFOLD(folded) (((folded) >> 1) ^ (0u - ((folded) & 1u)))

/* Decode `size` integers of one tile; 0 on success, -1 if the stream is malformed or too short. */
static int rice_decode(const uint8_t *data, Py_ssize_t length, int blocksize, int32_t *out, Py_ssize_t size) {
    if (length < 4) {
        return -1;
    }
    uint32_t last = ((uint32_t)data[0] << 24) | ((uint32_t)data[1] << 16) | ((uint32_t)data[2] << 8) | data[3];
    const uint8_t *next = data + 4, *end = data + length;
    uint64_t bits = 0;
    int count = 0;
    for (Py_ssize_t start = 0; start < size; start += blocksize) {
        Py_ssize_t stop = start + blocksize < size ? start + blocksize : size;
        REFILL();
        int fs = (int)(bits >> (64 - FS_BITS)) - 1;
        bits <<= FS_BITS;
        count -= FS_BITS;
        if (fs < 0) {
            for (Py_ssize_t i = start; i < stop; i++) {
                out[i] = (int32_t)last;
            }
        } else if (fs == FS_MAX) {
            for (Py_ssize_t i = start; i < stop; i++) {
                if (count < 32) {
                    REFILL();
                }
                uint32_t folded = (uint32_t)(bits >> 32);
                bits <<= 32;
                count -= 32;
                last += UNFOLD(folded);
                out[i] = (int32_t)last;
            }
        } else if (fs < FS_MAX) {
            for (Py_ssize_t i = start; i < stop; i++) {
                if (count < 32) {
                    REFILL();
                }
                uint32_t high = 0;
                while (bits == 0) { /* every unread bit is zero: a long unary run */
                    high += (uint32_t)count;
                    count = 0;
                    REFILL();
                    if (next > end + 8) {
                        return -1;
                    }
                }
                int used = __builtin_clzll(bits) + 1; /* the zeros and the terminating one */
                high += (uint32_t)(used - 1);
                if (used + fs > count) { /* the low bits are not all loaded yet */
                    bits = shift_left(bits, used);
                    count -= used;
                    REFILL();
                    used = 0;
                }
                /* the fs low bits follow the terminating one; ">> 1" keeps fs == 0 defined */
                uint32_t low = (uint32_t)((shift_left(bits, used) >> (63 - fs)) >> 1);
                bits = shift_left(bits, used + fs);
                count -= used + fs;
                uint32_t folded = (high << fs) | low;
                last += UNFOLD(folded);
                out[i] = (int32_t)last;
            }
        } else {
            return -1; /* codes 27..31 are not defined for 4-byte pixels */
        }
        if (next > end + 8) {
            return -1;
        }
    }
    Py_ssize_t consumed_bits = 8 * (next - data) - count;
    return consumed_bits <= 8 * length ? 0 : -1;
}

/* float32 pixels of one tile from its integers; `row_stride` in floats, only columns < width kept. */
static void unquantise(const int32_t *codes, Py_ssize_t size, Py_ssize_t nx, Py_ssize_t width, float *out,
                       Py_ssize_t row_stride, double scale, double zero, int has_blank, int64_t blank,
                       int dither_method, long tile, long dither_seed, const double *sequence) {
    long entry = (tile + dither_seed - 1) % RANDOM_COUNT;
    if (entry < 0) {
        entry += RANDOM_COUNT;
    }
    Py_ssize_t position = (Py_ssize_t)(sequence[entry] * DITHER_START_SPAN);
    for (Py_ssize_t row_start = 0; row_start < size; row_start += nx) {
        float *target = out + (row_start / nx) * row_stride;
        const int32_t *row = codes + row_start;
        Py_ssize_t done = 0;
        while (done < nx) { /* runs that do not cross the end of the dither sequence */
            Py_ssize_t run = nx - done;
            if (dither_method != NO_DITHER && run > RANDOM_COUNT - position) {
                run = RANDOM_COUNT - position;
            }
            Py_ssize_t kept = width - done < run ? width - done : run;
            if (dither_method == NO_DITHER) {
                for (Py_ssize_t i = 0; i < kept; i++) {
                    target[done + i] = (float)((double)row[done + i] * scale + zero);
                }
            } else {
                const double *r = sequence + position;
                for (Py_ssize_t i = 0; i < kept; i++) {
                    target[done + i] = (float)((((double)row[done + i] - r[i]) + 0.5) * scale + zero);
                }
                position += run;
                if (position == RANDOM_COUNT) {
                    entry = (entry + 1) % RANDOM_COUNT;
                    position = (Py_ssize_t)(sequence[entry] * DITHER_START_SPAN);
                }
            }
            if (dither_method == DITHER_2 || has_blank) {
                for (Py_ssize_t i = 0; i < kept; i++) {
                    int32_t code = row[done + i];
                    if (dither_method == DITHER_2 && code == ZERO_VALUE) {
                        target[done + i] = 0.0f;
                    }
                    if (has_blank && (int64_t)code == blank) {
                        target[done + i] = NAN;
                    }
                }
            }
            done += run;
        }
    }
}

static int get_array(PyObject *object, Py_buffer *view, const char *format, Py_ssize_t count, const char *name) {
    if (PyObject_GetBuffer(object, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        return -1;
    }
    if (strcmp(view->format, format) != 0 || view->len != count * view->itemsize) {
        PyErr_Format(PyExc_ValueError, "%s must be %zd items of format '%s'.", name, count, format);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(decode_tiles_doc,
"decode_tiles(data, offsets, lengths, sizes, blocksize, scale, zero, blank, dither_method, first_tile,\n"
"             dither_seed, sequence, nx, out)\n\n"
"Rice-decode and unquantise consecutive tiles into ``out`` (float32, 2-D, rows contiguous).\n"
"Tile i's bytes are data[offsets[i]:offsets[i] + lengths[i]] and it holds sizes[i] pixels (whole rows\n"
"of nx). Tiles of length 0 are skipped (stored in another column). Arrays are int64 (offsets, lengths,\n"
"sizes, blank or None) and float64 (scale, zero, the 10 000-entry dither sequence).");

static PyObject *decode_tiles(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *data_obj, *offsets_obj, *lengths_obj, *sizes_obj, *scale_obj, *zero_obj, *blank_obj, *sequence_obj,
        *out_obj;
    int blocksize, dither_method;
    long first_tile, dither_seed;
    Py_ssize_t nx;
    if (!PyArg_ParseTuple(args, "OOOOiOOOillOnO", &data_obj, &offsets_obj, &lengths_obj, &sizes_obj, &blocksize,
                          &scale_obj, &zero_obj, &blank_obj, &dither_method, &first_tile, &dither_seed,
                          &sequence_obj, &nx, &out_obj)) {
        return NULL;
    }
    if (blocksize < 1 || nx < 1) {
        PyErr_SetString(PyExc_ValueError, "blocksize and nx must be positive.");
        return NULL;
    }
    Py_buffer data, offsets, lengths, sizes, scale, zero, blank, sequence, out;
    int have_blank = blank_obj != Py_None;
    PyObject *result = NULL;
    if (PyObject_GetBuffer(data_obj, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(sizes_obj, &sizes, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        goto release_data;
    }
    Py_ssize_t count = sizes.len / (Py_ssize_t)sizeof(int64_t);
    if (strcmp(sizes.format, "l") != 0 && strcmp(sizes.format, "q") != 0) {
        PyErr_SetString(PyExc_ValueError, "sizes must be int64.");
        goto release_sizes;
    }
    const char *int64_format = sizes.format;
    if (get_array(offsets_obj, &offsets, int64_format, count, "offsets") < 0) {
        goto release_sizes;
    }
    if (get_array(lengths_obj, &lengths, int64_format, count, "lengths") < 0) {
        goto release_offsets;
    }
    if (get_array(scale_obj, &scale, "d", count, "scale") < 0) {
        goto release_lengths;
    }
    if (get_array(zero_obj, &zero, "d", count, "zero") < 0) {
        goto release_scale;
    }
    if (have_blank && get_array(blank_obj, &blank, int64_format, count, "blank") < 0) {
        goto release_zero;
    }
    if (get_array(sequence_obj, &sequence, "d", RANDOM_COUNT, "sequence") < 0) {
        goto release_blank;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        goto release_sequence;
    }

    const int64_t *offset = offsets.buf, *length = lengths.buf, *size = sizes.buf;
    Py_ssize_t total = 0, largest = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (size[i] <= 0 || size[i] % nx != 0 || offset[i] < 0 || length[i] < 0 || offset[i] + length[i] > data.len) {
            PyErr_SetString(PyExc_ValueError, "a tile lies outside the data or is not whole rows.");
            goto release_out;
        }
        total += size[i];
        largest = size[i] > largest ? size[i] : largest;
    }
    if (strcmp(out.format, "f") != 0 || out.ndim != 2 || out.strides[1] != (Py_ssize_t)sizeof(float) ||
        out.shape[0] != total / nx || out.shape[1] > nx || out.strides[0] % (Py_ssize_t)sizeof(float) != 0) {
        PyErr_SetString(PyExc_ValueError, "out must be float32 (rows of the tiles, <= nx columns), rows contiguous.");
        goto release_out;
    }
    int32_t *codes = malloc((size_t)(largest > 0 ? largest : 1) * sizeof(int32_t));
    if (codes == NULL) {
        PyErr_NoMemory();
        goto release_out;
    }
    Py_ssize_t failed = -1, row = 0, row_stride = out.strides[0] / (Py_ssize_t)sizeof(float);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        if (length[i] > 0) {
            if (rice_decode((const uint8_t *)data.buf + offset[i], length[i], blocksize, codes, size[i]) < 0) {
                failed = i;
                break;
            }
            unquantise(codes, size[i], nx, out.shape[1], (float *)out.buf + row * row_stride, row_stride,
                       ((const double *)scale.buf)[i], ((const double *)zero.buf)[i], have_blank,
                       have_blank ? ((const int64_t *)blank.buf)[i] : 0, dither_method, first_tile + (long)i,
                       dither_seed, (const double *)sequence.buf);
        }
        row += size[i] / nx;
    }
    Py_END_ALLOW_THREADS
    free(codes);
    if (failed >= 0) {
        PyErr_Format(PyExc_ValueError, "tile %ld holds malformed Rice-compressed data.", first_tile + (long)failed);
        goto release_out;
    }
    result = Py_NewRef(Py_None);

release_out:
    PyBuffer_Release(&out);
release_sequence:
    PyBuffer_Release(&sequence);
release_blank:
    if (have_blank) {
        PyBuffer_Release(&blank);
    }
release_zero:
    PyBuffer_Release(&zero);
release_scale:
    PyBuffer_Release(&scale);
release_lengths:
    PyBuffer_Release(&lengths);
release_offsets:
    PyBuffer_Release(&offsets);
release_sizes:
    PyBuffer_Release(&sizes);
release_data:
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"decode_tiles", decode_tiles, METH_VARARGS, decode_tiles_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rice", "Rice decoding and unquantising of FITS image tiles.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__rice(void) { return PyModule_Create(&module); }

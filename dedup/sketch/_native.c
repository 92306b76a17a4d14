/* Shingle hashing and affine32 MinHash in one pass over a unit string; candidate screening;
 * punctuation removal and character folding; band lookups.
 *
 * Same arithmetic as dedup/shingle.py and dedup/signature.py (numpy), which stay as the
 * fallback and as the reference the tests compare against; this only removes the numpy
 * temporaries and Python overhead from the per-article hot path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t BASE = 0x9E3779B97F4A7C15ULL;

static inline uint64_t mix64(uint64_t h) {
    h ^= h >> 30; h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 27; h *= 0x94D049BB133111EBULL;
    return h ^ (h >> 31);
}

static inline uint32_t fmix32(uint32_t h) {
    h ^= h >> 16; h *= 0x85EBCA6BU;
    h ^= h >> 13; h *= 0xC2B2AE35U;
    return h ^ (h >> 16);
}

/* LSD radix sort, four 8-bit passes: a few times faster than qsort for a few hundred keys. */
static int radix_sort(uint32_t *keys, Py_ssize_t n) {
    uint32_t *tmp = PyMem_Malloc(sizeof(uint32_t) * (n ? n : 1));
    if (!tmp) return -1;
    uint32_t *src = keys, *dst = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        Py_ssize_t counts[257];
        memset(counts, 0, sizeof(counts));
        for (Py_ssize_t i = 0; i < n; i++) counts[((src[i] >> shift) & 0xFF) + 1]++;
        for (int b = 0; b < 256; b++) counts[b + 1] += counts[b];
        for (Py_ssize_t i = 0; i < n; i++) dst[counts[(src[i] >> shift) & 0xFF]++] = src[i];
        uint32_t *swap = src; src = dst; dst = swap;
    }
    PyMem_Free(tmp);
    return 0;
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void affine_min(const uint32_t *mixed, Py_ssize_t n, const uint32_t *a, const uint32_t *b,
                       uint32_t *out, Py_ssize_t perms) {
    for (Py_ssize_t p = 0; p < perms; p++) out[p] = UINT32_MAX;
    for (Py_ssize_t j = 0; j < n; j++) {
        uint32_t h = mixed[j];
        for (Py_ssize_t p = 0; p < perms; p++) {
            uint32_t v = a[p] * h + b[p];
            out[p] = v < out[p] ? v : out[p];
        }
    }
}

static inline int is_cjk(Py_UCS4 c) {
    return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x20000 && c <= 0x3134F);
}

/* Units of a normalized text: a CJK character is one unit, a run of other word characters (a word
 * or a number) is one unit in the private-use plane named by FNV-1a of its code points, spaces
 * separate. Returns the number of units; *words counts the word units. */
static Py_ssize_t to_units(int kind, const void *data, Py_ssize_t len, uint32_t *units, Py_ssize_t *words) {
    Py_ssize_t count = 0;
    *words = 0;
    for (Py_ssize_t i = 0; i < len;) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (is_cjk(c)) { units[count++] = c; i++; continue; }
        if (!Py_UNICODE_ISALNUM(c)) { i++; continue; }
        uint32_t h = 2166136261U;
        while (i < len) {
            c = PyUnicode_READ(kind, data, i);
            if (is_cjk(c) || !Py_UNICODE_ISALNUM(c)) break;
            h = (h ^ (uint32_t)c) * 16777619U;
            i++;
        }
        units[count++] = 0xF0000U + h % 0xFFFEU;
        (*words)++;
    }
    return count;
}

/* shingles(text: str, ngram: int, word_ngram: int) -> bytes of sorted unique uint32 shingle hashes */
static PyObject *shingles(PyObject *self, PyObject *args) {
    PyObject *text;
    Py_ssize_t ngram, word_ngram, words;
    if (!PyArg_ParseTuple(args, "Unn", &text, &ngram, &word_ngram)) return NULL;
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    if (len == 0) return PyBytes_FromStringAndSize(NULL, 0);
    uint32_t *units = PyMem_Malloc(sizeof(uint32_t) * len);
    if (!units) return PyErr_NoMemory();
    Py_ssize_t nunits = to_units(PyUnicode_KIND(text), PyUnicode_DATA(text), len, units, &words);
    if (nunits == 0) { PyMem_Free(units); return PyBytes_FromStringAndSize(NULL, 0); }
    Py_ssize_t n = words * 2 > nunits ? word_ngram : ngram;
    if (n > nunits) n = nunits;
    if (n < 1) n = 1;
    Py_ssize_t count = nunits - n + 1;
    uint32_t *hashes = PyMem_Malloc(sizeof(uint32_t) * count);
    if (!hashes) { PyMem_Free(units); return PyErr_NoMemory(); }
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t h = (uint64_t)units[i];
        for (Py_ssize_t k = 1; k < n; k++) h = h * BASE + (uint64_t)units[i + k];
        hashes[i] = (uint32_t)(mix64(h) >> 32);
    }
    PyMem_Free(units);
    if (radix_sort(hashes, count) < 0) { PyMem_Free(hashes); return PyErr_NoMemory(); }
    Py_ssize_t unique = 0;
    for (Py_ssize_t i = 0; i < count; i++)
        if (unique == 0 || hashes[i] != hashes[unique - 1]) hashes[unique++] = hashes[i];
    PyObject *result = PyBytes_FromStringAndSize((const char *)hashes, sizeof(uint32_t) * unique);
    PyMem_Free(hashes);
    return result;
}

/* minhash(shingles: bytes, a: bytes, b: bytes) -> bytes of uint32 signature values */
static PyObject *minhash(PyObject *self, PyObject *args) {
    Py_buffer sh, a, b;
    if (!PyArg_ParseTuple(args, "y*y*y*", &sh, &a, &b)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = sh.len / 4, perms = a.len / 4;
    uint32_t *mixed = NULL, *out = NULL;
    if (a.len != b.len || n == 0) {
        PyErr_SetString(PyExc_ValueError, "need a non-empty shingle set and equal-length permutation arrays");
        goto done;
    }
    mixed = PyMem_Malloc(sizeof(uint32_t) * n);
    out = PyMem_Malloc(sizeof(uint32_t) * perms);
    if (!mixed || !out) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t j = 0; j < n; j++) mixed[j] = fmix32(((const uint32_t *)sh.buf)[j]);
    affine_min(mixed, n, (const uint32_t *)a.buf, (const uint32_t *)b.buf, out, perms);
    result = PyBytes_FromStringAndSize((const char *)out, sizeof(uint32_t) * perms);
done:
    PyMem_Free(mixed);
    PyMem_Free(out);
    PyBuffer_Release(&sh);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    return result;
}

/* Letters that keep a space between words: what dedup/normalize.py calls alphabetic (its regex). */
static inline int alphabetic(Py_UCS4 c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= 0xC0 && c <= 0x24F) ||
           (c >= 0x370 && c <= 0x52F) || (c >= 0xFF21 && c <= 0xFF3A) || (c >= 0xFF41 && c <= 0xFF5A);
}

/* CJK Unified Ideographs: alphanumeric, neither decimal nor alphabetic nor a spaced letter, so a run of them
 * needs none of the checks below (every code point of the block is assigned since Unicode 14). */
#define CJK_IDEOGRAPH(c) ((c) >= 0x4E00 && (c) <= 0x9FFF)

static inline int spaced_letter(Py_UCS4 c) { return c < 0x2E80 && Py_UNICODE_ISALPHA(c); }

/* drop_punctuation(text: str) -> str
 *
 * Same result as dedup/normalize.py's regex path: the runs of alphanumeric characters (what `[^\W_]+`
 * matches), joined with one space where two letters of an alphabetic script meet, when the text has
 * any such letter at all; otherwise joined with nothing. Between two decimal digits the gap decides:
 * spaces only join, a lone decimal point (with spaces around it) stays '.', anything else becomes '/'. */
static PyObject *drop_punctuation(PyObject *self, PyObject *args) {
    PyObject *text;
    if (!PyArg_ParseTuple(args, "U", &text)) return NULL;
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    int spaced = 0;
    for (Py_ssize_t i = 0; i < len && !spaced; i++) spaced = alphabetic(PyUnicode_READ(kind, data, i));
    Py_UCS4 *out = PyMem_Malloc(sizeof(Py_UCS4) * (len ? len : 1));
    if (!out) return PyErr_NoMemory();
    Py_ssize_t n = 0;
    Py_UCS4 last = 0;  /* last character of the previous run */
    int in_run = 0;
    Py_ssize_t marks = 0;  /* non-space characters in the gap since the previous run */
    Py_UCS4 mark = 0;      /* the first of them */
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (!CJK_IDEOGRAPH(c)) {  /* an ideograph (most of a Chinese text) is a word character with no joint before it */
            if (!Py_UNICODE_ISALNUM(c)) {
                if (!Py_UNICODE_ISSPACE(c)) { if (marks++ == 0) mark = c; }
                in_run = 0;
                continue;
            }
            if (!in_run && n > 0) {
                if (Py_UNICODE_ISDECIMAL(last) && Py_UNICODE_ISDECIMAL(c)) {
                    if (marks == 1 && (mark == '.' || mark == 0xFF0E)) out[n++] = '.';
                    else if (marks > 0) out[n++] = '/';
                } else if (spaced && spaced_letter(last) && spaced_letter(c)) {
                    out[n++] = ' ';
                }
            }
        }
        out[n++] = c;
        last = c;
        in_run = 1;
        marks = 0;
    }
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, n);
    PyMem_Free(out);
    return result;
}

/* fold_text(text: str, table: bytes) -> str | (str, str) | None
 *
 * Steps 4-7 of dedup/normalize.py's normalize_text in one pass, for the common case: drop_punctuation's
 * runs and joints (decided on the characters as they are, as above), each kept character written through
 * `table` (65,536 native uint32: the character after OpenCC's variant fold and lowercasing). A table entry
 * of FOLD_REFERENCE marks a character this pass cannot decide alone (not NFKC-stable or able to compose with
 * what precedes it, converted by OpenCC's t2s, lowercased by context or to several characters); a kept
 * character above the BMP is treated the same. Then None comes back and the caller runs the reference steps
 * (dedup/fastpath.py builds the table from them). An entry with FOLD_PHRASE set marks a character of an
 * OpenCC phrase that converts although none of its characters converts alone (回覆 -> 回复): when one was
 * met, the result is the pair (folded text, text with punctuation dropped but nothing folded), and the
 * caller keeps the folded text only if no such phrase occurs in the second. */
#define FOLD_REFERENCE 0xFFFFFFFFU
#define FOLD_PHRASE 0x80000000U

static PyObject *fold_text(PyObject *self, PyObject *args) {
    PyObject *text;
    Py_buffer table;
    if (!PyArg_ParseTuple(args, "Uy*", &text, &table)) return NULL;
    if (table.len != 4 * 65536) {
        PyBuffer_Release(&table);
        PyErr_SetString(PyExc_ValueError, "the fold table must hold 65,536 uint32 entries");
        return NULL;
    }
    const uint32_t *map = table.buf;
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    int spaced = 0;
    for (Py_ssize_t i = 0; i < len && !spaced; i++) spaced = alphabetic(PyUnicode_READ(kind, data, i));
    Py_UCS4 *out = PyMem_Malloc(sizeof(Py_UCS4) * (len ? len : 1));
    Py_UCS4 *plain = PyMem_Malloc(sizeof(Py_UCS4) * (len ? len : 1));
    PyObject *result = NULL;
    if (!out || !plain) { PyErr_NoMemory(); goto done; }
    Py_ssize_t n = 0, marks = 0;
    Py_UCS4 last = 0, mark = 0;
    int in_run = 0, phrase = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (!CJK_IDEOGRAPH(c)) {  /* an ideograph (most of a Chinese text) is a word character with no joint before it */
            if (c < 0x80) {  /* ASCII: letters and digits are word characters, the rest punctuation or space */
                int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
                if (!alnum) {
                    if (!(c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F))) { if (marks++ == 0) mark = c; }
                    in_run = 0;
                    continue;
                }
            } else if (!Py_UNICODE_ISALNUM(c)) {
                if (!Py_UNICODE_ISSPACE(c)) { if (marks++ == 0) mark = c; }
                in_run = 0;
                continue;
            }
            if (!in_run && n > 0) {
                Py_UCS4 joint = 0;
                if (Py_UNICODE_ISDECIMAL(last) && Py_UNICODE_ISDECIMAL(c)) {
                    if (marks == 1 && (mark == '.' || mark == 0xFF0E)) joint = '.';
                    else if (marks > 0) joint = '/';
                } else if (spaced && spaced_letter(last) && spaced_letter(c)) {
                    joint = ' ';
                }
                if (joint) { plain[n] = joint; out[n++] = joint; }
            }
        }
        uint32_t folded = c < 0x10000 ? map[c] : FOLD_REFERENCE;
        if (folded == FOLD_REFERENCE) { result = Py_NewRef(Py_None); goto done; }
        if (folded & FOLD_PHRASE) { phrase = 1; folded &= ~FOLD_PHRASE; }
        plain[n] = c;
        out[n++] = folded;
        last = c;
        in_run = 1;
        marks = 0;
    }
    if (!phrase) {
        result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, n);
    } else {
        PyObject *folded_text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, n);
        PyObject *plain_text = folded_text ? PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, plain, n) : NULL;
        if (plain_text) result = PyTuple_Pack(2, folded_text, plain_text);
        Py_XDECREF(folded_text);
        Py_XDECREF(plain_text);
    }
done:
    PyMem_Free(out);
    PyMem_Free(plain);
    PyBuffer_Release(&table);
    return result;
}

/* sign(text: str, ngram: int, word_ngram: int, a: bytes, b: bytes) -> (bytes, bytes) | None
 *
 * shingles() then minhash() in one call, without the intermediate objects: the sorted unique uint32 shingle
 * hashes and the uint32 signature values; None for a text without units (no signature). */
static PyObject *sign(PyObject *self, PyObject *args) {
    PyObject *text, *result = NULL;
    Py_ssize_t ngram, word_ngram, words;
    Py_buffer a, b;
    if (!PyArg_ParseTuple(args, "Unny*y*", &text, &ngram, &word_ngram, &a, &b)) return NULL;
    Py_ssize_t len = PyUnicode_GET_LENGTH(text), perms = a.len / 4, unique = 0;
    uint32_t *units = NULL, *hashes = NULL, *mixed = NULL, *values = NULL;
    if (a.len != b.len || perms == 0) {
        PyErr_SetString(PyExc_ValueError, "need equal-length, non-empty permutation arrays");
        goto done;
    }
    if (len == 0) { result = Py_NewRef(Py_None); goto done; }
    units = PyMem_Malloc(sizeof(uint32_t) * len);
    if (!units) { PyErr_NoMemory(); goto done; }
    Py_ssize_t nunits = to_units(PyUnicode_KIND(text), PyUnicode_DATA(text), len, units, &words);
    if (nunits == 0) { result = Py_NewRef(Py_None); goto done; }
    Py_ssize_t n = words * 2 > nunits ? word_ngram : ngram;
    if (n > nunits) n = nunits;
    if (n < 1) n = 1;
    Py_ssize_t count = nunits - n + 1;
    hashes = PyMem_Malloc(sizeof(uint32_t) * count);
    mixed = PyMem_Malloc(sizeof(uint32_t) * count);
    values = PyMem_Malloc(sizeof(uint32_t) * perms);
    if (!hashes || !mixed || !values) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t h = (uint64_t)units[i];
        for (Py_ssize_t k = 1; k < n; k++) h = h * BASE + (uint64_t)units[i + k];
        hashes[i] = (uint32_t)(mix64(h) >> 32);
    }
    if (radix_sort(hashes, count) < 0) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < count; i++)
        if (unique == 0 || hashes[i] != hashes[unique - 1]) hashes[unique++] = hashes[i];
    for (Py_ssize_t j = 0; j < unique; j++) mixed[j] = fmix32(hashes[j]);
    affine_min(mixed, unique, (const uint32_t *)a.buf, (const uint32_t *)b.buf, values, perms);
    result = Py_BuildValue("(y#y#)", (const char *)hashes, (Py_ssize_t)(sizeof(uint32_t) * unique),
                           (const char *)values, (Py_ssize_t)(sizeof(uint32_t) * perms));
done:
    PyMem_Free(units);
    PyMem_Free(hashes);
    PyMem_Free(mixed);
    PyMem_Free(values);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    return result;
}

typedef struct { double score; Py_ssize_t pos; } Ranked;

static int by_score_then_position(const void *x, const void *y) {
    const Ranked *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

static int cmp_int64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* screen(matrix, sizes, items: list[int], values, n: float, j_min: float, c_min: float, row_of: dict | None)
 *
 * Same arithmetic and order as dedup/screen.py's numpy path: for each item's row of the uint32 signature
 * matrix (the item itself, or row_of[item] when a dict is given; items missing from it are skipped), the
 * estimated Jaccard with `values` and the containment it implies given the shingle counts; the positions
 * (into `items`) of those at or above either floor, best score first, ties in list order. */
static PyObject *screen(PyObject *self, PyObject *args) {
    Py_buffer matrix, sizes, values;
    PyObject *items, *row_of = Py_None, *result = NULL;
    double n, j_min, c_min;
    if (!PyArg_ParseTuple(args, "y*y*O!y*ddd|O", &matrix, &sizes, &PyList_Type, &items, &values, &n, &j_min,
                          &c_min, &row_of))
        return NULL;
    Py_ssize_t perms = values.len / 4, count = PyList_GET_SIZE(items), kept = 0;
    Py_ssize_t stored = perms ? matrix.len / (4 * perms) : 0;
    Ranked *ranked = PyMem_Malloc(sizeof(Ranked) * (count ? count : 1));
    if (!ranked) { PyErr_NoMemory(); goto done; }
    if (row_of != Py_None && !PyDict_Check(row_of)) { PyErr_SetString(PyExc_TypeError, "row_of must be a dict"); goto done; }
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *item = PyList_GET_ITEM(items, k);
        if (row_of != Py_None) {
            item = PyDict_GetItemWithError(row_of, item);
            if (!item) { if (PyErr_Occurred()) goto done; continue; }
        }
        Py_ssize_t row = PyLong_AsSsize_t(item);
        if (row < 0 || row >= stored || row >= (Py_ssize_t)(sizes.len / 8)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_IndexError, "row outside the signature matrix");
            goto done;
        }
        const uint32_t *sig = (const uint32_t *)matrix.buf + row * perms, *q = values.buf;
        Py_ssize_t equal = 0;
        for (Py_ssize_t p = 0; p < perms; p++) equal += sig[p] == q[p];
        double j = (double)equal / (double)perms, size = ((const double *)sizes.buf)[row];
        double shared = j * (n + size) / (1.0 + j);
        double smaller = n < size ? n : size;
        double c = size > 0 ? shared / (smaller > 1.0 ? smaller : 1.0) : 1.0;
        if (j >= j_min || c >= c_min) {
            ranked[kept].score = j > (c < 1.0 ? c : 1.0) ? j : (c < 1.0 ? c : 1.0);
            ranked[kept++].pos = k;
        }
    }
    qsort(ranked, kept, sizeof(Ranked), by_score_then_position);
    result = PyList_New(kept);
    for (Py_ssize_t k = 0; result && k < kept; k++) {
        PyObject *pos = PyLong_FromSsize_t(ranked[k].pos);
        if (!pos) { Py_CLEAR(result); break; }
        PyList_SET_ITEM(result, k, pos);
    }
done:
    PyMem_Free(ranked);
    PyBuffer_Release(&matrix);
    PyBuffer_Release(&sizes);
    PyBuffer_Release(&values);
    return result;
}

/* A list of the int64 ids held in an array of `n` records of `stride` bytes, each at `offset` in its record
 * (a plain int64 array: stride 8, offset 0). NULL with the error set when an int cannot be made. */
static PyObject *id_list(const void *records, Py_ssize_t n, size_t stride, size_t offset) {
    PyObject *list = PyList_New(n);
    for (Py_ssize_t i = 0; list && i < n; i++) {
        int64_t value;
        memcpy(&value, (const char *)records + i * stride + offset, sizeof(value));
        PyObject *id = PyLong_FromLongLong(value);
        if (!id) { Py_CLEAR(list); break; }
        PyList_SET_ITEM(list, i, id);
    }
    return list;
}

/* band_query(tables: list[dict], keys: list) -> list[int]
 *
 * dedup/bands.py's lookup: the sorted unique ids in the buckets of each band's key, where a bucket is an
 * int (one id) or bytes of packed native int64 ids. */
static PyObject *band_query(PyObject *self, PyObject *args) {
    PyObject *tables, *keys;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &tables, &PyList_Type, &keys)) return NULL;
    Py_ssize_t bands = PyList_GET_SIZE(tables) < PyList_GET_SIZE(keys) ? PyList_GET_SIZE(tables) : PyList_GET_SIZE(keys);
    Py_ssize_t cap = 64, count = 0;
    int64_t *ids = PyMem_Malloc(sizeof(int64_t) * cap);
    if (!ids) return PyErr_NoMemory();
    for (Py_ssize_t b = 0; b < bands; b++) {
        PyObject *table = PyList_GET_ITEM(tables, b);
        if (!PyDict_Check(table)) { PyErr_SetString(PyExc_TypeError, "tables must be dicts"); goto fail; }
        PyObject *bucket = PyDict_GetItemWithError(table, PyList_GET_ITEM(keys, b));
        if (!bucket) { if (PyErr_Occurred()) goto fail; continue; }
        Py_ssize_t add = PyLong_Check(bucket) ? 1 : PyBytes_Check(bucket) ? PyBytes_GET_SIZE(bucket) / 8 : -1;
        if (add < 0) { PyErr_SetString(PyExc_TypeError, "a bucket must be an int or packed int64 bytes"); goto fail; }
        if (count + add > cap) {
            while (count + add > cap) cap *= 2;
            int64_t *grown = PyMem_Realloc(ids, sizeof(int64_t) * cap);
            if (!grown) { PyErr_NoMemory(); goto fail; }
            ids = grown;
        }
        if (PyLong_Check(bucket)) {
            ids[count] = PyLong_AsLongLong(bucket);
            if (ids[count] == -1 && PyErr_Occurred()) goto fail;
            count++;
        } else {
            memcpy(ids + count, PyBytes_AS_STRING(bucket), sizeof(int64_t) * add);
            count += add;
        }
    }
    qsort(ids, count, sizeof(int64_t), cmp_int64);
    Py_ssize_t unique = 0;
    for (Py_ssize_t i = 0; i < count; i++)
        if (unique == 0 || ids[i] != ids[unique - 1]) ids[unique++] = ids[i];
    PyObject *result = id_list(ids, unique, sizeof(int64_t), 0);
    PyMem_Free(ids);
    return result;
fail:
    PyMem_Free(ids);
    return NULL;
}

/* posting_hits(table: dict, keys: list, cap: int) -> list[int]
 *
 * dedup/contain.py's recent-postings lookup: the ids in the buckets of all keys of one table, with
 * repeats (an id shared through k keys comes k times: the caller counts them); buckets holding more
 * than `cap` ids are stock phrases and skipped. Buckets as in band_insert. */
static PyObject *posting_hits(PyObject *self, PyObject *args) {
    PyObject *table, *keys;
    Py_ssize_t cap;
    if (!PyArg_ParseTuple(args, "O!O!n", &PyDict_Type, &table, &PyList_Type, &keys, &cap)) return NULL;
    PyObject *result = PyList_New(0);
    if (!result) return NULL;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(keys); k++) {
        PyObject *bucket = PyDict_GetItemWithError(table, PyList_GET_ITEM(keys, k));
        if (!bucket) { if (PyErr_Occurred()) goto fail; continue; }
        if (PyLong_Check(bucket)) {
            if (PyList_Append(result, bucket) < 0) goto fail;
            continue;
        }
        if (!PyBytes_Check(bucket)) { PyErr_SetString(PyExc_TypeError, "a bucket must be an int or packed int64 bytes"); goto fail; }
        Py_ssize_t size = PyBytes_GET_SIZE(bucket) / 8;
        if (size > cap) continue;
        const char *raw = PyBytes_AS_STRING(bucket);
        for (Py_ssize_t i = 0; i < size; i++) {
            int64_t value;
            memcpy(&value, raw + 8 * i, 8);
            PyObject *id = PyLong_FromLongLong(value);
            if (!id) goto fail;
            int failed = PyList_Append(result, id) < 0;
            Py_DECREF(id);
            if (failed) goto fail;
        }
    }
    return result;
fail:
    Py_DECREF(result);
    return NULL;
}

/* band_insert(tables: list[dict], keys: list, id: int) -> None
 *
 * dedup/bands.py's insert: the id goes into each band's bucket, kept as an int while it is alone and
 * as bytes of packed native int64 ids once shared (neither is tracked by the garbage collector). */
static PyObject *band_insert(PyObject *self, PyObject *args) {
    PyObject *tables, *keys, *id;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyList_Type, &tables, &PyList_Type, &keys, &PyLong_Type, &id)) return NULL;
    int64_t value = PyLong_AsLongLong(id);
    if (value == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t bands = PyList_GET_SIZE(tables) < PyList_GET_SIZE(keys) ? PyList_GET_SIZE(tables) : PyList_GET_SIZE(keys);
    for (Py_ssize_t b = 0; b < bands; b++) {
        PyObject *table = PyList_GET_ITEM(tables, b), *key = PyList_GET_ITEM(keys, b), *grown;
        if (!PyDict_Check(table)) { PyErr_SetString(PyExc_TypeError, "tables must be dicts"); return NULL; }
        PyObject *bucket = PyDict_GetItemWithError(table, key);
        if (!bucket) {
            if (PyErr_Occurred() || PyDict_SetItem(table, key, id) < 0) return NULL;
            continue;
        }
        Py_ssize_t size = PyLong_Check(bucket) ? 8 : PyBytes_Check(bucket) ? PyBytes_GET_SIZE(bucket) : -1;
        if (size < 0) { PyErr_SetString(PyExc_TypeError, "a bucket must be an int or packed int64 bytes"); return NULL; }
        grown = PyBytes_FromStringAndSize(NULL, size + 8);
        if (!grown) return NULL;
        char *out = PyBytes_AS_STRING(grown);
        if (PyLong_Check(bucket)) {
            int64_t first = PyLong_AsLongLong(bucket);
            if (first == -1 && PyErr_Occurred()) { Py_DECREF(grown); return NULL; }
            memcpy(out, &first, 8);
        } else {
            memcpy(out, PyBytes_AS_STRING(bucket), size);
        }
        memcpy(out + size, &value, 8);
        int failed = PyDict_SetItem(table, key, grown) < 0;
        Py_DECREF(grown);
        if (failed) return NULL;
    }
    Py_RETURN_NONE;
}

/* band_keys(values: bytes-like uint32[perm], bands, rows, family) -> bytes (uint64[bands])
 *
 * Same keys as dedup/candidates/bands.py's numpy `band_keys` for one signature: each band's salt
 * ((band + 1 + 4096 * family) * BASE) mixed with its rows in order. Numpy spends ~30 us a layout on
 * its small temporaries; this takes well under one. */
static PyObject *band_keys(PyObject *self, PyObject *args) {
    Py_buffer v;
    Py_ssize_t bands, rows, family;
    if (!PyArg_ParseTuple(args, "y*nnn", &v, &bands, &rows, &family)) return NULL;
    PyObject *result = NULL;
    if (bands < 0 || rows < 1 || family < 0 || bands * rows > v.len / 4) {
        PyErr_SetString(PyExc_ValueError, "need bands * rows values at most, rows >= 1, family >= 0");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, sizeof(uint64_t) * bands);
    if (!result) goto done;
    uint64_t *out = (uint64_t *)PyBytes_AS_STRING(result);
    const uint32_t *values = (const uint32_t *)v.buf;
    for (Py_ssize_t band = 0; band < bands; band++) {
        uint64_t h = (uint64_t)(band + 1 + 4096 * family) * BASE;
        for (Py_ssize_t j = 0; j < rows; j++) h = mix64(h ^ (uint64_t)values[band * rows + j]);
        out[band] = h;
    }
done:
    PyBuffer_Release(&v);
    return result;
}

static inline uint64_t read_unsigned(const char *buf, Py_ssize_t width, Py_ssize_t i) {
    if (width == 8) { uint64_t v; memcpy(&v, buf + 8 * i, 8); return v; }
    uint32_t v; memcpy(&v, buf + 4 * i, 4); return v;
}

/* anchors(shingles, rate) -> bytes (uint32[])
 *
 * dedup/candidates/containment.py's `anchors`: the shingle hashes (uint32, or uint64 taken as their low 32 bits)
 * whose multiplicative remix falls in residue class 0 of `rate`, in their order. Numpy spends ~15 us an article
 * on six temporaries. */
static PyObject *anchors(PyObject *self, PyObject *args) {
    Py_buffer sh;
    Py_ssize_t rate;
    if (!PyArg_ParseTuple(args, "y*n", &sh, &rate)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t width = sh.itemsize, n = sh.len / (width ? width : 1), count = 0;
    uint32_t *out = NULL;
    if ((width != 4 && width != 8) || rate < 2) {
        PyErr_SetString(PyExc_ValueError, "shingles: uint32 or uint64 items; rate: 2 or more");
        goto done;
    }
    out = PyMem_Malloc(sizeof(uint32_t) * (n ? n : 1));
    if (!out) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t hash = (uint32_t)read_unsigned(sh.buf, width, i);
        if (((uint32_t)(hash * 0x9E3779B1u) >> 16) % (uint32_t)rate == 0) out[count++] = hash;
    }
    result = PyBytes_FromStringAndSize((const char *)out, sizeof(uint32_t) * count);
done:
    PyMem_Free(out);
    PyBuffer_Release(&sh);
    return result;
}

/* posting_values(keys, slots, shift, wanted, values) -> bytes (int64[])
 *
 * dedup/candidates/postings.py's `find` and the gather of the values after it, in one call: the values of
 * every posting whose key is in `wanted`, in the order of `wanted` and, within a key, of the postings.
 * `keys` (sorted) and `wanted` are uint32 or uint64 (one width), `slots` the key-prefix directory (uint32 or
 * int64 offsets), `values` uint32 or int64. Numpy spends ~20 us a lookup on a dozen small temporaries. */
static PyObject *posting_values(PyObject *self, PyObject *args) {
    Py_buffer k, s, w, v;
    unsigned long long shift;
    if (!PyArg_ParseTuple(args, "y*y*Ky*y*", &k, &s, &shift, &w, &v)) return NULL;
    PyObject *result = NULL;
    int64_t *out = NULL;
    Py_ssize_t kw = k.itemsize, sw = s.itemsize, vw = v.itemsize;
    if ((kw != 4 && kw != 8) || w.itemsize != kw || (sw != 4 && sw != 8) || (vw != 4 && vw != 8)
            || shift >= (unsigned long long)(8 * kw) || k.len / kw != v.len / vw) {
        PyErr_SetString(PyExc_ValueError, "keys and wanted: one width of 4 or 8 bytes; slots and values: 4 or 8 "
                        "bytes an item; as many values as keys; shift below the key width");
        goto done;
    }
    Py_ssize_t n_keys = k.len / kw, n_slots = s.len / sw, n_wanted = w.len / kw, count = 0, room = 64;
    out = PyMem_Malloc(sizeof(int64_t) * room);
    if (!out) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < n_wanted; i++) {
        uint64_t key = read_unsigned(w.buf, kw, i), prefix = key >> shift;
        if ((Py_ssize_t)prefix + 1 >= n_slots) continue;
        int64_t lo = (int64_t)read_unsigned(s.buf, sw, prefix), hi = (int64_t)read_unsigned(s.buf, sw, prefix + 1);
        if (lo < 0 || hi > n_keys) { PyErr_SetString(PyExc_ValueError, "a directory slot points past the keys"); goto done; }
        for (int64_t p = lo; p < hi; p++) {
            if (read_unsigned(k.buf, kw, p) != key) continue;
            if (count == room) {
                int64_t *grown = PyMem_Realloc(out, sizeof(int64_t) * (room *= 2));
                if (!grown) { PyErr_NoMemory(); goto done; }
                out = grown;
            }
            out[count++] = (int64_t)read_unsigned(v.buf, vw, p);
        }
    }
    result = PyBytes_FromStringAndSize((const char *)out, sizeof(int64_t) * count);
done:
    PyMem_Free(out);
    PyBuffer_Release(&k); PyBuffer_Release(&s); PyBuffer_Release(&w); PyBuffer_Release(&v);
    return result;
}

/* merge_postings(keys, values, new_keys, new_values, out_keys, out_values, slots, shift, hot_run) -> list
 *
 * dedup/candidates/postings.py's `merge_sorted` and `directory` in one pass: two key-sorted runs of postings
 * written as one into `out_keys`/`out_values` (among equal keys the old postings first, as a stable sort of the
 * concatenation gives), and the key-prefix directory into `slots` (2**bits + 1 uint32 offsets, zeroed by the
 * caller; `shift` = key width - bits). With `hot_run` > 0, returns the keys holding more than that many postings
 * (the containment index's stock phrases), else an empty list. Keys are uint32 or uint64 (one width), values
 * uint32 or int64. Numpy takes three full passes and their temporaries (~30 ns a posting); a merge runs over
 * every posting once every few thousand articles. The loop runs without the GIL: a server's lookups go on. */
typedef struct { uint64_t *keys; Py_ssize_t count, room; } KeyList;

static int keep_key(KeyList *list, uint64_t key) {
    if (list->count == list->room) {
        Py_ssize_t room = list->room ? 2 * list->room : 64;
        uint64_t *grown = realloc(list->keys, sizeof(uint64_t) * room);
        if (!grown) return -1;
        list->keys = grown;
        list->room = room;
    }
    list->keys[list->count++] = key;
    return 0;
}

#define MERGE_RUNS(KT, VT) do { \
    const KT *ka = (const KT *)k.buf, *kb = (const KT *)nk.buf; KT *ko = (KT *)ok.buf; \
    const VT *va = (const VT *)v.buf, *vb = (const VT *)nv.buf; VT *vo = (VT *)ov.buf; \
    Py_ssize_t i = 0, j = 0, o = 0, run = 0; \
    while (i < n_old || j < n_new) { \
        KT key; \
        if (j >= n_new || (i < n_old && ka[i] <= kb[j])) { key = ka[i]; vo[o] = va[i++]; } \
        else { key = kb[j]; vo[o] = vb[j++]; } \
        ko[o++] = key; \
        slot[((uint64_t)key >> shift) + 1]++; \
        if (hot_run > 0) { \
            if (o > 1 && ko[o - 2] == key) run++; \
            else { if (run > hot_run && keep_key(&hot, (uint64_t)ko[o - 2]) < 0) failed = 1; run = 1; } \
        } \
    } \
    if (hot_run > 0 && run > hot_run && keep_key(&hot, (uint64_t)ko[o - 1]) < 0) failed = 1; \
} while (0)

static PyObject *merge_postings(PyObject *self, PyObject *args) {
    Py_buffer k, v, nk, nv, ok, ov, sl;
    unsigned long long shift;
    Py_ssize_t hot_run;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*w*w*Kn", &k, &v, &nk, &nv, &ok, &ov, &sl, &shift, &hot_run)) return NULL;
    PyObject *result = NULL;
    KeyList hot = {NULL, 0, 0};
    int failed = 0;
    Py_ssize_t kw = k.itemsize, vw = v.itemsize, n_old = k.len / kw, n_new = nk.len / kw;
    Py_ssize_t n_slots = sl.len / 4, n = n_old + n_new, bits = 8 * kw - (Py_ssize_t)shift;
    if ((kw != 4 && kw != 8) || nk.itemsize != kw || ok.itemsize != kw || (vw != 4 && vw != 8)
            || nv.itemsize != vw || ov.itemsize != vw || sl.itemsize != 4 || v.len / vw != n_old
            || nv.len / vw != n_new || ok.len / kw != n || ov.len / vw != n || shift >= (unsigned long long)(8 * kw)
            || bits > 40 || n_slots != ((Py_ssize_t)1 << bits) + 1 || n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "keys: one width of 4 or 8 bytes, values: one of 4 or 8, as many of each "
                        "as keys; outputs sized for both runs; slots: 2**(key bits - shift) + 1 uint32 (at most "
                        "2**40); under 2**32 postings");
        goto done;
    }
    uint32_t *slot = (uint32_t *)sl.buf;
    Py_BEGIN_ALLOW_THREADS
    if (kw == 8 && vw == 4) MERGE_RUNS(uint64_t, uint32_t);
    else if (kw == 8) MERGE_RUNS(uint64_t, int64_t);
    else if (vw == 4) MERGE_RUNS(uint32_t, uint32_t);
    else MERGE_RUNS(uint32_t, int64_t);
    for (Py_ssize_t p = 1; p < n_slots; p++) slot[p] += slot[p - 1];  /* counts -> first posting of each prefix */
    Py_END_ALLOW_THREADS
    if (failed) { PyErr_NoMemory(); goto done; }
    result = PyList_New(hot.count);
    for (Py_ssize_t i = 0; result && i < hot.count; i++) {
        PyObject *item = PyLong_FromUnsignedLongLong(hot.keys[i]);
        if (!item) { Py_CLEAR(result); break; }
        PyList_SET_ITEM(result, i, item);
    }
done:
    free(hot.keys);
    PyBuffer_Release(&k); PyBuffer_Release(&v); PyBuffer_Release(&nk); PyBuffer_Release(&nv);
    PyBuffer_Release(&ok); PyBuffer_Release(&ov); PyBuffer_Release(&sl);
    return result;
}
#undef MERGE_RUNS

typedef struct { int64_t id; int64_t shared; } IdCount;

static int by_id(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int by_strength(const void *a, const void *b) {  /* most bands shared first, then the newest */
    const IdCount *x = a, *y = b;
    if (x->shared != y->shared) return x->shared < y->shared ? 1 : -1;
    return (x->id < y->id) - (x->id > y->id);
}

static int by_counted_id(const void *a, const void *b) {
    const IdCount *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* The ints of `recent` then the `n_merged` int64 values of `merged`, into `out` (room for both); -1 with the
 * error set when an item of `recent` is no int64. */
static Py_ssize_t gather_hits(PyObject *recent, const void *merged, Py_ssize_t n_merged, int64_t *out) {
    Py_ssize_t n_recent = PyList_GET_SIZE(recent);
    for (Py_ssize_t i = 0; i < n_recent; i++) {
        out[i] = PyLong_AsLongLong(PyList_GET_ITEM(recent, i));
        if (out[i] == -1 && PyErr_Occurred()) return -1;
    }
    if (n_merged) memcpy(out + n_recent, merged, 8 * n_merged);
    return n_recent + n_merged;
}

/* Each distinct id of `ids` (sorted in place) with how often it occurs, in id order, into `out`; returns how
 * many distinct ids there are. */
static Py_ssize_t count_ids(int64_t *ids, Py_ssize_t n, IdCount *out) {
    qsort(ids, n, sizeof(int64_t), by_id);
    Py_ssize_t found = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (found && out[found - 1].id == ids[i]) out[found - 1].shared++;
        else { out[found].id = ids[i]; out[found].shared = 1; found++; }
    }
    return found;
}

/* strongest_rows(recent: list[int], merged: bytes-like int64[], id_of: int64[], limit: int) -> (found, ids)
 *
 * dedup/candidates/bands.py's count after a lookup: the band rows it hit (recent and merged postings, with
 * repeats) as article ids (rows mapped through `id_of`, removed rows (-1) left out), `found` the number of
 * distinct ids, `ids` those ids sorted, at most `limit` of them (negative: no bound): the ones sharing the
 * most bands, then the newest (dedup.candidates.bound.strongest). */
static PyObject *strongest_rows(PyObject *self, PyObject *args) {
    PyObject *recent;
    Py_buffer merged, id_of;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "O!y*y*n", &PyList_Type, &recent, &merged, &id_of, &limit)) return NULL;
    PyObject *result = NULL;
    int64_t *ids = NULL;
    IdCount *counts = NULL;
    Py_ssize_t n_recent = PyList_GET_SIZE(recent), n_merged = merged.len / 8, n_rows = id_of.len / 8, n = 0;
    if (merged.len % 8 || id_of.itemsize != 8) {
        PyErr_SetString(PyExc_ValueError, "merged rows (packed int64 bytes or an array) and id_of must be int64");
        goto done;
    }
    ids = PyMem_Malloc(sizeof(int64_t) * (n_recent + n_merged + 1));
    counts = PyMem_Malloc(sizeof(IdCount) * (n_recent + n_merged + 1));
    if (!ids || !counts) { PyErr_NoMemory(); goto done; }
    Py_ssize_t hits = gather_hits(recent, merged.buf, n_merged, ids);
    if (hits < 0) goto done;
    const int64_t *id_by_row = id_of.buf;
    for (Py_ssize_t i = 0; i < hits; i++) {  /* rows to ids, in place; removed rows (-1) out */
        int64_t row = ids[i];
        if (row < 0 || row >= n_rows) { PyErr_SetString(PyExc_IndexError, "a band row outside id_of"); goto done; }
        if (id_by_row[row] >= 0) ids[n++] = id_by_row[row];
    }
    Py_ssize_t found = count_ids(ids, n, counts), kept = found;
    if (limit >= 0 && found > limit) {
        qsort(counts, found, sizeof(IdCount), by_strength);
        kept = limit;
        qsort(counts, kept, sizeof(IdCount), by_counted_id);
    }
    PyObject *list = id_list(counts, kept, sizeof(IdCount), offsetof(IdCount, id));
    if (!list) goto done;
    result = Py_BuildValue("nN", found, list);
done:
    PyMem_Free(ids);
    PyMem_Free(counts);
    PyBuffer_Release(&merged);
    PyBuffer_Release(&id_of);
    return result;
}

typedef struct { double estimate; int64_t shared; int64_t id; } Pick;

static int by_estimate(const void *a, const void *b) {  /* highest estimate, then most shared, then lowest id */
    const Pick *x = a, *y = b;
    if (x->estimate != y->estimate) return x->estimate < y->estimate ? 1 : -1;
    if (x->shared != y->shared) return x->shared < y->shared ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

/* pick_contained(recent: list[int], merged: bytes-like int64[], count_of: int32[], query_count, limit,
 *                min_estimate) -> list[int]
 *
 * dedup/candidates/containment.py's `pick_arrays` over the ids a lookup's anchors hit (recent and merged
 * postings, one repeat per shared anchor): ids sharing at least min(2, query_count) anchors and at least
 * `min_estimate` of the smaller side's anchors (`count_of[id]`, its anchor count; -1 or beyond: 0), best
 * estimate first (shared / smaller side, then shared, then id), at most `limit`. */
static PyObject *pick_contained(PyObject *self, PyObject *args) {
    PyObject *recent;
    Py_buffer merged, count_of;
    Py_ssize_t query_count, limit;
    double min_estimate;
    if (!PyArg_ParseTuple(args, "O!y*y*nnd", &PyList_Type, &recent, &merged, &count_of, &query_count, &limit,
                          &min_estimate)) return NULL;
    PyObject *result = NULL;
    int64_t *ids = NULL;
    IdCount *shares = NULL;
    Pick *picks = NULL;
    Py_ssize_t n_recent = PyList_GET_SIZE(recent), n_merged = merged.len / 8, n_counts = count_of.len / 4, n;
    if (merged.len % 8 || count_of.itemsize != 4 || limit < 0) {
        PyErr_SetString(PyExc_ValueError, "merged ids: int64; count_of: int32; limit: at least 0");
        goto done;
    }
    n = n_recent + n_merged;
    ids = PyMem_Malloc(sizeof(int64_t) * (n + 1));
    shares = PyMem_Malloc(sizeof(IdCount) * (n + 1));
    picks = PyMem_Malloc(sizeof(Pick) * (n + 1));
    if (!ids || !shares || !picks) { PyErr_NoMemory(); goto done; }
    if (gather_hits(recent, merged.buf, n_merged, ids) < 0) goto done;
    Py_ssize_t found = count_ids(ids, n, shares), kept = 0;
    const int32_t *counts = count_of.buf;
    int64_t need = query_count < 2 ? query_count : 2;
    for (Py_ssize_t k = 0; k < found; k++) {
        int64_t id = shares[k].id, shared = shares[k].shared;
        if (shared < need) continue;
        int64_t count = id >= 0 && id < n_counts && counts[id] > 0 ? counts[id] : 0;
        int64_t smaller = query_count < count ? query_count : count;
        if (smaller <= 0 || (double)shared < min_estimate * (double)smaller) continue;
        picks[kept].estimate = (double)shared / (double)smaller;
        picks[kept].shared = shared;
        picks[kept].id = id;
        kept++;
    }
    qsort(picks, kept, sizeof(Pick), by_estimate);
    if (kept > limit) kept = limit;
    result = id_list(picks, kept, sizeof(Pick), offsetof(Pick, id));
done:
    PyMem_Free(ids);
    PyMem_Free(shares);
    PyMem_Free(picks);
    PyBuffer_Release(&merged);
    PyBuffer_Release(&count_of);
    return result;
}

/* shared_count(a, b) -> int
 *
 * dedup/decide/verify.py's exact scores: how many hashes two sorted unique uint32 sets share, by one merge
 * pass (numpy's intersect1d sorts the concatenation: ~30 us for two news-length sets). -1 when a set turns
 * out not to be sorted and unique (the caller then counts with numpy). */
static PyObject *shared_count(PyObject *self, PyObject *args) {
    Py_buffer a, b;
    if (!PyArg_ParseTuple(args, "y*y*", &a, &b)) return NULL;
    PyObject *result = NULL;
    if ((a.len && a.itemsize != 4) || (b.len && b.itemsize != 4)) {
        PyErr_SetString(PyExc_ValueError, "both sets must be uint32 arrays");
        goto done;
    }
    const uint32_t *x = a.buf, *y = b.buf;
    Py_ssize_t n = a.len / 4, m = b.len / 4, i = 0, j = 0, shared = 0;
    for (Py_ssize_t k = 1; k < n; k++) if (x[k] <= x[k - 1]) { shared = -1; goto out; }
    for (Py_ssize_t k = 1; k < m; k++) if (y[k] <= y[k - 1]) { shared = -1; goto out; }
    while (i < n && j < m) {
        if (x[i] < y[j]) i++;
        else if (x[i] > y[j]) j++;
        else { shared++; i++; j++; }
    }
out:
    result = PyLong_FromSsize_t(shared);
done:
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    return result;
}

static int in_ranges(Py_UCS4 c, const uint32_t *ranges, Py_ssize_t n_ranges) {
    for (Py_ssize_t r = 0; r < n_ranges; r++)
        if (c >= ranges[2 * r] && c <= ranges[2 * r + 1]) return 1;
    return 0;
}

/* text_units(text, cjk_ranges: uint32[2k], plane, size) -> (keys, anchor_units, anchor_chars, word_ends)
 *
 * dedup/decide/alignment.py's `to_units` in one pass: a word (a maximal run of alphanumeric characters outside
 * the CJK ranges, as its regex `[^\W_{CJK}]+` reads them) is one unit, keyed by the private-use character
 * plane + hash(word) % size (Python's own string hash, so the same key as the reference in this process); every
 * other character that is not whitespace is a unit of its own, and each maximal run of them, like each word,
 * starts an anchor (unit number, text offset). */
static PyObject *text_units(PyObject *self, PyObject *args) {
    PyObject *text;
    Py_buffer ranges;
    unsigned long plane, size;
    if (!PyArg_ParseTuple(args, "Uy*kk", &text, &ranges, &plane, &size)) return NULL;
    PyObject *result = NULL, *units = NULL, *chars = NULL, *ends = NULL, *keys = NULL;
    Py_UCS4 *out = NULL;
    if (ranges.len % 8 || size == 0) {
        PyErr_SetString(PyExc_ValueError, "ranges: uint32 (low, high) pairs; size above 0");
        goto done;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), n_ranges = ranges.len / 8, count = 0, i = 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const uint32_t *cjk = ranges.buf;
    out = PyMem_Malloc(sizeof(Py_UCS4) * (n ? n : 1));
    units = PyList_New(0); chars = PyList_New(0); ends = PyDict_New();
    if (!out || !units || !chars || !ends) { PyErr_NoMemory(); goto done; }
    /* When the ranges hold the whole CJK ideograph block, its characters (most of a Chinese text) are units of
     * their own without the class checks: alphanumeric, inside the ranges, never whitespace. */
    int ideographs_in_ranges = 0;
    for (Py_ssize_t r = 0; r < n_ranges; r++)
        if (cjk[2 * r] <= 0x4E00 && cjk[2 * r + 1] >= 0x9FFF) ideographs_in_ranges = 1;
    while (i < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        int ideograph = ideographs_in_ranges && CJK_IDEOGRAPH(c);
        if (!ideograph && Py_UNICODE_ISSPACE(c)) { i++; continue; }
        int word = !ideograph && Py_UNICODE_ISALNUM(c) && !in_ranges(c, cjk, n_ranges);
        Py_ssize_t j = i + 1;
        while (j < n) {
            Py_UCS4 d = PyUnicode_READ(kind, data, j);
            if (ideographs_in_ranges && CJK_IDEOGRAPH(d)) {
                if (word) break;
                j++;
                continue;
            }
            if (Py_UNICODE_ISSPACE(d) || (Py_UNICODE_ISALNUM(d) && !in_ranges(d, cjk, n_ranges)) != word) break;
            j++;
        }
        PyObject *u = PyLong_FromSsize_t(count), *at = PyLong_FromSsize_t(i);
        int failed = !u || !at || PyList_Append(units, u) < 0 || PyList_Append(chars, at) < 0;
        Py_XDECREF(at);
        if (failed) { Py_XDECREF(u); goto done; }
        if (word) {
            PyObject *piece = PyUnicode_Substring(text, i, j), *end = piece ? PyLong_FromSsize_t(j) : NULL;
            Py_hash_t h = piece ? PyObject_Hash(piece) : -1;
            Py_XDECREF(piece);
            failed = !end || h == -1 || PyDict_SetItem(ends, u, end) < 0;
            Py_XDECREF(end);
            Py_DECREF(u);
            if (failed) goto done;
            long long key = (long long)(h % (Py_hash_t)size);
            if (key < 0) key += (long long)size;
            out[count++] = (Py_UCS4)(plane + key);
        } else {
            Py_DECREF(u);
            for (Py_ssize_t k = i; k < j; k++) out[count++] = PyUnicode_READ(kind, data, k);
        }
        i = j;
    }
    keys = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, count);
    if (!keys) goto done;
    result = Py_BuildValue("OOOO", keys, units, chars, ends);
done:
    PyMem_Free(out);
    Py_XDECREF(keys); Py_XDECREF(units); Py_XDECREF(chars); Py_XDECREF(ends);
    PyBuffer_Release(&ranges);
    return result;
}

static PyMethodDef methods[] = {
    {"band_keys", band_keys, METH_VARARGS, "The LSH band keys of one signature under one layout."},
    {"band_insert", band_insert, METH_VARARGS, "Add an id to the bucket of each band's key."},
    {"anchors", anchors, METH_VARARGS, "The shingle hashes in the containment anchors' residue class, in order."},
    {"merge_postings", merge_postings, METH_VARARGS, "Two key-sorted runs of postings as one, with the key-prefix directory."},
    {"posting_values", posting_values, METH_VARARGS, "Values of the sorted postings whose keys are wanted, with repeats."},
    {"strongest_rows", strongest_rows, METH_VARARGS, "Distinct ids of the band rows a lookup hit, bounded to the strongest."},
    {"pick_contained", pick_contained, METH_VARARGS, "Containment candidates from the ids a lookup's anchors hit, best estimate first."},
    {"shared_count", shared_count, METH_VARARGS, "How many hashes two sorted unique uint32 sets share."},
    {"text_units", text_units, METH_VARARGS, "A text's alignment units: word keys, characters, anchors, word ends."},
    {"posting_hits", posting_hits, METH_VARARGS, "Ids in the buckets of the keys of one table, with repeats."},
    {"drop_punctuation", drop_punctuation, METH_VARARGS, "Word runs of a text, punctuation and symbols out."},
    {"fold_text", fold_text, METH_VARARGS, "Punctuation out and each kept character folded, or None: use the reference."},
    {"sign", sign, METH_VARARGS, "Shingle hashes and MinHash values of a normalized text in one call."},
    {"screen", screen, METH_VARARGS, "Positions of candidate rows worth verifying, best estimate first."},
    {"band_query", band_query, METH_VARARGS, "Sorted unique ids in the buckets of each band's key."},
    {"shingles", shingles, METH_VARARGS, "Sorted unique uint32 n-gram hashes of a unit string."},
    {"minhash", minhash, METH_VARARGS, "affine32 MinHash values of a uint32 shingle set."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }

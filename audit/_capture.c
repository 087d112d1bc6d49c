/*
 * audit._capture: the API middleware's per-request record, captured and framed in C.
 *
 * Why hand-written: the audit middleware runs on every request inside the serving process, and
 * the Python capture (gathering the principal's facts, a tuple, marshal, then the journal frame:
 * header, CRC-32, concatenation) cost about 2.1 us of a 7-15 us request in-process, where these
 * two calls leave 1.0 (bench/audit.py, same conditions: 0.87-0.91 of the service's rate without
 * auditing in Python, 0.91-1.0 with this module; the issue asks 0.9). No library serializes a
 * fixed set of builtin values into marshal bytes and a CRC-checked frame. Two pure functions,
 * values in, bytes out: no file, no state, no thread of their own.
 *
 * capture() writes what audit.request_record.capture() writes, as marshal data that
 * marshal.loads() reads back to the same tuple (the reader, from_capture(), is unchanged). It
 * takes only what it can write exactly: exact str (UTF-8 without lone surrogates), int within
 * 64 bits, bytes, None, and a principal whose attributes are such values. For anything else,
 * or a record over MAX_CAPTURE, it returns None and the caller takes the Python path, which
 * converts and bounds. frame() is audit.journal.frame() with the stream tag's CRC given.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

/* audit.request_record.MAX_CAPTURE: a longer record is captured again with its fields cut. */
#define MAX_CAPTURE (8 << 10)
#define FIELDS 11 /* capture()'s arguments */

/* marshal's type codes (Python/marshal.c); every reader since Python 3.4 takes them. */
#define TYPE_NONE 'N'
#define TYPE_INT 'i'
#define TYPE_LONG 'l'
#define TYPE_STRING 's'
#define TYPE_UNICODE 'u'
#define TYPE_SHORT_ASCII 'z'
#define TYPE_SMALL_TUPLE ')'
#define LONG_SHIFT 15

/* Not written: the caller takes the Python path. No Python error is set. */
#define UNSUPPORTED (-1)

typedef struct {
    unsigned char *at;
    unsigned char *end;
} Out;

static PyObject *name_subject, *name_username, *name_roles, *name_org_path;

static int put_bytes(Out *out, const void *data, Py_ssize_t size) {
    if (out->end - out->at < size) {
        return UNSUPPORTED;
    }
    memcpy(out->at, data, (size_t)size);
    out->at += size;
    return 0;
}

static int put_byte(Out *out, unsigned char value) {
    return put_bytes(out, &value, 1);
}

static void little_endian_32(unsigned char *at, uint32_t value) {
    at[0] = (unsigned char)value;
    at[1] = (unsigned char)(value >> 8);
    at[2] = (unsigned char)(value >> 16);
    at[3] = (unsigned char)(value >> 24);
}

static int put_u32(Out *out, uint32_t value) {
    unsigned char bytes[4];
    little_endian_32(bytes, value);
    return put_bytes(out, bytes, 4);
}

static int put_sized(Out *out, unsigned char type, const char *data, Py_ssize_t size) {
    if (size > MAX_CAPTURE || put_byte(out, type) || put_u32(out, (uint32_t)size)) {
        return UNSUPPORTED;
    }
    return put_bytes(out, data, size);
}

static int put_str(Out *out, PyObject *text) {
    if (!PyUnicode_CheckExact(text)) {
        return UNSUPPORTED;
    }
    Py_ssize_t size;
    if (PyUnicode_IS_ASCII(text) && (size = PyUnicode_GET_LENGTH(text)) < 256) {
        /* what marshal writes for most texts here: a byte of length, not four */
        if (put_byte(out, TYPE_SHORT_ASCII) || put_byte(out, (unsigned char)size)) {
            return UNSUPPORTED;
        }
        return put_bytes(out, PyUnicode_DATA(text), size);
    }
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    if (utf8 == NULL) { /* a lone surrogate: marshal writes it with "surrogatepass" */
        PyErr_Clear();
        return UNSUPPORTED;
    }
    return put_sized(out, TYPE_UNICODE, utf8, size);
}

static int put_int(Out *out, PyObject *number) {
    if (!PyLong_CheckExact(number)) { /* bool and int subclasses too */
        return UNSUPPORTED;
    }
    int overflow;
    long long value = PyLong_AsLongLongAndOverflow(number, &overflow);
    if (overflow || (value == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return UNSUPPORTED;
    }
    if (value >= INT32_MIN && value <= INT32_MAX) {
        if (put_byte(out, TYPE_INT)) {
            return UNSUPPORTED;
        }
        return put_u32(out, (uint32_t)(int32_t)value);
    }
    /* marshal's long: a signed count of 15-bit digits, least significant first, the last one
       not zero (marshal.loads refuses "unnormalized" data). */
    unsigned long long magnitude = value < 0 ? 0ULL - (unsigned long long)value
                                             : (unsigned long long)value;
    unsigned char digits[2 * 5];
    int count = 0;
    while (magnitude) {
        unsigned int digit = (unsigned int)(magnitude & ((1U << LONG_SHIFT) - 1));
        digits[2 * count] = (unsigned char)digit;
        digits[2 * count + 1] = (unsigned char)(digit >> 8);
        magnitude >>= LONG_SHIFT;
        count++;
    }
    if (put_byte(out, TYPE_LONG) || put_u32(out, (uint32_t)(int32_t)(value < 0 ? -count : count))) {
        return UNSUPPORTED;
    }
    return put_bytes(out, digits, 2 * count);
}

static int put_str_or_none(Out *out, PyObject *value) {
    return value == Py_None ? put_byte(out, TYPE_NONE) : put_str(out, value);
}

static int put_int_or_none(Out *out, PyObject *value) {
    return value == Py_None ? put_byte(out, TYPE_NONE) : put_int(out, value);
}

static int put_user_agent(Out *out, PyObject *value) {
    if (PyBytes_CheckExact(value)) {
        return put_sized(out, TYPE_STRING, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
    }
    return put_str_or_none(out, value);
}

/* getattr(principal, name, None); NULL with no error set when the attribute is missing, NULL
   with UNSUPPORTED semantics (error cleared) on any other error. */
static PyObject *attribute(PyObject *principal, PyObject *name, int *failed) {
    PyObject *value = PyObject_GetAttr(principal, name);
    if (value == NULL) {
        *failed = !PyErr_ExceptionMatches(PyExc_AttributeError);
        PyErr_Clear();
    }
    return value;
}

/* str(getattr(principal, name, "") or ""), for values that need no conversion. */
static int put_text_attribute(Out *out, PyObject *principal, PyObject *name) {
    int failed = 0;
    PyObject *value = attribute(principal, name, &failed);
    if (failed) {
        return UNSUPPORTED;
    }
    int result;
    if (value == NULL || value == Py_None) {
        result = put_byte(out, TYPE_SHORT_ASCII) || put_byte(out, 0) ? UNSUPPORTED : 0;
    } else {
        result = put_str(out, value);
    }
    Py_XDECREF(value);
    return result;
}

/* tuple(map(str, getattr(principal, "roles", ()) or ())), for a tuple, list, set or frozenset
   of str (an iterator would be used up here and be empty on the Python path). */
static int put_roles(Out *out, PyObject *principal) {
    int failed = 0;
    PyObject *roles = attribute(principal, name_roles, &failed);
    if (failed) {
        return UNSUPPORTED;
    }
    if (roles == NULL || roles == Py_None) {
        Py_XDECREF(roles);
        return put_byte(out, TYPE_SMALL_TUPLE) || put_byte(out, 0) ? UNSUPPORTED : 0;
    }
    int result = UNSUPPORTED;
    if (PyTuple_CheckExact(roles) || PyList_CheckExact(roles) || PyFrozenSet_CheckExact(roles)
        || PySet_CheckExact(roles)) {
        Py_ssize_t count = PyObject_Length(roles);
        PyObject *iterator = count >= 0 && count <= 255 ? PyObject_GetIter(roles) : NULL;
        if (iterator != NULL && !put_byte(out, TYPE_SMALL_TUPLE)
            && !put_byte(out, (unsigned char)count)) {
            Py_ssize_t written = 0;
            PyObject *role;
            result = 0;
            while (result == 0 && (role = PyIter_Next(iterator)) != NULL) {
                result = put_str(out, role);
                written++;
                Py_DECREF(role);
            }
            if (PyErr_Occurred() || written != count) {
                result = UNSUPPORTED;
            }
        }
        Py_XDECREF(iterator);
        PyErr_Clear();
    }
    Py_DECREF(roles);
    return result;
}

static int put_principal(Out *out, PyObject *principal) {
    if (principal == Py_None) {
        return put_byte(out, TYPE_NONE);
    }
    if (put_byte(out, TYPE_SMALL_TUPLE) || put_byte(out, 4)
        || put_text_attribute(out, principal, name_subject)
        || put_text_attribute(out, principal, name_username) || put_roles(out, principal)) {
        return UNSUPPORTED;
    }
    return put_text_attribute(out, principal, name_org_path);
}

PyDoc_STRVAR(capture_doc,
"capture(service, time_ns, method, path, route, status, duration_ns, client, user_agent,\n"
"        trace_id, principal, /)\n--\n\n"
"marshal bytes of audit.request_record.capture()'s tuple, or None for values it leaves to\n"
"the Python path (not of an exact builtin type, or a record over MAX_CAPTURE bytes).");

static PyObject *capture(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != FIELDS) {
        PyErr_Format(PyExc_TypeError, "capture() takes %d arguments (%zd given)", FIELDS, nargs);
        return NULL;
    }
    unsigned char buffer[MAX_CAPTURE];
    Out out = {buffer, buffer + sizeof buffer};
    static const unsigned char start[] = {TYPE_SMALL_TUPLE, 12, TYPE_SHORT_ASCII, 2, 'c', '1'};
    if (put_bytes(&out, start, sizeof start) || put_str(&out, args[0]) || put_int(&out, args[1])
        || put_str(&out, args[2]) || put_str(&out, args[3]) || put_str(&out, args[4])
        || put_int(&out, args[5]) || put_int_or_none(&out, args[6]) || put_str(&out, args[7])
        || put_user_agent(&out, args[8]) || put_str(&out, args[9])
        || put_principal(&out, args[10])) {
        Py_RETURN_NONE;
    }
    return PyBytes_FromStringAndSize((const char *)buffer, out.at - buffer);
}

PyDoc_STRVAR(frame_doc,
"frame(tag, tag_crc, payload, /)\n--\n\n"
"audit.journal.frame(tag, payload), given tag_crc == zlib.crc32(tag).");

static PyObject *frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1])
        || !PyBytes_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "frame() takes (bytes, int, bytes)");
        return NULL;
    }
    unsigned long tag_crc = PyLong_AsUnsignedLong(args[1]);
    if (tag_crc == (unsigned long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t tag_size = PyBytes_GET_SIZE(args[0]);
    Py_ssize_t payload_size = PyBytes_GET_SIZE(args[2]);
    if (tag_crc > UINT32_MAX || tag_size + payload_size > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "frame() tag CRC or body out of range");
        return NULL;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, 12 + tag_size + payload_size);
    if (result == NULL) {
        return NULL;
    }
    unsigned char *at = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *payload = (const unsigned char *)PyBytes_AS_STRING(args[2]);
    uLong crc = crc32_z((uLong)tag_crc, payload, (z_size_t)payload_size);
    memcpy(at, "\xa7" "AJ1", 4);
    little_endian_32(at + 4, (uint32_t)(tag_size + payload_size));
    little_endian_32(at + 8, (uint32_t)crc);
    memcpy(at + 12, PyBytes_AS_STRING(args[0]), (size_t)tag_size);
    memcpy(at + 12 + tag_size, payload, (size_t)payload_size);
    return result;
}

static PyMethodDef methods[] = {
    {"capture", (PyCFunction)(void (*)(void))capture, METH_FASTCALL, capture_doc},
    {"frame", (PyCFunction)(void (*)(void))frame, METH_FASTCALL, frame_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "audit._capture", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__capture(void) {
    name_subject = PyUnicode_InternFromString("subject");
    name_username = PyUnicode_InternFromString("username");
    name_roles = PyUnicode_InternFromString("roles");
    name_org_path = PyUnicode_InternFromString("org_path");
    if (!name_subject || !name_username || !name_roles || !name_org_path) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}

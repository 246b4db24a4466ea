/*
 * sgp32 core: the project-wide error model and the byte view.
 *
 * Every fallible call returns an int: SGP32_OK (0) or a negative sgp32_err.
 * Spec-level outcomes (subjectCode/reasonCode, eUICC result codes) never travel
 * here; they live in result structs (design principle 6).
 */
#ifndef SGP32_CORE_H
#define SGP32_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sgp32_err {
    SGP32_OK = 0,

    /* core: -1 .. -99 */
    SGP32_ERR_NO_MEMORY = -1,
    SGP32_ERR_INVALID_ARGUMENT = -2,
    SGP32_ERR_BUFFER_TOO_SMALL = -3,
    SGP32_ERR_CAPACITY = -4, /* a capped buffer or arena would exceed its cap */
    SGP32_ERR_STATE = -5,    /* event not allowed in the current state */
    SGP32_ERR_IO = -6,
    SGP32_ERR_NOT_FOUND = -7,
    SGP32_ERR_UNSUPPORTED = -8,
    SGP32_ERR_BAD_TEXT = -9, /* malformed hex / base64 / text input */

    /* asn1: -100 .. -199 */
    SGP32_ERR_ASN1_TRUNCATED = -100,      /* a TLV runs past its enclosing TLV */
    SGP32_ERR_ASN1_BAD_TAG = -101,        /* malformed tag encoding */
    SGP32_ERR_ASN1_BAD_LENGTH = -102,     /* non-minimal or oversized length */
    SGP32_ERR_ASN1_INDEFINITE = -103,     /* indefinite length (forbidden in DER) */
    SGP32_ERR_ASN1_TOO_DEEP = -104,       /* nesting depth limit reached */
    SGP32_ERR_ASN1_UNEXPECTED_TAG = -105, /* a tag the schema does not allow here */
    SGP32_ERR_ASN1_MISSING = -106,        /* a mandatory component is absent */
    SGP32_ERR_ASN1_BAD_VALUE = -107,      /* value encoding DER forbids */
    SGP32_ERR_ASN1_RANGE = -108,          /* integer does not fit */
    SGP32_ERR_ASN1_SIZE = -109,           /* SIZE constraint violated */
    SGP32_ERR_ASN1_UNKNOWN_CHOICE = -110, /* CHOICE alternative not in the schema */
    SGP32_ERR_ASN1_TRAILING = -111,       /* bytes after the top-level value */
    SGP32_ERR_ASN1_ORDER = -112,          /* components out of schema order / repeated */
    SGP32_ERR_ASN1_PRIMITIVE = -113,      /* constructed/primitive bit wrong */

    /* crypto and certificates: -200 .. -299 */
    SGP32_ERR_CRYPTO = -200,         /* the crypto library failed */
    SGP32_ERR_CRYPTO_BAD_KEY = -201, /* unparsable or off-curve key */
    SGP32_ERR_CRYPTO_BAD_SIGNATURE = -202,
    SGP32_ERR_CRYPTO_BAD_MAC = -203,
    SGP32_ERR_CRYPTO_BAD_PADDING = -204,
    SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE = -205,
    SGP32_ERR_CERT_PARSE = -220,
    SGP32_ERR_CERT_SIGNATURE = -221, /* certificate signature does not verify */
    SGP32_ERR_CERT_EXPIRED = -222,
    SGP32_ERR_CERT_NOT_YET_VALID = -223,
    SGP32_ERR_CERT_UNKNOWN_CI = -224,      /* chain does not lead to a trusted CI */
    SGP32_ERR_CERT_CHAIN = -225,           /* issuer/AKI/SKI linkage broken */
    SGP32_ERR_CERT_NAME_CONSTRAINT = -226, /* subject outside the EUM's permitted names */
    SGP32_ERR_CERT_EID_MISMATCH = -227,    /* certificate EID is not the expected one */
    SGP32_ERR_CERT_POLICY = -228,          /* certificate role policy wrong or missing */
    SGP32_ERR_CERT_EXTENSION = -229,       /* required extension missing or malformed */
    SGP32_ERR_EID_CHECK_DIGITS = -230,     /* EID mod 97 != 1 */
    SGP32_ERR_CERT_HOST_MISMATCH = -231,   /* TLS certificate is not for the expected host */

    /* storage / platform: -300 .. -399 */
    SGP32_ERR_STORE = -300,
    SGP32_ERR_STORE_CORRUPT = -301,
    SGP32_ERR_STORE_VERSION = -302,

    /* transport (lib/transport: APDU links, HTTPS clients): -400 .. -499 */
    SGP32_ERR_TRANSPORT_CONNECT = -400,     /* cannot reach the peer (refused, no such host or device) */
    SGP32_ERR_TRANSPORT_TLS = -401,         /* TLS handshake or server authentication failed */
    SGP32_ERR_TRANSPORT_TIMEOUT = -402,     /* the peer did not answer in time */
    SGP32_ERR_TRANSPORT_HTTP_STATUS = -403, /* an HTTP status the binding does not allow */
    SGP32_ERR_TRANSPORT_PROTOCOL = -404,    /* a malformed answer (framing, content type, JSON, AT) */
    SGP32_ERR_TRANSPORT_TOO_LARGE = -405,   /* the answer is over the configured cap */
    SGP32_ERR_TRANSPORT_CLOSED = -406,      /* the peer closed the link */
    SGP32_ERR_TRANSPORT_DEVICE = -407,      /* the reader or modem refused (no card, +CME ERROR) */
} sgp32_err;

/* A human-readable name for an error code ("asn1: value runs past its enclosing TLV"). */
const char *sgp32_err_str(int err);

/* A read-only view of bytes owned by someone else (usually the input buffer). */
typedef struct sgp32_bytes {
    const uint8_t *data;
    size_t len;
} sgp32_bytes;

#define SGP32_BYTES(ptr, n) ((sgp32_bytes){(const uint8_t *)(ptr), (n)})
#define SGP32_ARRAY_LEN(a)  (sizeof(a) / sizeof((a)[0]))

bool sgp32_bytes_equal(sgp32_bytes a, sgp32_bytes b);

#endif

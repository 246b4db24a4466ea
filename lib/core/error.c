/* Names for the project error codes (include/sgp32/core.h). */
#include <string.h>

#include "sgp32/core.h"

const char *sgp32_err_str(int err)
{
    switch ((sgp32_err)err) {
    case SGP32_OK: return "ok";
    case SGP32_ERR_NO_MEMORY: return "out of memory";
    case SGP32_ERR_INVALID_ARGUMENT: return "invalid argument";
    case SGP32_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
    case SGP32_ERR_CAPACITY: return "size cap exceeded";
    case SGP32_ERR_STATE: return "not allowed in the current state";
    case SGP32_ERR_IO: return "input/output error";
    case SGP32_ERR_NOT_FOUND: return "not found";
    case SGP32_ERR_UNSUPPORTED: return "not supported";
    case SGP32_ERR_BAD_TEXT: return "malformed text encoding (hex/base64)";
    case SGP32_ERR_ASN1_TRUNCATED: return "asn1: value runs past its enclosing TLV";
    case SGP32_ERR_ASN1_BAD_TAG: return "asn1: malformed tag";
    case SGP32_ERR_ASN1_BAD_LENGTH: return "asn1: malformed or non-minimal length";
    case SGP32_ERR_ASN1_INDEFINITE: return "asn1: indefinite length is not DER";
    case SGP32_ERR_ASN1_TOO_DEEP: return "asn1: nesting too deep";
    case SGP32_ERR_ASN1_UNEXPECTED_TAG: return "asn1: unexpected tag";
    case SGP32_ERR_ASN1_MISSING: return "asn1: mandatory component missing";
    case SGP32_ERR_ASN1_BAD_VALUE: return "asn1: value encoding not allowed by DER";
    case SGP32_ERR_ASN1_RANGE: return "asn1: integer out of range";
    case SGP32_ERR_ASN1_SIZE: return "asn1: size constraint violated";
    case SGP32_ERR_ASN1_UNKNOWN_CHOICE: return "asn1: unknown CHOICE alternative";
    case SGP32_ERR_ASN1_TRAILING: return "asn1: trailing bytes after the value";
    case SGP32_ERR_ASN1_ORDER: return "asn1: components out of order or repeated";
    case SGP32_ERR_ASN1_PRIMITIVE: return "asn1: wrong primitive/constructed form";
    case SGP32_ERR_CRYPTO: return "crypto: library failure";
    case SGP32_ERR_CRYPTO_BAD_KEY: return "crypto: invalid key";
    case SGP32_ERR_CRYPTO_BAD_SIGNATURE: return "crypto: signature does not verify";
    case SGP32_ERR_CRYPTO_BAD_MAC: return "crypto: MAC does not verify";
    case SGP32_ERR_CRYPTO_BAD_PADDING: return "crypto: bad padding";
    case SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE: return "crypto: unsupported curve";
    case SGP32_ERR_CERT_PARSE: return "certificate: cannot parse";
    case SGP32_ERR_CERT_SIGNATURE: return "certificate: signature does not verify";
    case SGP32_ERR_CERT_EXPIRED: return "certificate: expired";
    case SGP32_ERR_CERT_NOT_YET_VALID: return "certificate: not yet valid";
    case SGP32_ERR_CERT_UNKNOWN_CI: return "certificate: issued by an unknown CI";
    case SGP32_ERR_CERT_CHAIN: return "certificate: chain linkage broken";
    case SGP32_ERR_CERT_NAME_CONSTRAINT: return "certificate: subject outside the EUM's permitted names";
    case SGP32_ERR_CERT_EID_MISMATCH: return "certificate: EID mismatch";
    case SGP32_ERR_CERT_POLICY: return "certificate: wrong or missing role policy";
    case SGP32_ERR_CERT_EXTENSION: return "certificate: required extension missing or malformed";
    case SGP32_ERR_EID_CHECK_DIGITS: return "EID check digits wrong";
    case SGP32_ERR_CERT_HOST_MISMATCH: return "certificate: not issued for this host name";
    case SGP32_ERR_STORE: return "storage error";
    case SGP32_ERR_STORE_CORRUPT: return "stored state is corrupt";
    case SGP32_ERR_STORE_VERSION: return "stored state has an unsupported version";
    case SGP32_ERR_TRANSPORT_CONNECT: return "transport: cannot reach the peer";
    case SGP32_ERR_TRANSPORT_TLS: return "transport: TLS handshake or server authentication failed";
    case SGP32_ERR_TRANSPORT_TIMEOUT: return "transport: timed out";
    case SGP32_ERR_TRANSPORT_HTTP_STATUS: return "transport: unexpected HTTP status";
    case SGP32_ERR_TRANSPORT_PROTOCOL: return "transport: malformed answer";
    case SGP32_ERR_TRANSPORT_TOO_LARGE: return "transport: answer over the size cap";
    case SGP32_ERR_TRANSPORT_CLOSED: return "transport: the peer closed the link";
    case SGP32_ERR_TRANSPORT_DEVICE: return "transport: the reader or modem refused";
    }
    return "unknown error";
}

bool sgp32_bytes_equal(sgp32_bytes a, sgp32_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

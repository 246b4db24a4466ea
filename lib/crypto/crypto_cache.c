/*
 * Process-wide caches of lib/crypto (docs/crypto.md, "Caches").
 *
 * OpenSSL 3 is slow at setting objects up, not at curve arithmetic: fetching
 * an algorithm, building an EVP_PKEY from raw bytes (EVP_PKEY_fromdata makes a
 * new EC_GROUP each time, a full public-key check multiplies by the order) and
 * d2i_X509 (the key goes through the decoder framework) each cost as much as a
 * signature. The SM-DP+ handles the same few keys and certificates over and
 * over, so this file keeps:
 *
 *   - the algorithms (SHA-256, CMAC, AES-128-CBC/ECB, X9.63 KDF) and the two
 *     EC_GROUPs, fetched or built once and never freed (reachable from statics);
 *   - EVP_PKEYs built from raw public points and private scalars, keyed by
 *     (curve, exact key bytes), KEY_SLOTS entries in sets of KEY_WAYS, least
 *     recently used of its set out;
 *     only keys that passed every check of the uncached path enter;
 *   - sgp32_cert_parse results (with the signed part the chain verifier
 *     needs), keyed by the exact DER, CERT_SLOTS entries;
 *   - verified certificate links "child DER names parent DER as issuer and its
 *     signature verifies under the parent's key", keyed by both exact DERs,
 *     LINK_SLOTS entries. Only positive results are kept: both facts are pure
 *     functions of the two byte strings, so a hit answers exactly what a
 *     recomputation would. Dates, roles, EIDs, name constraints and the CI set
 *     are checked on every call by the verifier, never cached.
 *
 * One mutex guards all three tables; lookups copy out (or take an EVP_PKEY
 * reference) under it, the expensive work runs outside it. Private scalars are
 * compared with CRYPTO_memcmp and wiped (entry and EVP_PKEY) on eviction, on
 * flush and at exit. Nothing here is ever logged.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "certificate_internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>

/* Keys are a set-associative table: a server meets its own few keys on every call and thousands
 * of eUICC keys now and then; KEY_WAYS slots per set, LRU within the set, so one busy key is
 * never pushed out by a stream of others that hash elsewhere. */
enum { KEY_SETS = 512, KEY_WAYS = 4, KEY_SLOTS = KEY_SETS * KEY_WAYS, CERT_SLOTS = 256, LINK_SLOTS = 64 };

/* ------------------------------------------------------------ algorithms */

static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_MD *alg_sha256;
static EVP_MAC *alg_cmac;
static EVP_CIPHER *alg_aes_cbc, *alg_aes_ecb;
static EVP_KDF *alg_x963;
static EC_GROUP *groups[2];

static void cache_at_exit(void);

static void algs_init(void)
{
    alg_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    alg_cmac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    alg_aes_cbc = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
    alg_aes_ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
    alg_x963 = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_X963KDF, NULL);
    groups[0] = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    groups[1] = EC_GROUP_new_by_curve_name(NID_brainpoolP256r1);
    /* After OpenSSL's own initialisation, so (atexit is LIFO) the keys go before OpenSSL does. */
    atexit(cache_at_exit);
}

static void algs(void)
{
    pthread_once(&algs_once, algs_init);
}

const EVP_MD *sgp32_crypto_sha256_md(void)
{
    algs();
    return alg_sha256;
}

EVP_MAC *sgp32_crypto_cmac_mac(void)
{
    algs();
    return alg_cmac;
}

const EVP_CIPHER *sgp32_crypto_aes128(bool cbc)
{
    algs();
    return cbc ? alg_aes_cbc : alg_aes_ecb;
}

EVP_KDF *sgp32_crypto_x963_kdf(void)
{
    algs();
    return alg_x963;
}

const EC_GROUP *sgp32_crypto_ec_group(sgp32_curve curve)
{
    algs();
    switch (curve) {
    case SGP32_CURVE_NIST_P256: return groups[0];
    case SGP32_CURVE_BRAINPOOL_P256R1: return groups[1];
    }
    return NULL;
}

/* ------------------------------------------------------------ tables */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool shut_down; /* after exit began: every lookup misses, nothing is stored */
static uint64_t tick;
static sgp32_crypto_cache_stats stats;

typedef struct key_slot {
    EVP_PKEY *pkey; /* NULL: free slot */
    uint64_t used;
    bool private_key;
    sgp32_curve curve;
    size_t len;                        /* 65 (point) or 32 (scalar) */
    uint8_t bytes[SGP32_EC_POINT_LEN]; /* the exact key bytes */
} key_slot;

typedef struct cert_slot {
    uint8_t *der; /* NULL: free slot */
    size_t len;
    uint64_t hash, used;
    sgp32_certificate cert;
    sgp32_certi_signed signed_part;
} cert_slot;

typedef struct link_slot {
    uint8_t *der; /* child DER then parent DER; NULL: free slot */
    size_t child_len, parent_len;
    uint64_t hash, used;
} link_slot;

static key_slot keys[KEY_SLOTS];
static cert_slot certs[CERT_SLOTS];
static link_slot links[LINK_SLOTS];

/* FNV-1a: only picks the candidates, equality is always decided on the full bytes. */
static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void key_slot_clear(key_slot *k)
{
    EVP_PKEY_free(k->pkey); /* a holder's reference keeps it alive; OpenSSL clears the scalar when freed */
    sgp32_secure_zero(k, sizeof(*k));
}

static void cert_slot_clear(cert_slot *c)
{
    free(c->der);
    memset(c, 0, sizeof(*c));
}

static void link_slot_clear(link_slot *l)
{
    free(l->der);
    memset(l, 0, sizeof(*l));
}

static void flush_locked(void)
{
    for (size_t i = 0; i < KEY_SLOTS; i++)
        if (keys[i].pkey)
            key_slot_clear(&keys[i]);
    for (size_t i = 0; i < CERT_SLOTS; i++)
        if (certs[i].der)
            cert_slot_clear(&certs[i]);
    for (size_t i = 0; i < LINK_SLOTS; i++)
        if (links[i].der)
            link_slot_clear(&links[i]);
}

void sgp32_crypto_cache_flush(void)
{
    pthread_mutex_lock(&lock);
    flush_locked();
    pthread_mutex_unlock(&lock);
}

static void cache_at_exit(void)
{
    pthread_mutex_lock(&lock);
    shut_down = true;
    flush_locked();
    pthread_mutex_unlock(&lock);
}

void sgp32_crypto_cache_get_stats(sgp32_crypto_cache_stats *out)
{
    pthread_mutex_lock(&lock);
    *out = stats;
    out->keys = out->certs = out->links = 0;
    for (size_t i = 0; i < KEY_SLOTS; i++)
        out->keys += keys[i].pkey != NULL;
    for (size_t i = 0; i < CERT_SLOTS; i++)
        out->certs += certs[i].der != NULL;
    for (size_t i = 0; i < LINK_SLOTS; i++)
        out->links += links[i].der != NULL;
    pthread_mutex_unlock(&lock);
}

bool sgp32_crypto_cache_holds_bytes(const uint8_t *p, size_t n)
{
    if (!p || n == 0)
        return false;
    pthread_mutex_lock(&lock);
    const uint8_t *mem = (const uint8_t *)keys;
    bool found = false;
    for (size_t i = 0; !found && i + n <= sizeof(keys); i++)
        found = memcmp(mem + i, p, n) == 0;
    pthread_mutex_unlock(&lock);
    return found;
}

/* ------------------------------------------------------------ keys */

static bool key_matches(const key_slot *k, bool private_key, sgp32_curve curve, const uint8_t *bytes,
                        size_t len)
{
    if (!k->pkey || k->private_key != private_key || k->curve != curve || k->len != len)
        return false;
    return private_key ? CRYPTO_memcmp(k->bytes, bytes, len) == 0 : memcmp(k->bytes, bytes, len) == 0;
}

/* The set a key belongs to. */
static key_slot *key_set(bool private_key, sgp32_curve curve, const uint8_t *bytes, size_t len)
{
    uint64_t h =
        fnv(0xcbf29ce484222325ull ^ (uint64_t)(private_key ? 2 : 1) ^ ((uint64_t)curve << 8), bytes, len);
    return &keys[(h % KEY_SETS) * KEY_WAYS];
}

/* A new reference to the cached key, or NULL. */
static EVP_PKEY *key_find(bool private_key, sgp32_curve curve, const uint8_t *bytes, size_t len)
{
    algs(); /* registers the exit wipe before anything can be stored */
    EVP_PKEY *found = NULL;
    key_slot *set = key_set(private_key, curve, bytes, len);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; !shut_down && i < KEY_WAYS; i++) {
        key_slot *k = &set[i];
        if (key_matches(k, private_key, curve, bytes, len) && EVP_PKEY_up_ref(k->pkey) == 1) {
            k->used = ++tick;
            found = k->pkey;
            break;
        }
    }
    if (found)
        stats.key_hits++;
    else
        stats.key_misses++;
    pthread_mutex_unlock(&lock);
    return found;
}

/* Keep a reference to pkey (if another thread stored the same key meanwhile, keep that one). */
static void key_store(bool private_key, sgp32_curve curve, const uint8_t *bytes, size_t len, EVP_PKEY *pkey)
{
    key_slot *set = key_set(private_key, curve, bytes, len);
    pthread_mutex_lock(&lock);
    key_slot *victim = NULL;
    bool present = false;
    for (size_t i = 0; !shut_down && i < KEY_WAYS && !present; i++) {
        key_slot *k = &set[i];
        present = key_matches(k, private_key, curve, bytes, len);
        if (!k->pkey) {
            if (!victim || victim->pkey)
                victim = k;
        } else if (!victim || (victim->pkey && k->used < victim->used)) {
            victim = k;
        }
    }
    if (!shut_down && !present && victim && EVP_PKEY_up_ref(pkey) == 1) {
        if (victim->pkey) {
            stats.key_evictions++;
            key_slot_clear(victim);
        }
        victim->pkey = pkey;
        victim->used = ++tick;
        victim->private_key = private_key;
        victim->curve = curve;
        victim->len = len;
        memcpy(victim->bytes, bytes, len);
    }
    pthread_mutex_unlock(&lock);
}

int sgp32_crypto_pkey_public_cached(const sgp32_ec_public_key *pub, EVP_PKEY **out)
{
    if (!pub || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = key_find(false, pub->curve, pub->point, SGP32_EC_POINT_LEN);
    if (*out)
        return SGP32_OK;
    int rc = sgp32_crypto_pkey_from_public(pub, out);
    if (rc == SGP32_OK)
        key_store(false, pub->curve, pub->point, SGP32_EC_POINT_LEN, *out);
    return rc;
}

int sgp32_crypto_pkey_private_cached(const sgp32_ec_private_key *priv, EVP_PKEY **out)
{
    if (!priv || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = key_find(true, priv->curve, priv->scalar, SGP32_EC_SCALAR_LEN);
    if (*out)
        return SGP32_OK;
    int rc = sgp32_crypto_pkey_from_private(priv, out);
    if (rc == SGP32_OK)
        key_store(true, priv->curve, priv->scalar, SGP32_EC_SCALAR_LEN, *out);
    return rc;
}

/* ------------------------------------------------------------ certificates */

bool sgp32_certi_parse_cache_get(const uint8_t *der, size_t len, sgp32_certificate *cert,
                                 sgp32_certi_signed *signed_part)
{
    algs();
    uint64_t h = fnv(0xcbf29ce484222325ULL, der, len);
    bool found = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; !shut_down && i < CERT_SLOTS && !found; i++) {
        cert_slot *c = &certs[i];
        if (c->der && c->hash == h && c->len == len && memcmp(c->der, der, len) == 0) {
            c->used = ++tick;
            *cert = c->cert;
            if (signed_part)
                *signed_part = c->signed_part;
            found = true;
        }
    }
    if (found)
        stats.cert_hits++;
    else
        stats.cert_misses++;
    pthread_mutex_unlock(&lock);
    return found;
}

void sgp32_certi_parse_cache_put(const uint8_t *der, size_t len, const sgp32_certificate *cert,
                                 const sgp32_certi_signed *signed_part)
{
    uint64_t h = fnv(0xcbf29ce484222325ULL, der, len);
    uint8_t *copy = malloc(len);
    if (!copy)
        return;
    memcpy(copy, der, len);
    pthread_mutex_lock(&lock);
    cert_slot *victim = NULL;
    bool present = false;
    for (size_t i = 0; !shut_down && i < CERT_SLOTS && !present; i++) {
        cert_slot *c = &certs[i];
        present = c->der && c->hash == h && c->len == len && memcmp(c->der, der, len) == 0;
        if (!c->der) {
            if (!victim || victim->der)
                victim = c;
        } else if (!victim || (victim->der && c->used < victim->used)) {
            victim = c;
        }
    }
    if (!shut_down && !present && victim) {
        if (victim->der) {
            stats.cert_evictions++;
            cert_slot_clear(victim);
        }
        victim->der = copy;
        copy = NULL;
        victim->len = len;
        victim->hash = h;
        victim->used = ++tick;
        victim->cert = *cert;
        victim->signed_part = *signed_part;
    }
    pthread_mutex_unlock(&lock);
    free(copy);
}

static uint64_t link_hash(sgp32_bytes child, sgp32_bytes parent)
{
    return fnv(fnv(0xcbf29ce484222325ULL, child.data, child.len) ^ child.len, parent.data, parent.len);
}

static bool link_matches(const link_slot *l, uint64_t h, sgp32_bytes child, sgp32_bytes parent)
{
    return l->der && l->hash == h && l->child_len == child.len && l->parent_len == parent.len &&
           memcmp(l->der, child.data, child.len) == 0 &&
           memcmp(l->der + child.len, parent.data, parent.len) == 0;
}

bool sgp32_certi_link_known(sgp32_bytes child, sgp32_bytes parent)
{
    algs();
    uint64_t h = link_hash(child, parent);
    bool found = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; !shut_down && i < LINK_SLOTS && !found; i++) {
        if (link_matches(&links[i], h, child, parent)) {
            links[i].used = ++tick;
            found = true;
        }
    }
    if (found)
        stats.link_hits++;
    else
        stats.link_misses++;
    pthread_mutex_unlock(&lock);
    return found;
}

void sgp32_certi_link_remember(sgp32_bytes child, sgp32_bytes parent)
{
    uint64_t h = link_hash(child, parent);
    uint8_t *copy = malloc(child.len + parent.len);
    if (!copy)
        return;
    memcpy(copy, child.data, child.len);
    memcpy(copy + child.len, parent.data, parent.len);
    pthread_mutex_lock(&lock);
    link_slot *victim = NULL;
    bool present = false;
    for (size_t i = 0; !shut_down && i < LINK_SLOTS && !present; i++) {
        link_slot *l = &links[i];
        present = link_matches(l, h, child, parent);
        if (!l->der) {
            if (!victim || victim->der)
                victim = l;
        } else if (!victim || (victim->der && l->used < victim->used)) {
            victim = l;
        }
    }
    if (!shut_down && !present && victim) {
        if (victim->der) {
            stats.link_evictions++;
            link_slot_clear(victim);
        }
        victim->der = copy;
        copy = NULL;
        victim->child_len = child.len;
        victim->parent_len = parent.len;
        victim->hash = h;
        victim->used = ++tick;
    }
    pthread_mutex_unlock(&lock);
    free(copy);
}

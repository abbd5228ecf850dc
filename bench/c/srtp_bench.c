/*
 * libsrtp2 side of `npm run bench -- srtp` (bench/srtp.ts builds this with
 * cc into .build/bench/ and drives it over stdin/stdout).
 *
 * One request per line:  <suite> <payload octets> <milliseconds>
 * One answer per line:    <protect pkt/s> <unprotect pkt/s> <packets>
 *                     or  ERR <what>
 * EOF on stdin ends the process.
 *
 * Method (the same as bench/srtp.ts does for sipsec, and as peers.md §8):
 * fresh sender and receiver sessions per request; batches of 1024 RTP
 * packets (12-octet header, payload of the given size, consecutive SEQ)
 * prepared outside the timed region; protect of the batch timed, then
 * unprotect of the batch timed; every packet checked; batches repeat
 * until the time is used up.
 */
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 1024
#define HDR 12

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sets both policies for a suite; returns key+salt length or 0 if unknown. */
static int suite_policy(const char *suite, srtp_policy_t *p)
{
    if (strcmp(suite, "AES_CM_128_HMAC_SHA1_80") == 0) {
        srtp_crypto_policy_set_rtp_default(&p->rtp);
        srtp_crypto_policy_set_rtcp_default(&p->rtcp);
        return SRTP_AES_ICM_128_KEY_LEN_WSALT;
    }
    if (strcmp(suite, "AES_CM_128_HMAC_SHA1_32") == 0) {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
        srtp_crypto_policy_set_rtcp_default(&p->rtcp);
        return SRTP_AES_ICM_128_KEY_LEN_WSALT;
    }
    if (strcmp(suite, "AES_256_CM_HMAC_SHA1_80") == 0) {
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&p->rtp);
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&p->rtcp);
        return SRTP_AES_ICM_256_KEY_LEN_WSALT;
    }
    if (strcmp(suite, "AEAD_AES_128_GCM") == 0) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
        return SRTP_AES_GCM_128_KEY_LEN_WSALT;
    }
    if (strcmp(suite, "AEAD_AES_256_GCM") == 0) {
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtcp);
        return SRTP_AES_GCM_256_KEY_LEN_WSALT;
    }
    return 0;
}

static int make_session(srtp_t *s, const char *suite, unsigned char *key, srtp_ssrc_type_t type)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    if (!suite_policy(suite, &p))
        return -1;
    p.ssrc.type = type;
    p.key = key;
    p.window_size = 128;
    p.allow_repeat_tx = 0;
    p.next = NULL;
    return srtp_create(s, &p) == srtp_err_status_ok ? 0 : -1;
}

static void run(const char *suite, int size, int ms)
{
    unsigned char key[64];
    srtp_policy_t probe;
    memset(&probe, 0, sizeof probe);
    int keylen = suite_policy(suite, &probe);
    if (!keylen || size < 0 || size > 8192 || ms <= 0 || ms > 60000) {
        printf("ERR bad request\n");
        return;
    }
    for (int i = 0; i < keylen; i++)
        key[i] = (unsigned char)(rand() & 0xff);

    srtp_t tx, rx;
    if (make_session(&tx, suite, key, ssrc_any_outbound) || make_session(&rx, suite, key, ssrc_any_inbound)) {
        printf("ERR srtp_create\n");
        return;
    }
    size_t stride = (size_t)(HDR + size + SRTP_MAX_TRAILER_LEN + 15) & ~(size_t)15;
    unsigned char *bufs = aligned_alloc(16, stride * BATCH);
    unsigned char *plain = malloc((size_t)size + 1);
    int lens[BATCH];
    if (!bufs || !plain) {
        printf("ERR alloc\n");
        return;
    }
    for (int i = 0; i < size; i++)
        plain[i] = (unsigned char)i;

    uint32_t seq = 0;
    double tp = 0, tu = 0;
    long packets = 0;
    double deadline = now_s() + ms / 1000.0;
    int failed = 0;
    /* Bounded: ends at the deadline, or at 2^31 packets whichever first. */
    while (now_s() < deadline && packets < 0x7fffffffL - BATCH && !failed) {
        for (int i = 0; i < BATCH; i++, seq++) {
            unsigned char *b = bufs + stride * i;
            b[0] = 0x80;
            b[1] = 0x00;
            b[2] = (unsigned char)(seq >> 8);
            b[3] = (unsigned char)seq;
            memset(b + 4, 0, 4);
            b[8] = 0x11; b[9] = 0x22; b[10] = 0x33; b[11] = 0x44;
            memcpy(b + HDR, plain, (size_t)size);
        }
        double t0 = now_s();
        for (int i = 0; i < BATCH; i++) {
            lens[i] = HDR + size;
            if (srtp_protect(tx, bufs + stride * i, &lens[i]) != srtp_err_status_ok)
                failed = 1;
        }
        double t1 = now_s();
        for (int i = 0; i < BATCH; i++) {
            if (srtp_unprotect(rx, bufs + stride * i, &lens[i]) != srtp_err_status_ok)
                failed = 1;
        }
        double t2 = now_s();
        for (int i = 0; i < BATCH; i++) {
            if (lens[i] != HDR + size || memcmp(bufs + stride * i + HDR, plain, (size_t)size) != 0)
                failed = 1;
        }
        tp += t1 - t0;
        tu += t2 - t1;
        packets += BATCH;
    }
    if (failed)
        printf("ERR round trip failed\n");
    else
        printf("%.0f %.0f %ld\n", packets / tp, packets / tu, packets);
    free(bufs);
    free(plain);
    srtp_dealloc(tx);
    srtp_dealloc(rx);
}

int main(void)
{
    char line[256], suite[64];
    int size, ms;
    if (srtp_init() != srtp_err_status_ok) {
        printf("ERR srtp_init\n");
        return 1;
    }
    srand(1);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("READY %s\n", srtp_get_version_string());
    while (fgets(line, sizeof line, stdin)) {
        if (sscanf(line, "%63s %d %d", suite, &size, &ms) != 3) {
            printf("ERR parse\n");
            continue;
        }
        run(suite, size, ms);
    }
    srtp_shutdown();
    return 0;
}

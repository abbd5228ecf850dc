/*
 * libsrtp2 peer for test/srtp/libsrtp.test.ts. The test compiles this with
 * cc into a temp dir and feeds it a script on stdin; one answer line per
 * command on stdout. Input is trusted (the test writes it) but still
 * length-checked, and every loop is bounded by the input.
 *
 * Commands (hex without spaces):
 *   S <id> <suite> <tx|rx> <rtcp-tag-bits 80|32> <flags> <keyspec>[,<keyspec>...]
 *       id 0..15; flags "-" or letters: e = UNENCRYPTED_SRTP,
 *       c = UNENCRYPTED_SRTCP, a = UNAUTHENTICATED_SRTP;
 *       keyspec = <key||salt>[:<mki>]
 *   P <id> <rtp|rtcp> <mki index, -1 = no MKI> <packet>   protect
 *   U <id> <rtp|rtcp> <use mki 0|1> <packet>               unprotect
 * Answers: "OK" | "OK <packet>" | "ERR <srtp_err_status_t>" | "BAD <what>".
 */
#include <srtp2/srtp.h>
#include <srtp2/crypto_types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SESSIONS 16
#define MAX_KEYS 4
#define MAX_PKT 4096

static srtp_t sessions[MAX_SESSIONS];

static int unhex(const char *s, unsigned char *out, int max)
{
    int n = (int)strlen(s);
    if (n % 2 || n / 2 > max)
        return -1;
    for (int i = 0; i < n / 2; i++) {
        unsigned int v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return n / 2;
}

static void puthex(const unsigned char *p, int n)
{
    printf("OK ");
    for (int i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

/* RTP and RTCP crypto policies for one suite; 0 when unknown. */
static int suite_policy(const char *suite, int rtcp32, srtp_crypto_policy_t *rtp, srtp_crypto_policy_t *rtcp)
{
    if (!strcmp(suite, "AES_CM_128_HMAC_SHA1_80")) {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp);
    } else if (!strcmp(suite, "AES_CM_128_HMAC_SHA1_32")) {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(rtp);
        if (rtcp32)
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(rtcp);
        else
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp);
    } else if (!strcmp(suite, "AES_192_CM_HMAC_SHA1_80")) {
        srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(rtp);
        srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(rtcp);
    } else if (!strcmp(suite, "AES_192_CM_HMAC_SHA1_32")) {
        srtp_crypto_policy_set_aes_cm_192_hmac_sha1_32(rtp);
        if (rtcp32)
            srtp_crypto_policy_set_aes_cm_192_hmac_sha1_32(rtcp);
        else
            srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(rtcp);
    } else if (!strcmp(suite, "AES_256_CM_HMAC_SHA1_80")) {
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtp);
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp);
    } else if (!strcmp(suite, "AES_256_CM_HMAC_SHA1_32")) {
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(rtp);
        if (rtcp32)
            srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(rtcp);
        else
            srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp);
    } else if (!strcmp(suite, "AEAD_AES_128_GCM")) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(rtcp);
    } else if (!strcmp(suite, "AEAD_AES_256_GCM")) {
        srtp_crypto_policy_set_aes_gcm_256_16_auth(rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(rtcp);
    } else {
        return 0;
    }
    return 1;
}

static void cmd_session(char *args)
{
    int id, bits;
    char suite[64], dir[8], flags[8], keyspecs[1024];
    static unsigned char keys[MAX_SESSIONS][MAX_KEYS][64];
    static unsigned char mkis[MAX_SESSIONS][MAX_KEYS][32];
    static srtp_master_key_t mk[MAX_SESSIONS][MAX_KEYS];
    static srtp_master_key_t *mkp[MAX_SESSIONS][MAX_KEYS];
    if (sscanf(args, "%d %63s %7s %d %7s %1023s", &id, suite, dir, &bits, flags, keyspecs) != 6 || id < 0 || id >= MAX_SESSIONS) {
        printf("BAD session args\n");
        return;
    }
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    if (!suite_policy(suite, bits == 32, &p.rtp, &p.rtcp)) {
        printf("BAD suite\n");
        return;
    }
    if (strchr(flags, 'e'))
        p.rtp.sec_serv = sec_serv_auth;
    if (strchr(flags, 'c'))
        p.rtcp.sec_serv = sec_serv_auth;
    if (strchr(flags, 'a')) {
        /* UNAUTHENTICATED_SRTP: libsrtp's null-auth variant of the cipher. */
        p.rtp.auth_type = SRTP_NULL_AUTH;
        p.rtp.auth_key_len = 0;
        p.rtp.auth_tag_len = 0;
        p.rtp.sec_serv = sec_serv_conf;
    }
    p.ssrc.type = strcmp(dir, "tx") == 0 ? ssrc_any_outbound : ssrc_any_inbound;
    p.window_size = 128;
    int nkeys = 0, with_mki = 0;
    for (char *spec = strtok(keyspecs, ","); spec && nkeys < MAX_KEYS; spec = strtok(NULL, ","), nkeys++) {
        char *colon = strchr(spec, ':');
        if (colon)
            *colon = 0;
        if (unhex(spec, keys[id][nkeys], 64) < 0) {
            printf("BAD key\n");
            return;
        }
        mk[id][nkeys].key = keys[id][nkeys];
        mk[id][nkeys].mki_id = NULL;
        mk[id][nkeys].mki_size = 0;
        if (colon) {
            int n = unhex(colon + 1, mkis[id][nkeys], 32);
            if (n <= 0) {
                printf("BAD mki\n");
                return;
            }
            mk[id][nkeys].mki_id = mkis[id][nkeys];
            mk[id][nkeys].mki_size = (unsigned)n;
            with_mki = 1;
        }
        mkp[id][nkeys] = &mk[id][nkeys];
    }
    if (with_mki) {
        p.keys = mkp[id];
        p.num_master_keys = (unsigned long)nkeys;
    } else {
        p.key = keys[id][0];
    }
    if (sessions[id]) {
        srtp_dealloc(sessions[id]);
        sessions[id] = NULL;
    }
    srtp_err_status_t st = srtp_create(&sessions[id], &p);
    if (st != srtp_err_status_ok) {
        printf("ERR %d\n", st);
        return;
    }
    printf("OK\n");
}

static void cmd_packet(char *args, int protect)
{
    int id, mki;
    char kind[8], hex[2 * MAX_PKT + 2];
    unsigned char buf[MAX_PKT + SRTP_MAX_TRAILER_LEN + 16];
    if (sscanf(args, "%d %7s %d %8193s", &id, kind, &mki, hex) != 4 || id < 0 || id >= MAX_SESSIONS || !sessions[id]) {
        printf("BAD packet args\n");
        return;
    }
    int len = unhex(hex, buf, MAX_PKT);
    if (len < 0) {
        printf("BAD hex\n");
        return;
    }
    int rtcp = strcmp(kind, "rtcp") == 0;
    srtp_err_status_t st;
    if (protect) {
        unsigned use = mki >= 0, idx = mki >= 0 ? (unsigned)mki : 0;
        st = rtcp ? srtp_protect_rtcp_mki(sessions[id], buf, &len, use, idx)
                  : srtp_protect_mki(sessions[id], buf, &len, use, idx);
    } else {
        st = rtcp ? srtp_unprotect_rtcp_mki(sessions[id], buf, &len, (unsigned)mki)
                  : srtp_unprotect_mki(sessions[id], buf, &len, (unsigned)mki);
    }
    if (st != srtp_err_status_ok) {
        printf("ERR %d\n", st);
        return;
    }
    puthex(buf, len);
}

int main(void)
{
    static char line[2 * MAX_PKT + 256];
    if (srtp_init() != srtp_err_status_ok) {
        printf("BAD srtp_init\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("READY %s\n", srtp_get_version_string());
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == 'S' && line[1] == ' ')
            cmd_session(line + 2);
        else if (line[0] == 'P' && line[1] == ' ')
            cmd_packet(line + 2, 1);
        else if (line[0] == 'U' && line[1] == ' ')
            cmd_packet(line + 2, 0);
        else if (line[0])
            printf("BAD command\n");
    }
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i])
            srtp_dealloc(sessions[i]);
    srtp_shutdown();
    return 0;
}

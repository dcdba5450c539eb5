// multigen.c - the data-plane benchmark's load for many tunnels: the same AMT Multicast Data as
// ../shared/tools/dataplane-ref/gen.c ("gen amt": 2-byte AMT header, inner IPv4/UDP for (10.99.1.100, 232.1.1.1),
// 1,316-byte payload), from one socket, by sendmmsg, to TUNNELS consecutive ports from BASEPORT in turn (one
// tunnel socket each), paced to RATE datagrams/s in all (0: as fast as it can).
// usage: multigen DST BASEPORT TUNNELS RATE [batch [srcport]]  (srcport: the "relay" port the tunnels expect)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static uint16_t csum16(const uint8_t *p, int n) {
    uint32_t s = 0;
    for (int i = 0; i < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: multigen DST BASEPORT TUNNELS RATE [batch]\n"); return 2; }
    const char *dst = argv[1];
    int base = atoi(argv[2]), tunnels = atoi(argv[3]);
    double rate = atof(argv[4]);
    int batch = argc > 5 ? atoi(argv[5]) : 64;
    if (batch > 1024) batch = 1024;
    if (tunnels < 1) tunnels = 1;
    signal(SIGTERM, on_sig); signal(SIGINT, on_sig);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    if (argc > 6) {
        struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[6]))};
        if (bind(fd, (struct sockaddr *)&from, sizeof from)) { perror("bind"); return 1; }
    }
    int sb = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sb, sizeof sb);

    static uint8_t buf[2048];
    buf[0] = 0x06; buf[1] = 0x00;
    uint8_t *ip = buf + 2;
    int iplen = 20 + 8 + 1316;
    ip[0] = 0x45; ip[2] = iplen >> 8; ip[3] = iplen & 0xff; ip[4] = 0x12; ip[5] = 0x34; ip[6] = 0x40;
    ip[8] = 64; ip[9] = 17;
    inet_pton(AF_INET, "10.99.1.100", ip + 12);
    inet_pton(AF_INET, "232.1.1.1", ip + 16);
    uint16_t c = csum16(ip, 20); ip[10] = c >> 8; ip[11] = c & 0xff;
    uint8_t *udp = ip + 20;
    udp[0] = 5000 >> 8; udp[1] = 5000 & 0xff; udp[2] = 5000 >> 8; udp[3] = 5000 & 0xff;
    udp[4] = (8 + 1316) >> 8; udp[5] = (8 + 1316) & 0xff;
    for (int i = 0; i < 1316; i++) udp[8 + i] = (i % 188 == 0) ? 0x47 : (uint8_t)i;
    int len = 2 + iplen;

    struct sockaddr_in *to = calloc(tunnels, sizeof *to);
    for (int t = 0; t < tunnels; t++) {
        to[t].sin_family = AF_INET; to[t].sin_port = htons(base + t);
        inet_pton(AF_INET, dst, &to[t].sin_addr);
    }
    static struct mmsghdr msgs[1024];
    static struct iovec iov;
    iov.iov_base = buf; iov.iov_len = len;
    for (int i = 0; i < batch; i++) {
        msgs[i].msg_hdr.msg_iov = &iov; msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
    }
    unsigned long long sent = 0, errs = 0, next = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!stop) {
        for (int i = 0; i < batch; i++) msgs[i].msg_hdr.msg_name = &to[(next + i) % tunnels];
        int r = sendmmsg(fd, msgs, batch, 0);
        if (r < 0) { if (errno == EINTR) continue; errs++; continue; }
        sent += r; next += r;
        if (rate > 0) {
            double due = (double)sent / rate; // seconds since start when the next batch may go
            clock_gettime(CLOCK_MONOTONIC, &now);
            double elapsed = (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
            if (due > elapsed) {
                struct timespec at = start;
                double s = due;
                at.tv_sec += (time_t)s; at.tv_nsec += (long)((s - (time_t)s) * 1e9);
                if (at.tv_nsec >= 1000000000L) { at.tv_sec++; at.tv_nsec -= 1000000000L; }
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
            }
        }
    }
    fprintf(stderr, "multigen: sent=%llu errs=%llu len=%d batch=%d tunnels=%d\n", sent, errs, len, batch, tunnels);
    return 0;
}

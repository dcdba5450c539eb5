// setgro.c - turns generic receive offload on or off on an interface (ETHTOOL_SGRO), for the data-plane
// benchmark's UDP_GRO run; on veth, GRO on also gives the device a NAPI poll, which UDP GRO needs.
// usage: setgro IFNAME on|off   (in the interface's namespace)
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: setgro IFNAME on|off\n"); return 2; }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ethtool_value value = {.cmd = ETHTOOL_SGRO, .data = strcmp(argv[2], "on") == 0};
    struct ifreq ifr = {0};
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    ifr.ifr_data = (void *)&value;
    if (ioctl(fd, SIOCETHTOOL, &ifr)) { perror("SIOCETHTOOL"); return 1; }
    return 0;
}

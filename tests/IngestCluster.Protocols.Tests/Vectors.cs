using IngestCluster.Protocols.Amt;

namespace IngestCluster.Protocols.Tests;

/// <summary>The valid messages of the real captures, by kind, for tests that derive inputs from them.</summary>
public static class CapturedMessages
{
    private static readonly Lazy<IReadOnlyList<byte[]>> AmtMessages = new(() =>
        PcapNg.ReadIpPackets("amt", "amtrelayd-tunnel-handshake-data-leave.pcap")
            .Where(p => p.Ip[0] >> 4 == 4)
            .Select(p => Udp.Read(p.Ip))
            .Where(u => u is { } x && (x.SourcePort == AmtMessage.RelayPort || x.DestinationPort == AmtMessage.RelayPort))
            .Select(u => u!.Value.Payload)
            .ToList());

    private static readonly Lazy<IReadOnlyList<byte[]>> IgmpPackets = new(() =>
        PcapNg.ReadIpPackets("igmp", "frr-8.4-receiver-side-igmpv3.pcap").Select(p => p.Ip).ToList());

    /// <summary>Every AMT message (UDP payload) of the amtrelayd capture.</summary>
    public static IReadOnlyList<byte[]> Amt => AmtMessages.Value;

    public static IReadOnlyList<byte[]> AmtOfType(AmtMessageType type) => Amt.Where(m => m[0] == (byte)type).ToList();

    /// <summary>The IP datagrams inside the AMT Membership Queries and Updates, and FRR's IGMP packets.</summary>
    public static IReadOnlyList<byte[]> IgmpDatagrams =>
    [
        .. AmtOfType(AmtMessageType.MembershipQuery).Select(m => m[12..]),
        .. AmtOfType(AmtMessageType.MembershipUpdate).Select(m => m[12..]),
        .. IgmpPackets.Value,
    ];

    /// <summary>The IGMP messages of <see cref="IgmpDatagrams"/> (IP header stripped) of one type.</summary>
    public static IReadOnlyList<byte[]> IgmpMessages(byte type) =>
        IgmpDatagrams.Select(d => Pcap.Ipv4Payload(d).Payload).Where(m => m[0] == type).ToList();
}

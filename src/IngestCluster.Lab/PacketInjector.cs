using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Lab;

/// <summary>
/// <c>inject</c>: sends hand-made IPv4 packets (any source address, any protocol, any payload) from a raw
/// socket with IP_HDRINCL, for tests that feed malformed or spoofed input to the node: a PIM message with a bad
/// checksum, AMT garbage that claims to come from the relay, and so on. With <c>--udp-sport</c>/<c>--udp-dport</c>
/// the payload gets a UDP header (with a valid checksum) first.
/// </summary>
internal static class PacketInjector
{
    public const string Usage =
        "usage: IngestCluster.Lab inject --from ADDR --to ADDR (--protocol N | --udp-sport P --udp-dport P) --hex PAYLOAD " +
        "[--interface IF] [--ttl 1] [--tos 0] [--count 1]";

    private static readonly HashSet<string> ValueOptions = ["from", "to", "protocol", "udp-sport", "udp-dport", "hex", "interface", "ttl", "tos", "count"];

    public static int Run(IReadOnlyList<string> args, StatusWriter status)
    {
        var a = LabArguments.Parse(args, ValueOptions, new HashSet<string>());
        var from = a.RequiredAddress("from");
        var to = a.RequiredAddress("to");
        byte[] payload;
        try
        {
            payload = Convert.FromHexString(a.RequiredText("hex"));
        }
        catch (FormatException)
        {
            throw new UsageException("--hex needs an even number of hexadecimal digits");
        }
        bool udp = a.Has("udp-sport") || a.Has("udp-dport");
        int protocol = udp ? 17 : (int)a.Integer("protocol", -1, 0, 255);
        if (protocol < 0)
        {
            throw new UsageException("give --protocol N, or --udp-sport and --udp-dport");
        }
        if (udp)
        {
            payload = WithUdpHeader(from, to, (ushort)a.Integer("udp-sport", 0, 0, 65535), (ushort)a.Integer("udp-dport", 0, 1, 65535), payload);
        }
        var builder = new Ipv4HeaderBuilder
        {
            Tos = (byte)a.Integer("tos", 0, 0, 255),
            Ttl = (byte)a.Integer("ttl", 1, 1, 255),
            Protocol = (byte)protocol,
            Identification = (ushort)Random.Shared.Next(ushort.MaxValue),
            Source = Ipv4Header.FromAddress(from),
            Destination = Ipv4Header.FromAddress(to),
        };
        var packet = new byte[builder.Length + payload.Length];
        builder.Write(packet, payload.Length);
        payload.CopyTo(packet, builder.Length);

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Raw);
        socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.HeaderIncluded, true);
        if (a.Text("interface") is { } iface)
        {
            NetworkInterfaces.BindToDevice(socket, iface);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, IPAddress.HostToNetworkOrder(NetworkInterfaces.IndexOf(iface)));
        }
        long count = a.Integer("count", 1, 1, 1_000_000);
        for (long i = 0; i < count; i++)
        {
            socket.SendTo(packet, new IPEndPoint(to, 0));
        }
        status.Write("injected", json =>
        {
            json.WriteString("from", from.ToString());
            json.WriteString("to", to.ToString());
            json.WriteNumber("protocol", protocol);
            json.WriteNumber("bytes", packet.Length);
            json.WriteNumber("count", count);
        });
        return 0;
    }

    private static byte[] WithUdpHeader(IPAddress from, IPAddress to, ushort sourcePort, ushort destinationPort, byte[] payload)
    {
        var datagram = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(datagram, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(4), (ushort)datagram.Length);
        payload.CopyTo(datagram, 8);
        uint s = Ipv4Header.FromAddress(from), d = Ipv4Header.FromAddress(to);
        uint pseudo = (s >> 16) + (s & 0xFFFF) + (d >> 16) + (d & 0xFFFF) + 17u + (uint)datagram.Length;
        ushort checksum = InternetChecksum.Compute(datagram, pseudo);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(6), checksum == 0 ? (ushort)0xFFFF : checksum);
        return datagram;
    }
}

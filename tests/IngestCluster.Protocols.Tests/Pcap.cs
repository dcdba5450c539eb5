using System.Buffers.Binary;

namespace IngestCluster.Protocols.Tests;

/// <summary>One captured frame: its time and the bytes from the start of the IP header.</summary>
public sealed record PcapPacket(int Index, DateTimeOffset Time, byte[] Ip);

/// <summary>
/// A reader for classic libpcap files (24-byte global header, 16-byte record headers), for the captures in
/// Vectors/. It strips the link layer (Ethernet, Linux cooked v1 or v2, raw IP) and returns IPv4/IPv6 packets.
/// </summary>
public static class Pcap
{
    private const int LinkEthernet = 1;
    private const int LinkRaw = 101;
    private const int LinkLinuxSll = 113;
    private const int LinkLinuxSll2 = 276;

    public static string VectorPath(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "Vectors", .. parts]);

    public static IReadOnlyList<PcapPacket> ReadIpPackets(params string[] vectorPath)
    {
        var file = File.ReadAllBytes(VectorPath(vectorPath));
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(file);
        bool little = magic is 0xA1B2C3D4 or 0xA1B23C4D;
        bool nanos = magic is 0xA1B23C4D or 0x4D3CB2A1;
        if (!little && magic is not (0xD4C3B2A1 or 0x4D3CB2A1))
        {
            throw new InvalidDataException($"not a classic pcap file: magic 0x{magic:x8}");
        }
        uint U32(int at) => little
            ? BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at))
            : BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(at));
        int linkType = (int)(U32(20) & 0xFFFF);

        var packets = new List<PcapPacket>();
        int offset = 24;
        int index = 0;
        while (offset + 16 <= file.Length)
        {
            long seconds = U32(offset);
            long fraction = U32(offset + 4);
            int captured = (int)U32(offset + 8);
            var frame = file.AsSpan(offset + 16, captured);
            offset += 16 + captured;
            var time = DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(nanos ? fraction / 100 : fraction * 10);
            int ipStart = linkType switch
            {
                LinkEthernet => EthernetPayload(frame),
                LinkRaw => 0,
                LinkLinuxSll => 16,
                LinkLinuxSll2 => 20,
                _ => throw new InvalidDataException($"link type {linkType} not handled"),
            };
            if (ipStart >= 0 && ipStart < frame.Length)
            {
                packets.Add(new PcapPacket(index, time, frame[ipStart..].ToArray()));
            }
            index++;
        }
        return packets;
    }

    private static int EthernetPayload(ReadOnlySpan<byte> frame)
    {
        int at = 12;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[at..]);
        while (etherType is 0x8100 or 0x88A8)
        {
            at += 4;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[at..]);
        }
        return etherType is 0x0800 or 0x86DD ? at + 2 : -1;
    }

    /// <summary>The IP protocol number and payload of an IPv4 packet (no option parsing beyond IHL).</summary>
    public static (int Protocol, byte[] Payload) Ipv4Payload(byte[] ip)
    {
        int ihl = (ip[0] & 0x0F) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(2));
        return (ip[9], ip.AsSpan(ihl, Math.Min(total, ip.Length) - ihl).ToArray());
    }
}

/// <summary>Writes classic pcap files (link type raw IPv4/IPv6), for the tshark cross-check.</summary>
public sealed class PcapWriter : IDisposable
{
    private readonly FileStream _stream;

    public PcapWriter(string path)
    {
        _stream = File.Create(path);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 101); // LINKTYPE_RAW
        _stream.Write(header);
    }

    public void Write(ReadOnlySpan<byte> ipPacket)
    {
        Span<byte> record = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)ipPacket.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)ipPacket.Length);
        _stream.Write(record);
        _stream.Write(ipPacket);
    }

    public void Dispose() => _stream.Dispose();
}

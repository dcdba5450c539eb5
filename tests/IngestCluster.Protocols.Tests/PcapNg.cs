using System.Buffers.Binary;

namespace IngestCluster.Protocols.Tests;

/// <summary>
/// A reader for pcapng captures (the files in Vectors/ are pcapng, although named .pcap): section header,
/// interface description (link type, if_tsresol) and enhanced/simple packet blocks. It strips Ethernet, Linux
/// cooked or raw link layers as <see cref="Pcap"/> does, and returns the IPv4/IPv6 packets.
/// <see cref="ReadIpPackets"/> also reads classic pcap, by handing it to <see cref="Pcap"/>.
/// </summary>
public static class PcapNg
{
    private const uint SectionHeaderBlock = 0x0A0D0D0A;
    private const uint InterfaceDescriptionBlock = 1;
    private const uint SimplePacketBlock = 3;
    private const uint EnhancedPacketBlock = 6;
    private const uint ByteOrderMagic = 0x1A2B3C4D;
    private const ushort OptionEndOfOptions = 0;
    private const ushort OptionTimestampResolution = 9;

    private sealed record Interface(int LinkType, long TicksPerUnitNumerator, long UnitsPerSecond);

    public static IReadOnlyList<PcapPacket> ReadIpPackets(params string[] vectorPath)
    {
        var file = File.ReadAllBytes(Pcap.VectorPath(vectorPath));
        if (file.Length < 4 || BinaryPrimitives.ReadUInt32LittleEndian(file) != SectionHeaderBlock)
        {
            return Pcap.ReadIpPackets(vectorPath);
        }
        var packets = new List<PcapPacket>();
        var interfaces = new List<Interface>();
        bool little = true;
        int offset = 0;
        int index = 0;
        while (offset + 12 <= file.Length)
        {
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset));
            if (type == SectionHeaderBlock)
            {
                little = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 8)) == ByteOrderMagic;
                interfaces.Clear();
            }
            uint U32(int at) => little
                ? BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at))
                : BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(at));
            ushort U16(int at) => little
                ? BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(at))
                : BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan(at));
            type = U32(offset);
            int blockLength = (int)U32(offset + 4);
            if (blockLength < 12 || offset + blockLength > file.Length)
            {
                throw new InvalidDataException($"pcapng block at {offset} has length {blockLength}");
            }
            int body = offset + 8;
            switch (type)
            {
                case InterfaceDescriptionBlock:
                {
                    int linkType = U16(body);
                    long unitsPerSecond = 1_000_000;
                    int option = body + 8;
                    while (option + 4 <= offset + blockLength - 4)
                    {
                        ushort code = U16(option);
                        ushort length = U16(option + 2);
                        if (code == OptionEndOfOptions)
                        {
                            break;
                        }
                        if (code == OptionTimestampResolution && length >= 1)
                        {
                            byte resolution = file[option + 4];
                            unitsPerSecond = (resolution & 0x80) == 0
                                ? (long)Math.Pow(10, resolution)
                                : 1L << (resolution & 0x7F);
                        }
                        option += 4 + ((length + 3) & ~3);
                    }
                    interfaces.Add(new Interface(linkType, TimeSpan.TicksPerSecond, unitsPerSecond));
                    break;
                }
                case EnhancedPacketBlock:
                {
                    var iface = interfaces[(int)U32(body)];
                    ulong units = ((ulong)U32(body + 4) << 32) | U32(body + 8);
                    int captured = (int)U32(body + 12);
                    var time = DateTimeOffset.UnixEpoch.AddTicks((long)(units / (ulong)iface.UnitsPerSecond * (ulong)TimeSpan.TicksPerSecond)
                        + (long)(units % (ulong)iface.UnitsPerSecond * (ulong)TimeSpan.TicksPerSecond / (ulong)iface.UnitsPerSecond));
                    Add(packets, index++, time, iface.LinkType, file.AsSpan(body + 20, captured));
                    break;
                }
                case SimplePacketBlock:
                {
                    int captured = Math.Min((int)U32(body), blockLength - 16);
                    Add(packets, index++, DateTimeOffset.UnixEpoch, interfaces[0].LinkType, file.AsSpan(body + 4, captured));
                    break;
                }
            }
            offset += blockLength;
        }
        return packets;
    }

    private static void Add(List<PcapPacket> packets, int index, DateTimeOffset time, int linkType, ReadOnlySpan<byte> frame)
    {
        int ipStart = linkType switch
        {
            1 => EthernetPayload(frame),
            101 => 0,
            113 => 16,
            276 => 20,
            _ => throw new InvalidDataException($"link type {linkType} not handled"),
        };
        if (ipStart >= 0 && ipStart < frame.Length)
        {
            packets.Add(new PcapPacket(index, time, frame[ipStart..].ToArray()));
        }
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
}

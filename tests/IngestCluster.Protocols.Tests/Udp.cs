using System.Buffers.Binary;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Protocols.Tests;

/// <summary>UDP over IPv4, just enough for tests: read a captured datagram, build one for a pcap.</summary>
public static class Udp
{
    public const int HeaderLength = 8;
    public const byte Protocol = 17;

    /// <summary>Ports and payload of a UDP datagram inside a checked IPv4 packet, or null when it is not UDP.</summary>
    public static (ushort SourcePort, ushort DestinationPort, byte[] Payload)? Read(ReadOnlySpan<byte> ipPacket)
    {
        if (!Ipv4Header.TryRead(ipPacket, out var ip, out var error))
        {
            throw new InvalidDataException($"not a valid IPv4 packet: {error}");
        }
        if (ip.Protocol != Protocol)
        {
            return null;
        }
        var udp = ipPacket[ip.HeaderLength..ip.TotalLength];
        int length = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        return (BinaryPrimitives.ReadUInt16BigEndian(udp), BinaryPrimitives.ReadUInt16BigEndian(udp[2..]), udp[HeaderLength..length].ToArray());
    }

    /// <summary>An IPv4 packet (TTL 64) carrying <paramref name="payload"/> in UDP with a correct checksum.</summary>
    public static byte[] Build(uint source, uint destination, ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        var header = new Ipv4HeaderBuilder { Ttl = 64, Protocol = Protocol, Source = source, Destination = destination };
        int udpLength = HeaderLength + payload.Length;
        var packet = new byte[header.Length + udpLength];
        header.Write(packet, udpLength);
        var udp = packet.AsSpan(header.Length);
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        payload.CopyTo(udp[HeaderLength..]);
        // Pseudo-header: source, destination, zero, protocol, UDP length.
        Span<byte> pseudo = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(pseudo, source);
        BinaryPrimitives.WriteUInt32BigEndian(pseudo[4..], destination);
        pseudo[9] = Protocol;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo[10..], (ushort)udpLength);
        ushort checksum = InternetChecksum.Compute(udp, InternetChecksum.Sum(pseudo));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum == 0 ? (ushort)0xFFFF : checksum);
        return packet;
    }
}

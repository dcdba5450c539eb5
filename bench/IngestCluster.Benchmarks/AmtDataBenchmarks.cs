using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Benchmarks;

/// <summary>
/// The tunnel's per-packet work on receipt: check an AMT Multicast Data message carrying IPv4/UDP with a
/// 1,316-byte payload (7 × 188-byte MPEG-TS packets), read and checksum-check the inner IPv4 header, and
/// decrement its TTL in place (RFC 1624 checksum update). Target: ≥ 20 M messages/s per core, 0 B allocated.
/// After each decrement the benchmark puts the original TTL and checksum back (one byte and one 16-bit store),
/// so every iteration does the same work instead of running the TTL down to 1.
/// </summary>
[MemoryDiagnoser]
public class AmtDataBenchmarks
{
    private const int UdpPayloadLength = 1316;
    private byte[] _message = [];
    private byte _ttl;
    private ushort _checksum;

    [GlobalSetup]
    public void Setup()
    {
        var header = new Ipv4HeaderBuilder { Ttl = 64, Protocol = 17, DontFragment = true, Source = 0x0A4E0002, Destination = 0xE8010101 };
        int udpLength = 8 + UdpPayloadLength;
        var datagram = new byte[header.Length + udpLength];
        header.Write(datagram, udpLength);
        var udp = datagram.AsSpan(header.Length);
        BinaryPrimitives.WriteUInt16BigEndian(udp, 50598);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 5001);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        new Random(1316).NextBytes(udp[8..]);
        _message = new byte[AmtMulticastData.HeaderLength + datagram.Length];
        AmtMulticastData.Write(_message, datagram);
        _ttl = datagram[8];
        _checksum = BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(10));
    }

    [Benchmark]
    public int ReceiveMulticastData()
    {
        var message = _message.AsSpan();
        if (!AmtMulticastData.TryRead(message, out _))
        {
            return -1;
        }
        var ip = message[AmtMulticastData.HeaderLength..];
        if (!Ipv4Header.TryRead(ip, out var header, out _) || !Ipv4Header.TryDecrementTtl(ip))
        {
            return -2;
        }
        // Restore (see the class comment).
        ip[8] = _ttl;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], _checksum);
        return header.TotalLength;
    }
}

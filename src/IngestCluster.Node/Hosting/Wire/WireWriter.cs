using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Hosting.Wire;

/// <summary>
/// Writes the compact binary form our serializers put on the wire and in the journal. Every payload starts
/// with a format version byte (<see cref="WireFormat.Version"/>). Integers are unsigned LEB128 varints (signed ones
/// zig-zag encoded), strings are a varint byte count and UTF-8, addresses a length byte (4 or 16) and the address
/// bytes in network order, times Unix milliseconds. docs/wire-format.md describes every message.
/// </summary>
public sealed class WireWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(64);

    public WireWriter() => Byte(WireFormat.Version);

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    public WireWriter Byte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
        return this;
    }

    public WireWriter Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

    public WireWriter UInt(ulong value)
    {
        var span = _buffer.GetSpan(10);
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i++] = (byte)value;
        _buffer.Advance(i);
        return this;
    }

    public WireWriter Int(long value) => UInt((ulong)((value << 1) ^ (value >> 63)));

    public WireWriter String(string value)
    {
        int count = Encoding.UTF8.GetByteCount(value);
        UInt((ulong)count);
        Encoding.UTF8.GetBytes(value, _buffer.GetSpan(count));
        _buffer.Advance(count);
        return this;
    }

    public WireWriter Address(IPAddress address)
    {
        int length = address.AddressFamily == AddressFamily.InterNetworkV6 ? 16 : 4;
        var span = _buffer.GetSpan(length + 1);
        span[0] = (byte)length;
        if (!address.TryWriteBytes(span[1..], out int written) || written != length)
        {
            throw new ArgumentException($"address {address} cannot be written", nameof(address));
        }
        _buffer.Advance(length + 1);
        return this;
    }

    public WireWriter Flow(SourceGroup flow) => Address(flow.Source).Address(flow.Group);

    public WireWriter Time(DateTimeOffset at) => Int(at.ToUnixTimeMilliseconds());

    public WireWriter Duration(TimeSpan span) => Int((long)span.TotalMilliseconds);

    /// <summary>A presence flag, then the value when present.</summary>
    public WireWriter Optional(long? value) => value is { } v ? Bool(true).Int(v) : Bool(false);

    public WireWriter Fixed32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
        return this;
    }

    public WireWriter List<T>(IReadOnlyCollection<T> items, Action<WireWriter, T> write)
    {
        UInt((ulong)items.Count);
        foreach (var item in items)
        {
            write(this, item);
        }
        return this;
    }
}

/// <summary>The version byte every payload begins with. A reader refuses any other.</summary>
public static class WireFormat
{
    public const byte Version = 1;

    /// <summary>Longest list or string a reader accepts: a malformed count must not make us allocate gigabytes.</summary>
    public const int MaxCount = 1 << 20;
}

using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Net;
using System.Runtime.Serialization;
using System.Text;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Hosting.Wire;

/// <summary>
/// Reads what <see cref="WireWriter"/> wrote. Malformed input (truncated, an unknown version, a count beyond
/// <see cref="WireFormat.MaxCount"/>, an address of the wrong length, bytes left over) throws
/// <see cref="SerializationException"/>, which Akka's remoting logs and drops, and the serializer counts.
/// </summary>
public ref struct WireReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _manifest;
    private int _offset;

    public WireReader(ReadOnlySpan<byte> data, string manifest)
    {
        _data = data;
        _manifest = manifest;
        byte version = Byte();
        if (version != WireFormat.Version)
        {
            throw Malformed($"wire format version {version}, this node reads version {WireFormat.Version}");
        }
    }

    public byte Byte()
    {
        if (_offset >= _data.Length)
        {
            throw Malformed("truncated");
        }
        return _data[_offset++];
    }

    public bool Bool() => Byte() switch
    {
        0 => false,
        1 => true,
        var b => throw Malformed($"boolean byte {b}"),
    };

    public ulong UInt()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = Byte();
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
        throw Malformed("varint longer than 10 bytes");
    }

    public long Int()
    {
        ulong raw = UInt();
        return (long)(raw >> 1) ^ -(long)(raw & 1);
    }

    public int Count()
    {
        ulong count = UInt();
        if (count > WireFormat.MaxCount)
        {
            throw Malformed($"count {count} over {WireFormat.MaxCount}");
        }
        return (int)count;
    }

    public string String()
    {
        int count = Count();
        var bytes = Take(count);
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Malformed("a string is not UTF-8");
        }
    }

    public IPAddress Address()
    {
        int length = Byte();
        if (length is not (4 or 16))
        {
            throw Malformed($"address of {length} bytes");
        }
        return new IPAddress(Take(length));
    }

    public SourceGroup Flow() => new(Address(), Address());

    public DateTimeOffset Time()
    {
        long ms = Int();
        try
        {
            return DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw Malformed($"time {ms} ms out of range");
        }
    }

    public TimeSpan Duration() => TimeSpan.FromMilliseconds(Int());

    public uint Fixed32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public TEnum Enum<TEnum>() where TEnum : struct, System.Enum
    {
        ulong raw = UInt();
        var value = (TEnum)System.Enum.ToObject(typeof(TEnum), (long)raw);
        if (!System.Enum.IsDefined(value))
        {
            throw Malformed($"{typeof(TEnum).Name} value {raw}");
        }
        return value;
    }

    public ImmutableArray<IPAddress> Addresses()
    {
        int count = Count();
        var builder = ImmutableArray.CreateBuilder<IPAddress>(count);
        for (int i = 0; i < count; i++)
        {
            builder.Add(Address());
        }
        return builder.MoveToImmutable();
    }

    public ImmutableArray<SourceGroup> Flows()
    {
        int count = Count();
        var builder = ImmutableArray.CreateBuilder<SourceGroup>(count);
        for (int i = 0; i < count; i++)
        {
            builder.Add(Flow());
        }
        return builder.MoveToImmutable();
    }

    public ImmutableArray<string> Strings()
    {
        int count = Count();
        var builder = ImmutableArray.CreateBuilder<string>(count);
        for (int i = 0; i < count; i++)
        {
            builder.Add(String());
        }
        return builder.MoveToImmutable();
    }

    /// <summary>A population (receivers behind a flow): at least 1, at most <see cref="int.MaxValue"/>.</summary>
    public int Population()
    {
        ulong value = UInt();
        return value is 0 or > int.MaxValue ? throw Malformed($"population {value} is not in 1..{int.MaxValue}") : (int)value;
    }

    /// <summary>An unsigned number that fits an int (0 to <see cref="int.MaxValue"/>).</summary>
    public int Int32()
    {
        ulong value = UInt();
        return value > int.MaxValue ? throw Malformed($"{value} is over {int.MaxValue}") : (int)value;
    }

    /// <summary>A value written by <see cref="WireWriter.Optional"/>: null when absent.</summary>
    public long? OptionalInt() => Bool() ? Int() : null;

    /// <summary>Call after the last field: bytes left over mean the writer and reader disagree.</summary>
    public readonly void End()
    {
        if (_offset != _data.Length)
        {
            throw Malformed($"{_data.Length - _offset} byte(s) left over");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _offset)
        {
            throw Malformed("truncated");
        }
        var span = _data.Slice(_offset, count);
        _offset += count;
        return span;
    }

    private readonly SerializationException Malformed(string what) =>
        new($"malformed '{_manifest}' message at byte {_offset}: {what}");
}

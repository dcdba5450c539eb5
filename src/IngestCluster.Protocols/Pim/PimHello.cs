using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace IngestCluster.Protocols.Pim;

/// <summary>The LAN Prune Delay option's value: the T (join suppression off) bit, propagation delay and override
/// interval, both in milliseconds.</summary>
public readonly record struct PimLanPruneDelay(bool TrackingSupport, ushort PropagationDelayMs, ushort OverrideIntervalMs);

/// <summary>
/// A PIM Hello (RFC 7761 §4.9.2): the common header, then options as type (2), length (2), value:
/// <code>
/// |        OptionType             |         OptionLength          |
/// |                          OptionValue ...                      |
/// </code>
/// Known: 1 Holdtime (2 bytes; 0 is goodbye, 0xFFFF never expires), 2 LAN Prune Delay (4), 19 DR Priority (4),
/// 20 Generation ID (4), 24 Address List (Encoded-Unicast addresses). Other options are skipped and listed in
/// <see cref="UnknownOptions"/>.
/// </summary>
public sealed record PimHello
{
    public const ushort OptionHoldtime = 1;
    public const ushort OptionLanPruneDelay = 2;
    public const ushort OptionDrPriority = 19;
    public const ushort OptionGenerationId = 20;
    public const ushort OptionAddressList = 24;
    private const int OptionHeaderLength = 4;

    /// <summary>Seconds; 0 means goodbye.</summary>
    public ushort? HoldtimeSeconds { get; init; }

    public PimLanPruneDelay? LanPruneDelay { get; init; }

    public uint? DrPriority { get; init; }

    public uint? GenerationId { get; init; }

    public IReadOnlyList<IPAddress> AddressList { get; init; } = [];

    /// <summary>Types of the options that were skipped.</summary>
    public IReadOnlyList<ushort> UnknownOptions { get; init; } = [];

    public bool IsGoodbye => HoldtimeSeconds == 0;

    public int Length =>
        PimHeader.Length +
        (HoldtimeSeconds is null ? 0 : OptionHeaderLength + 2) +
        (LanPruneDelay is null ? 0 : OptionHeaderLength + 4) +
        (DrPriority is null ? 0 : OptionHeaderLength + 4) +
        (GenerationId is null ? 0 : OptionHeaderLength + 4) +
        (AddressList.Count == 0 ? 0 : OptionHeaderLength + AddressList.Sum(PimAddressEncoding.UnicastLength));

    /// <summary>Reads a whole PIM Hello message (header included); checks the checksum.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, [NotNullWhen(true)] out PimHello? hello, out ParseError error,
        uint pseudoHeaderSum = 0, bool verifyChecksum = true)
    {
        hello = null;
        if (!PimHeader.TryRead(message, out var header, out error, pseudoHeaderSum, verifyChecksum))
        {
            return false;
        }
        if (header.Type != PimMessageType.Hello)
        {
            error = ParseError.BadValue(0, "PIM type {0} is not a Hello (0)", (long)header.Type);
            return false;
        }

        ushort? holdtime = null;
        PimLanPruneDelay? lanPruneDelay = null;
        uint? drPriority = null;
        uint? generationId = null;
        var addresses = new List<IPAddress>();
        var unknown = new List<ushort>();
        int offset = PimHeader.Length;
        while (offset < message.Length)
        {
            if (message.Length - offset < OptionHeaderLength)
            {
                error = ParseError.Truncated(offset, "Hello option header needs {0} bytes but {1} remain", OptionHeaderLength, message.Length - offset);
                return false;
            }
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            ushort length = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]);
            int valueAt = offset + OptionHeaderLength;
            if (message.Length - valueAt < length)
            {
                error = ParseError.LengthMismatch(offset + 2, "Hello option {0} claims {1} bytes but {2} remain", type, length, message.Length - valueAt);
                return false;
            }
            var value = message.Slice(valueAt, length);
            switch (type)
            {
                case OptionHoldtime:
                    if (!Expect(value, 2, type, offset, out error))
                    {
                        return false;
                    }
                    holdtime = BinaryPrimitives.ReadUInt16BigEndian(value);
                    break;
                case OptionLanPruneDelay:
                    if (!Expect(value, 4, type, offset, out error))
                    {
                        return false;
                    }
                    ushort first = BinaryPrimitives.ReadUInt16BigEndian(value);
                    lanPruneDelay = new PimLanPruneDelay((first & 0x8000) != 0, (ushort)(first & 0x7FFF), BinaryPrimitives.ReadUInt16BigEndian(value[2..]));
                    break;
                case OptionDrPriority:
                    if (!Expect(value, 4, type, offset, out error))
                    {
                        return false;
                    }
                    drPriority = BinaryPrimitives.ReadUInt32BigEndian(value);
                    break;
                case OptionGenerationId:
                    if (!Expect(value, 4, type, offset, out error))
                    {
                        return false;
                    }
                    generationId = BinaryPrimitives.ReadUInt32BigEndian(value);
                    break;
                case OptionAddressList:
                    for (int at = 0; at < value.Length;)
                    {
                        if (!PimAddressEncoding.TryReadUnicast(value, at, out var address, out int used, out error))
                        {
                            error = error.Shift(valueAt);
                            return false;
                        }
                        addresses.Add(address);
                        at += used;
                    }
                    break;
                default:
                    unknown.Add(type);
                    break;
            }
            offset = valueAt + length;
        }
        hello = new PimHello
        {
            HoldtimeSeconds = holdtime,
            LanPruneDelay = lanPruneDelay,
            DrPriority = drPriority,
            GenerationId = generationId,
            AddressList = addresses,
            UnknownOptions = unknown,
        };
        error = default;
        return true;
    }

    /// <summary>Writes the whole message, options in type order, with its checksum.</summary>
    public int Write(Span<byte> destination, uint pseudoHeaderSum = 0)
    {
        int length = Length;
        if (destination.Length < length)
        {
            throw new ArgumentException($"a Hello of {length} bytes does not fit in {destination.Length}", nameof(destination));
        }
        PimHeader.Write(destination, PimMessageType.Hello);
        int offset = PimHeader.Length;
        if (HoldtimeSeconds is { } holdtime)
        {
            offset = WriteOptionHeader(destination, offset, OptionHoldtime, 2);
            BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], holdtime);
            offset += 2;
        }
        if (LanPruneDelay is { } delay)
        {
            if (delay.PropagationDelayMs > 0x7FFF)
            {
                throw new ArgumentException("the propagation delay has 15 bits", nameof(LanPruneDelay));
            }
            offset = WriteOptionHeader(destination, offset, OptionLanPruneDelay, 4);
            BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], (ushort)((delay.TrackingSupport ? 0x8000 : 0) | delay.PropagationDelayMs));
            BinaryPrimitives.WriteUInt16BigEndian(destination[(offset + 2)..], delay.OverrideIntervalMs);
            offset += 4;
        }
        if (DrPriority is { } priority)
        {
            offset = WriteOptionHeader(destination, offset, OptionDrPriority, 4);
            BinaryPrimitives.WriteUInt32BigEndian(destination[offset..], priority);
            offset += 4;
        }
        if (GenerationId is { } generation)
        {
            offset = WriteOptionHeader(destination, offset, OptionGenerationId, 4);
            BinaryPrimitives.WriteUInt32BigEndian(destination[offset..], generation);
            offset += 4;
        }
        if (AddressList.Count > 0)
        {
            offset = WriteOptionHeader(destination, offset, OptionAddressList, (ushort)AddressList.Sum(PimAddressEncoding.UnicastLength));
            foreach (var address in AddressList)
            {
                offset += PimAddressEncoding.WriteUnicast(destination[offset..], address);
            }
        }
        PimHeader.FillChecksum(destination[..length], pseudoHeaderSum);
        return length;
    }

    private static int WriteOptionHeader(Span<byte> destination, int offset, ushort type, ushort length)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], type);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(offset + 2)..], length);
        return offset + OptionHeaderLength;
    }

    private static bool Expect(ReadOnlySpan<byte> value, int length, ushort type, int offset, out ParseError error)
    {
        if (value.Length != length)
        {
            error = ParseError.LengthMismatch(offset + 2, "Hello option {0} must be {1} bytes long, not {2}", type, length, value.Length);
            return false;
        }
        error = default;
        return true;
    }

    public bool Equals(PimHello? other) =>
        other is not null && HoldtimeSeconds == other.HoldtimeSeconds && LanPruneDelay == other.LanPruneDelay &&
        DrPriority == other.DrPriority && GenerationId == other.GenerationId &&
        AddressList.SequenceEqual(other.AddressList) && UnknownOptions.SequenceEqual(other.UnknownOptions);

    public override int GetHashCode() => HashCode.Combine(HoldtimeSeconds, DrPriority, GenerationId, AddressList.Count);
}

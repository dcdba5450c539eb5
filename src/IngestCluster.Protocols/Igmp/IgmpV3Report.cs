using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace IngestCluster.Protocols.Igmp;

/// <summary>
/// An IGMPv3 Membership Report (type 0x22, RFC 3376 §4.2): the IGMP message only (see
/// <see cref="IgmpV3Datagram"/> for it inside its IP header). Records of unknown types are skipped on reading,
/// as RFC 3376 §4.2.12 asks. Equality compares the records by content.
/// </summary>
public sealed record IgmpV3Report(IReadOnlyList<IgmpV3GroupRecord> Records)
{
    public const byte MessageType = 0x22;

    private const int TypeOffset = 0;
    private const int ChecksumOffset = 2;
    private const int RecordCountOffset = 6;
    private const int RecordsOffset = 8;

    // Within a group record.
    private const int RecordTypeOffset = 0;
    private const int AuxLengthOffset = 1;
    private const int SourceCountOffset = 2;
    private const int GroupOffset = 4;

    public int Length
    {
        get
        {
            int length = RecordsOffset;
            foreach (var record in Records)
            {
                length += record.Length;
            }
            return length;
        }
    }

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  Type = 0x22  |    Reserved   |           Checksum            |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |           Reserved            |  Number of Group Records (M)  |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  Group Record [1] .. [M]:                                     |
    // |  | Record Type | Aux Data Len (32-bit words) | Number of Sources (N) |
    // |  | Multicast Address | Source Address [1..N] | Auxiliary Data |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// <summary>Reads a report; the checksum covers all of <paramref name="message"/> (the IP payload).</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, [NotNullWhen(true)] out IgmpV3Report? report, out ParseError error)
    {
        report = null;
        if (message.Length < RecordsOffset)
        {
            error = ParseError.Truncated(message.Length, "IGMPv3 report needs {0} bytes but only {1} are there", RecordsOffset, message.Length);
            return false;
        }
        if (message[TypeOffset] != MessageType)
        {
            error = ParseError.BadValue(TypeOffset, "IGMP type is 0x{0:x2}, not a v3 report (0x22)", message[TypeOffset]);
            return false;
        }
        if (!InternetChecksum.Verify(message))
        {
            error = ParseError.BadChecksum(ChecksumOffset, "IGMP checksum 0x{0:x4} does not verify over {1} bytes",
                BinaryPrimitives.ReadUInt16BigEndian(message[ChecksumOffset..]), message.Length);
            return false;
        }
        int count = BinaryPrimitives.ReadUInt16BigEndian(message[RecordCountOffset..]);
        // Each record takes at least 8 bytes: bound the list before allocating it.
        if (count > (message.Length - RecordsOffset) / IgmpV3GroupRecord.FixedLength)
        {
            error = ParseError.LengthMismatch(RecordCountOffset, "IGMPv3 report claims {0} group records but only {1} bytes follow", count, message.Length - RecordsOffset);
            return false;
        }
        var records = new List<IgmpV3GroupRecord>(count);
        int at = RecordsOffset;
        for (int i = 0; i < count; i++)
        {
            if (message.Length - at < IgmpV3GroupRecord.FixedLength)
            {
                error = ParseError.Truncated(at, "IGMPv3 group record {0} needs 8 bytes but {1} remain", i, message.Length - at);
                return false;
            }
            var r = message[at..];
            int sources = BinaryPrimitives.ReadUInt16BigEndian(r[SourceCountOffset..]);
            int auxLength = r[AuxLengthOffset] * 4;
            int recordLength = IgmpV3GroupRecord.FixedLength + (sources * IgmpWire.AddressLength) + auxLength;
            if (recordLength > r.Length)
            {
                error = ParseError.LengthMismatch(at + SourceCountOffset, "IGMPv3 group record {0} claims {1} sources and aux data, {2} bytes, beyond the message",
                    i, sources, recordLength);
                return false;
            }
            byte type = r[RecordTypeOffset];
            if (type is >= (byte)IgmpRecordType.ModeIsInclude and <= (byte)IgmpRecordType.BlockOldSources)
            {
                int sourcesEnd = IgmpV3GroupRecord.FixedLength + (sources * IgmpWire.AddressLength);
                records.Add(new IgmpV3GroupRecord(
                    (IgmpRecordType)type,
                    new IPAddress(r.Slice(GroupOffset, IgmpWire.AddressLength)),
                    IgmpWire.ReadAddresses(r[IgmpV3GroupRecord.FixedLength..], sources))
                {
                    AuxiliaryData = auxLength == 0 ? ReadOnlyMemory<byte>.Empty : r.Slice(sourcesEnd, auxLength).ToArray(),
                });
            }
            at += recordLength;
        }
        report = new IgmpV3Report(records);
        error = default;
        return true;
    }

    /// <summary>Writes the report with its checksum.</summary>
    public int Write(Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(Records);
        if (Records.Count > ushort.MaxValue)
        {
            throw new ArgumentException($"{Records.Count} group records do not fit a 16-bit count", nameof(Records));
        }
        foreach (var record in Records)
        {
            ArgumentNullException.ThrowIfNull(record, nameof(Records));
            if (record.Type is < IgmpRecordType.ModeIsInclude or > IgmpRecordType.BlockOldSources)
            {
                throw new ArgumentException($"record type {(int)record.Type} is not one of 1 to 6", nameof(Records));
            }
            IgmpWire.CheckIpv4(record.Group, nameof(Records));
            if (record.Sources.Count > ushort.MaxValue)
            {
                throw new ArgumentException($"{record.Sources.Count} sources do not fit a 16-bit count", nameof(Records));
            }
            foreach (var source in record.Sources)
            {
                IgmpWire.CheckIpv4(source, nameof(Records));
            }
            if (record.AuxiliaryData.Length % 4 != 0 || record.AuxiliaryData.Length > 255 * 4)
            {
                throw new ArgumentException($"auxiliary data of {record.AuxiliaryData.Length} bytes is not a whole number of 32-bit words up to 255", nameof(Records));
            }
        }
        int length = Length;
        if (destination.Length < length)
        {
            throw new ArgumentException($"the IGMPv3 report needs {length} bytes, the destination has {destination.Length}", nameof(destination));
        }
        var m = destination[..length];
        m[TypeOffset] = MessageType;
        m[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(m[ChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(m[4..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(m[RecordCountOffset..], (ushort)Records.Count);
        int at = RecordsOffset;
        foreach (var record in Records)
        {
            var r = m[at..];
            r[RecordTypeOffset] = (byte)record.Type;
            r[AuxLengthOffset] = (byte)(record.AuxiliaryData.Length / 4);
            BinaryPrimitives.WriteUInt16BigEndian(r[SourceCountOffset..], (ushort)record.Sources.Count);
            IgmpWire.WriteAddress(r[GroupOffset..], record.Group);
            int s = IgmpV3GroupRecord.FixedLength;
            foreach (var source in record.Sources)
            {
                IgmpWire.WriteAddress(r[s..], source);
                s += IgmpWire.AddressLength;
            }
            record.AuxiliaryData.Span.CopyTo(r[s..]);
            at += record.Length;
        }
        BinaryPrimitives.WriteUInt16BigEndian(m[ChecksumOffset..], InternetChecksum.Compute(m));
        return length;
    }

    public bool Equals(IgmpV3Report? other)
    {
        if (other is null || Records.Count != other.Records.Count)
        {
            return false;
        }
        for (int i = 0; i < Records.Count; i++)
        {
            if (!Records[i].Equals(other.Records[i]))
            {
                return false;
            }
        }
        return true;
    }

    public override int GetHashCode() => IgmpWire.HashOf(Records);

    public override string ToString() => $"IGMPv3 report [{string.Join("; ", Records)}]";
}

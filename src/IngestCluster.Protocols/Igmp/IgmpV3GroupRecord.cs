using System.Net;

namespace IngestCluster.Protocols.Igmp;

/// <summary>
/// One group record of an IGMPv3 report (RFC 3376 §4.2.4). Equality compares the sources and the auxiliary data
/// by content. <see cref="AuxiliaryData"/> is kept as read (its length is a multiple of 4 bytes).
/// </summary>
public sealed record IgmpV3GroupRecord(IgmpRecordType Type, IPAddress Group, IReadOnlyList<IPAddress> Sources)
{
    internal const int FixedLength = 8;

    /// <summary>Auxiliary data (RFC 3376 §4.2.6); empty in every IGMPv3 implementation we know.</summary>
    public ReadOnlyMemory<byte> AuxiliaryData { get; init; }

    public int Length => FixedLength + AuxiliaryData.Length + (Sources.Count * IgmpWire.AddressLength);

    public bool Equals(IgmpV3GroupRecord? other) =>
        other is not null && Type == other.Type && Group.Equals(other.Group) &&
        IgmpWire.SequenceEqual(Sources, other.Sources) && AuxiliaryData.Span.SequenceEqual(other.AuxiliaryData.Span);

    public override int GetHashCode() => HashCode.Combine(Type, Group, IgmpWire.HashOf(Sources), AuxiliaryData.Length);

    public override string ToString() => $"{Type} {Group} {{{string.Join(", ", Sources)}}}";
}

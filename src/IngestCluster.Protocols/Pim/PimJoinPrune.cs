using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace IngestCluster.Protocols.Pim;

/// <summary>One group of a Join/Prune: the sources to join and to prune.</summary>
public sealed record PimJoinPruneGroup(PimEncodedGroup Group, IReadOnlyList<PimEncodedSource> Joined, IReadOnlyList<PimEncodedSource> Pruned)
{
    public int Length => Group.Length + 4 + Joined.Sum(s => s.Length) + Pruned.Sum(s => s.Length);

    public bool Equals(PimJoinPruneGroup? other) =>
        other is not null && Group == other.Group && Joined.SequenceEqual(other.Joined) && Pruned.SequenceEqual(other.Pruned);

    public override int GetHashCode() => HashCode.Combine(Group, Joined.Count, Pruned.Count);
}

/// <summary>
/// A PIM Join/Prune (RFC 7761 §4.9.5):
/// <code>
/// |PIM Ver| Type  |   Reserved    |           Checksum            |
/// |        Upstream Neighbor Address (Encoded-Unicast format)     |
/// |  Reserved     | Num groups    |          Holdtime             |
/// |         Multicast Group Address 1 (Encoded-Group format)      |
/// |   Number of Joined Sources    |   Number of Pruned Sources    |
/// |        Joined Source Address 1 (Encoded-Source format)        | ...
/// |        Pruned Source Address 1 (Encoded-Source format)        | ...
/// |         Multicast Group Address m ...                         |
/// </code>
/// </summary>
public sealed record PimJoinPrune(IPAddress UpstreamNeighbor, ushort HoldtimeSeconds, IReadOnlyList<PimJoinPruneGroup> Groups)
{
    public int Length => PimHeader.Length + PimAddressEncoding.UnicastLength(UpstreamNeighbor) + 4 + Groups.Sum(g => g.Length);

    /// <summary>Reads a whole PIM Join/Prune message (header included); checks the checksum.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, [NotNullWhen(true)] out PimJoinPrune? joinPrune, out ParseError error,
        uint pseudoHeaderSum = 0, bool verifyChecksum = true)
    {
        joinPrune = null;
        if (!PimHeader.TryRead(message, out var header, out error, pseudoHeaderSum, verifyChecksum))
        {
            return false;
        }
        if (header.Type != PimMessageType.JoinPrune)
        {
            error = ParseError.BadValue(0, "PIM type {0} is not a Join/Prune (3)", (long)header.Type);
            return false;
        }
        int offset = PimHeader.Length;
        if (!PimAddressEncoding.TryReadUnicast(message, offset, out var upstream, out int used, out error))
        {
            return false;
        }
        offset += used;
        if (message.Length - offset < 4)
        {
            error = ParseError.Truncated(offset, "Join/Prune needs {0} bytes for groups and holdtime but {1} remain", 4, message.Length - offset);
            return false;
        }
        int groupCount = message[offset + 1];
        ushort holdtime = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]);
        offset += 4;

        var groups = new List<PimJoinPruneGroup>(Math.Min(groupCount, 64));
        for (int g = 1; g <= groupCount; g++)
        {
            if (offset >= message.Length)
            {
                error = ParseError.Truncated(offset, "Join/Prune claims {0} groups but ends after {1}", groupCount, g - 1);
                return false;
            }
            if (!PimAddressEncoding.TryReadGroup(message, offset, out var group, out used, out error))
            {
                return false;
            }
            offset += used;
            if (message.Length - offset < 4)
            {
                error = ParseError.Truncated(offset, "Join/Prune group {0} needs {1} bytes for its source counts but {2} remain", g, 4, message.Length - offset);
                return false;
            }
            int joinedCount = BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            int prunedCount = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]);
            int countsAt = offset;
            offset += 4;
            // Every Encoded-Source is at least 8 bytes: refuse counts that cannot fit before allocating for them.
            int remaining = message.Length - offset;
            if ((long)(joinedCount + prunedCount) * 8 > remaining)
            {
                error = ParseError.LengthMismatch(countsAt, "Join/Prune group {0} claims {1} sources but {2} bytes remain",
                    g, joinedCount + prunedCount, remaining);
                return false;
            }
            var joined = new List<PimEncodedSource>(joinedCount);
            var pruned = new List<PimEncodedSource>(prunedCount);
            for (int s = 0; s < joinedCount + prunedCount; s++)
            {
                if (!PimAddressEncoding.TryReadSource(message, offset, out var source, out used, out error))
                {
                    return false;
                }
                (s < joinedCount ? joined : pruned).Add(source);
                offset += used;
            }
            groups.Add(new PimJoinPruneGroup(group, joined, pruned));
        }
        if (offset != message.Length)
        {
            error = ParseError.LengthMismatch(offset, "Join/Prune has {0} bytes after its {1} groups", message.Length - offset, groupCount);
            return false;
        }
        joinPrune = new PimJoinPrune(upstream, holdtime, groups);
        error = default;
        return true;
    }

    /// <summary>Writes the whole message with its checksum.</summary>
    public int Write(Span<byte> destination, uint pseudoHeaderSum = 0)
    {
        if (Groups.Count > byte.MaxValue)
        {
            throw new ArgumentException($"a Join/Prune carries at most 255 groups, not {Groups.Count}", nameof(Groups));
        }
        int length = Length;
        if (destination.Length < length)
        {
            throw new ArgumentException($"a Join/Prune of {length} bytes does not fit in {destination.Length}", nameof(destination));
        }
        PimHeader.Write(destination, PimMessageType.JoinPrune);
        int offset = PimHeader.Length;
        offset += PimAddressEncoding.WriteUnicast(destination[offset..], UpstreamNeighbor);
        destination[offset] = 0;
        destination[offset + 1] = (byte)Groups.Count;
        BinaryPrimitives.WriteUInt16BigEndian(destination[(offset + 2)..], HoldtimeSeconds);
        offset += 4;
        foreach (var group in Groups)
        {
            if (group.Joined.Count > ushort.MaxValue || group.Pruned.Count > ushort.MaxValue)
            {
                throw new ArgumentException("a group carries at most 65535 joined and 65535 pruned sources", nameof(Groups));
            }
            offset += PimAddressEncoding.WriteGroup(destination[offset..], group.Group);
            BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], (ushort)group.Joined.Count);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(offset + 2)..], (ushort)group.Pruned.Count);
            offset += 4;
            foreach (var source in group.Joined.Concat(group.Pruned))
            {
                offset += PimAddressEncoding.WriteSource(destination[offset..], source);
            }
        }
        PimHeader.FillChecksum(destination[..length], pseudoHeaderSum);
        return length;
    }

    public bool Equals(PimJoinPrune? other) =>
        other is not null && UpstreamNeighbor.Equals(other.UpstreamNeighbor) && HoldtimeSeconds == other.HoldtimeSeconds &&
        Groups.SequenceEqual(other.Groups);

    public override int GetHashCode() => HashCode.Combine(UpstreamNeighbor, HoldtimeSeconds, Groups.Count);
}
